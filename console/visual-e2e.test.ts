// Issue 19's pictures and USB-key login in a real browser: a task's runs over time on its details
// and history screens (Chart.js, with the figures in a table under it), and logging in with a
// SoftHSM2 USB key through the signing helper with only the PIN typed, the key enrolled from the
// console. One `cairn serve` on 127.0.0.1, Debian's Chromium through playwright-core.
// test-suite: browser
import test, { after, before } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { answered, apiAs, buildConsole, confirmPassword, cspViolations, launchBrowser, login, newPage, root, serve, shoot, until, type Api, type Served } from './testing/e2e-harness.ts'

const PW = 'visual e2e head passphrase'
let dir = ''
let served: Served | undefined
let base = ''
let admin: Api
let browser: Browser
const task = { id: '', runs: [] as any[] }
const OP_PW = 'key operator password 1'
interface Hsm { dir: string, modulePath: string, env: Record<string, string>, tokenLabel: string, pin: string, ec: { certificatePem: string }, rsa: { certificatePem: string } }
let hsm: Hsm | undefined
let helper: ChildProcess | undefined
let helperUrl = ''

before(async () => {
  await buildConsole()
  dir = await mkdtemp(join(tmpdir(), 'cairn-console-visual-e2e-'))
  served = await serve(join(dir, 'node'), PW)
  base = served.base
  admin = await apiAs(base, 'admin', PW)
  browser = await launchBrowser()
})

after(async () => {
  if (helper !== undefined && helper.exitCode === null) {
    const exited = new Promise(resolve => helper!.once('exit', resolve))
    helper.kill('SIGTERM')
    await exited
  }
  if (hsm !== undefined) await rm(hsm.dir, { recursive: true, force: true })
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

/**
 * A SoftHSM2 token in a new temp folder (the caller deletes it): the fixture's script mode makes it
 * with the standard tools. A test entry of its own: it is test equipment, not Cairn (and console/
 * may not import crypto/).
 */
function makeToken (): Hsm {
  const made = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'crypto', 'testing', 'softhsm.ts')], { cwd: root, encoding: 'utf8' })
  assert.equal(made.status, 0, made.stderr)
  return JSON.parse(made.stdout) as Hsm
}

/** A SoftHSM2 token with an EC and an RSA key, each with its certificate, and `cairn token helper` for this console. */
async function plugInKey (): Promise<void> {
  hsm = makeToken()
  helper = spawn(process.execPath, [join(root, 'node', 'bin', 'cairn.js'), 'token', 'helper', '--console-origin', base, '--port', '0', '--pkcs11-module', hsm.modulePath], {
    cwd: root, env: { ...process.env, ...hsm.env }, stdio: ['ignore', 'pipe', 'pipe']
  })
  helperUrl = await new Promise<string>((resolve, reject) => {
    let out = ''
    helper!.stdout!.on('data', (b: Buffer) => { out += b.toString(); const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out); if (m !== null) resolve(m[1]) })
    helper!.on('exit', code => reject(new Error(`signing helper exited ${code}: ${out}`)))
  })
}

/** A browser on this computer whose signing helper listens on the test's port (a real one listens on 47127, the console's default). */
async function browserWithHelper (lang: 'zh-CN' | 'en'): Promise<Page> {
  const page = await newPage(browser, lang)
  await page.context().addInitScript(url => localStorage.setItem('cairn.signingHelper', url), helperUrl)
  return page
}

/** The inputs of the token step a person can see. */
const visibleInputs = async (page: Page): Promise<string[]> => await page.$$eval('[data-test=token-step] input', els => els.filter(e => e.checkVisibility()).map(e => e.id))

