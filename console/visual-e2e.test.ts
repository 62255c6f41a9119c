// Issue 19's pictures and USB-key login in a real browser: a task's runs over time on its details
// and history screens (Chart.js, with the figures in a table under it), and logging in with a
// SoftHSM2 USB key through the signing helper with only the PIN typed, the key enrolled from the
// console. One `cairn serve` on 127.0.0.1, Debian's Chromium through playwright-core.
// test-suite: browser
import test, { after, before } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { answered, apiAs, buildConsole, cspViolations, launchBrowser, login, newPage, serve, shoot, until, type Api, type Served } from './testing/e2e-harness.ts'

const PW = 'visual e2e head passphrase'
let dir = ''
let served: Served | undefined
let base = ''
let admin: Api
let browser: Browser
const task = { id: '', runs: [] as any[] }

before(async () => {
  await buildConsole()
  dir = await mkdtemp(join(tmpdir(), 'cairn-console-visual-e2e-'))
  served = await serve(join(dir, 'node'), PW)
  base = served.base
  admin = await apiAs(base, 'admin', PW)
  browser = await launchBrowser()
})

after(async () => {
  await browser?.close()
  await served?.stop()
  if (dir !== '') await rm(dir, { recursive: true, force: true })
})

/** The figures table's rows: name, started, duration, read, stored, status. */
const figures = async (page: Page): Promise<string[][]> => await page.$$eval('[data-test=runs-figures] tbody tr', rows => rows.map(r => [...r.querySelectorAll('td')].map(td => td.textContent ?? '')))
/** How many pixels of the chart's canvas something was drawn on. */
const painted = async (page: Page): Promise<number> => await page.$eval('[data-test=runs-chart] canvas', c => {
  const canvas = c as HTMLCanvasElement
  const px = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data
  let n = 0
  for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) n++
  return n
})

test('a task\'s runs over time: duration, bytes read and bytes stored per run, on its details and its history, in English and Chinese', async () => {
  const src = join(dir, 'src')
  await mkdir(src)
  const nodeId = (await admin('GET', '/api/nodes')).find((n: any) => n.local).id
  const adminId = (await admin('GET', '/api/users')).find((u: any) => u.name === 'admin').id
  const space = await admin('POST', '/api/spaces', { name: 'ledgers', type: 'backup', nodeId, ownerId: adminId, capacityBytes: 2 ** 30 })
  task.id = (await admin('POST', '/api/tasks', { name: 'ledgers-nightly', nodeId, spaceId: space.id, sources: { include: [src] } })).id

  // Three runs, each with more new data than the one before: the stored bars grow.
  for (const [i, kib] of [64, 256, 768].entries()) {
    await writeFile(join(src, `day-${i}.bin`), randomBytes(kib * 1024))
    const started = await admin('POST', `/api/tasks/${task.id}/start`, {})
    const job = await until(`run ${i} ends`, async () => await admin('GET', `/api/jobs/${started.id}`), j => j.status !== 'running', 30)
    assert.equal(job.status, 'success', JSON.stringify(job))
    task.runs.push(job)
  }
  const stored = task.runs.map(j => j.result.bytesStored as number)
  assert.ok(stored[0] < stored[1] && stored[1] < stored[2], `stored grows: ${stored.join(' < ')}`)

  const page = await newPage(browser)
  await login(page, base, 'admin', PW)
  await answered(page, 'GET', /^\/api\/jobs$/, async () => await page.goto(`${base}/#/tasks/${task.id}`))
  await page.waitForSelector('[data-test=runs-chart] canvas')
  const rows = await figures(page)
  // Oldest first, as the chart's x axis runs; the bytes are the jobs' own.
  assert.deepEqual(rows.map(r => r[0]), task.runs.map(j => j.name))
  const { bytes } = await import('./src/format.ts')
  assert.deepEqual(rows.map(r => [r[3], r[4]]), task.runs.map(j => [bytes(j.result.bytesRead), bytes(j.result.bytesStored)]))
  assert.deepEqual(rows.map(r => r[5]), ['success', 'success', 'success'])
  assert.ok(await painted(page) > 2000, 'the chart is drawn')
  await shoot(page, 'task-runs-chart-en.png')
  await page.context().close()

  // The task's history in Chinese starts with the same chart.
  const zh = await newPage(browser, 'zh-CN')
  await login(zh, base, 'admin', PW)
  await zh.goto(`${base}/#/history?taskId=${task.id}`)
  await zh.waitForSelector('[data-test=runs-chart] canvas')
  assert.equal((await figures(zh)).length, 3)
  assert.match(await zh.$eval('[data-test=runs-figures] thead', el => el.textContent ?? ''), /^作业开始时间耗时读取存储状态$/)
  assert.ok(await painted(zh) > 2000)
  await shoot(zh, 'history-runs-chart-zh-CN.png')
  // The whole history (no task chosen) has no chart: the runs of many tasks do not make one line.
  await zh.click('[data-test=nav-history]')
  await zh.waitForURL(/#\/history$/)
  await zh.waitForSelector('[data-test=runs-chart]', { state: 'detached' })
  await zh.context().close()
  assert.deepEqual(cspViolations, [])
})