test('USB key: the admin enrols it from the console with the operator\'s PIN; the operator logs in typing only the PIN (SoftHSM2, zh-CN and en)', async () => {
  await plugInKey()
  const keyop1 = await admin('POST', '/api/users', { name: 'keyop1', password: OP_PW, role: 'operator' })
  const keyop2 = await admin('POST', '/api/users', { name: 'keyop2', password: OP_PW, role: 'operator' })

  // The admin starts the enrolment; the operator picks the EC key of the two and types the PIN, wrong first.
  const page = await browserWithHelper('en')
  await login(page, base, 'admin', PW)
  await page.click('[data-test=nav-users]')
  await page.click('[data-test=enrol-keyop1]')
  await page.waitForSelector('[data-test=enrol-form] [data-key=operator-rsa]')
  assert.deepEqual(await page.$$eval('[data-test=enrol-form] [data-key]', els => els.map(e => e.getAttribute('data-key'))), ['operator-ec', 'operator-rsa'])
  await page.check('[data-test=enrol-form] [data-key=operator-ec] input')
  await page.fill('[data-test=enrol-pin]', '999999')
  await page.click('[data-test=enrol-sign]')
  assert.match(await (await page.waitForSelector('[data-test=enrol-error]')).innerText(), /The PIN of USB key .* is wrong/)
  assert.equal((await admin('GET', `/api/users/${keyop1.id}`)).tokenEnrolled, false)
  await page.fill('[data-test=enrol-pin]', hsm!.pin)
  await shoot(page, 'users-enrol-key.png', 'dialog')
  await page.click('[data-test=enrol-sign]')
  // The key signed; the admin's password enrols it.
  await confirmPassword(page, PW)
  await page.waitForSelector('[data-test=enrol-form]', { state: 'detached' })
  assert.equal((await admin('GET', `/api/users/${keyop1.id}`)).tokenEnrolled, true)
  const audit = await admin('GET', '/api/audit?from=1&limit=500')
  assert.ok(audit.some((a: any) => a.action === 'user.token.enrol' && a.target === keyop1.id && a.detail?.signedByKey === true), 'enrolled with the key\'s signature')
  // keyop2's RSA key the scripts' way: the certificate file from `cairn token enroll`, pasted.
  await page.click('[data-test=enrol-keyop2]')
  // The helper sees keys here, so the paste form is folded away.
  await page.click('[data-test=enrol-paste] summary')
  await page.fill('[data-test=certificate]', hsm!.rsa.certificatePem)
  await page.click('[data-test=enrol-save]')
  await confirmPassword(page, PW)
  await page.waitForSelector('[data-test=enrol-form]', { state: 'detached' })
  assert.equal((await admin('GET', `/api/users/${keyop2.id}`)).tokenEnrolled, true)
  await page.context().close()

  // keyop1 in Chinese: the password, then the console finds the enrolled key and asks only for its PIN.
  const zh = await browserWithHelper('zh-CN')
  await zh.goto(`${base}/#/login`)
  await zh.fill('#login-user', 'keyop1')
  await zh.fill('#login-password', OP_PW)
  await zh.click('[data-test=login-submit]')
  const found = await (await zh.waitForSelector('[data-test=token-found]')).innerText()
  assert.match(found, new RegExp(`^已找到 USB Key：${hsm!.tokenLabel} 上的 operator-ec。请输入 PIN 码。`))
  assert.deepEqual(await visibleInputs(zh), ['token-pin'])
  assert.equal(await zh.evaluate(() => document.activeElement?.id), 'token-pin', 'the PIN field has the focus')
  await zh.fill('#token-pin', '999999')
  await zh.click('[data-test=token-submit]')
  assert.match(await (await zh.waitForSelector('[data-test=login-error]')).innerText(), /PIN 错误/)
  await shoot(zh, 'login-token-wrong-pin.png')
  await zh.fill('#token-pin', hsm!.pin)
  await zh.click('[data-test=token-submit]')
  assert.match(await (await zh.waitForSelector('[data-test=whoami]')).innerText(), /keyop1/)
  await zh.context().close()

  // keyop2 in English: of the two keys on the token, the console picks the RSA one enrolled for keyop2.
  const en = await browserWithHelper('en')
  await en.goto(`${base}/#/login`)
  await en.fill('#login-user', 'keyop2')
  await en.fill('#login-password', OP_PW)
  await en.click('[data-test=login-submit]')
  assert.match(await (await en.waitForSelector('[data-test=token-found]')).innerText(), /^USB key found: operator-rsa on /)
  assert.deepEqual(await visibleInputs(en), ['token-pin'])
  await shoot(en, 'login-token-en.png')
  await en.fill('#token-pin', hsm!.pin)
  await en.click('[data-test=token-submit]')
  assert.match(await (await en.waitForSelector('[data-test=whoami]')).innerText(), /keyop2/)
  await en.context().close()
  assert.deepEqual(cspViolations, [])
})

test('USB key login without the helper or without the enrolled key says what to do, and finds the key once the address is set', async () => {
  // The helper's address is not set in this browser: the default port has no helper here.
  const page = await newPage(browser, 'zh-CN')
  await page.goto(`${base}/#/login`)
  await page.fill('#login-user', 'keyop1')
  await page.fill('#login-password', OP_PW)
  await page.click('[data-test=login-submit]')
  assert.match(await (await page.waitForSelector('[data-test=login-error]')).innerText(), /签名助手没有响应/)
  assert.equal(await page.$('#token-pin'), null)
  await page.click('[data-test=helper-settings] summary')
  await page.fill('#helper-url', helperUrl)
  await page.click('[data-test=helper-save]')
  await page.waitForSelector('[data-test=token-found]')
  assert.equal(await page.evaluate(() => localStorage.getItem('cairn.signingHelper')), helperUrl, 'the browser keeps the address')
  await page.context().close()
  // A user whose key is not plugged in: the console says so rather than asking for labels.
  const other = await admin('POST', '/api/users', { name: 'keyop3', password: OP_PW, role: 'operator' })
  const elsewhere = makeToken()
  try {
    await admin('PUT', `/api/users/${other.id}/token`, { certificate: elsewhere.ec.certificatePem })
  } finally { await rm(elsewhere.dir, { recursive: true, force: true }) }
  const en = await browserWithHelper('en')
  await en.goto(`${base}/#/login`)
  await en.fill('#login-user', 'keyop3')
  await en.fill('#login-password', OP_PW)
  await en.click('[data-test=login-submit]')
  assert.match(await (await en.waitForSelector('[data-test=login-error]')).innerText(), /The USB key enrolled for this account is not among the keys plugged in/)
  assert.equal(await en.$('#token-pin'), null)
  await en.context().close()
})
