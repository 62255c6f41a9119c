// The Capacity planning screen (F28) against a real `cairn serve` started through the bin, in
// Chinese and in English: an admin starts from the node's own facts, runs the README's three-site
// scenario on the node and reads its findings, tables and the four charts; a scenario with a bad
// field says where, in the console's language; operators do not see the screen. And the HTML
// report `cairn sim run --html` writes opens from disk with the same charts and no network at all.
// test-suite: browser
import test, { after, before } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { answered, apiAs, buildConsole, cairn, launchBrowser, login, newPage, root, serve, shoot, type Served } from './testing/e2e-harness.ts'

const PW = 'sites, links and windows 2027'
let dir = ''
let browser: Browser
let node: Served | undefined
const example = join(root, 'sim', 'examples', 'three-sites.yaml')

before(async () => {
  await buildConsole()
  dir = await mkdtemp(join(tmpdir(), 'cairn-console-planning-'))
  node = await serve(join(dir, 'node'), PW)
  browser = await launchBrowser()
})

after(async () => {
  await browser?.close()
  await node?.stop()
  if (dir !== '') await rm(dir, { recursive: true, force: true })
})

/** Draws something on a canvas: Chart.js ran (a blank canvas is one colour). */
const drawn = async (page: Page, selector: string): Promise<boolean> => await page.$eval(selector, (c) => {
  const canvas = c as HTMLCanvasElement
  const ctx = canvas.getContext('2d')!
  const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data
  for (let i = 4; i < px.length; i += 4) if (px[i] !== px[0] || px[i + 1] !== px[1] || px[i + 2] !== px[2] || px[i + 3] !== px[3]) return true
  return false
})

async function openPlanning (lang: 'zh-CN' | 'en'): Promise<Page> {
  const page = await newPage(browser, lang)
  await login(page, node!.base, 'admin', PW)
  await page.click('[data-test=nav-planning]')
  await page.waitForSelector('[data-test=planning]')
  return page
}

test('F28 English: from this node, then the three-site scenario run on the node: findings, tables and the four charts', async () => {
  const page = await openPlanning('en')
  assert.equal(await page.innerText('h1'), 'Capacity planning')
  // This node's facts as a scenario (no mesh here: this site alone).
  const r = await answered(page, 'GET', /^\/api\/planning\/scenario$/, async () => await page.click('[data-test=plan-from-mesh]'))
  assert.equal(r.status(), 200)
  assert.match(await page.inputValue('[data-test=plan-scenario]'), /^format: cairn-scenario$/m)

  await page.fill('[data-test=plan-scenario]', await readFile(example, 'utf8'))
  const run = await answered(page, 'POST', /^\/api\/planning\/run$/, async () => await page.click('[data-test=plan-run]'))
  assert.equal(run.status(), 200)
  await page.waitForSelector('[data-test=plan-sites] tbody tr')
  assert.match(await page.innerText('[data-test=plan-summary]'), /^Three sites \(README\): 3 sites from 2027-01-04 to 2028-01-04 \(365\.25 days\)/)
  assert.deepEqual(await page.$$eval('[data-test=plan-sites] tbody tr td:first-child', tds => tds.map(td => td.textContent)), ['hq', 'branch-1', 'dr-north'])
  assert.deepEqual(await page.$$eval('[data-test=plan-sites] tbody tr td:nth-child(2)', tds => tds.map(td => td.textContent)), ['Head office', 'Branch', 'DR site'])
  assert.match(await page.innerText('[data-test=plan-findings]'), /Warning 2027-01-0\d 1 of 366 backups of hq\/docs do not fit the window 00:00–06:00/)
  assert.match(await page.innerText('[data-test=plan-lags]'), /hq\s+dr-north\s+366/)
  for (const id of ['storage', 'lag', 'backup-windows', 'link-utilisation']) assert.ok(await drawn(page, `[data-test=plan-chart-${id}]`), `the ${id} chart is drawn`)
  await shoot(page, 'planning-en.png')

  // A bad field: where, and what.
  await page.fill('[data-test=plan-scenario]', 'start: 2027-01-01\nhorizon: 30d\nsites:\n  - name: hq\n    role: head\n    capacity: a lot\n')
  const bad = await answered(page, 'POST', /^\/api\/planning\/run$/, async () => await page.click('[data-test=plan-run]'))
  assert.equal(bad.status(), 400)
  assert.equal(await page.innerText('[data-test=plan-error]'), 'The scenario is not valid at line 6, column 15: sites[0].capacity: should be a size such as 500GB, 1.5TiB or a number of bytes')
})

test('F28 简体中文: the same run, its findings and headings in Chinese; a bad field says its line and column', async () => {
  const page = await openPlanning('zh-CN')
  assert.equal(await page.innerText('h1'), '容量规划')
  await page.fill('[data-test=plan-scenario]', await readFile(example, 'utf8'))
  await answered(page, 'POST', /^\/api\/planning\/run$/, async () => await page.click('[data-test=plan-run]'))
  await page.waitForSelector('[data-test=plan-sites] tbody tr')
  assert.match(await page.innerText('[data-test=plan-findings]'), /警告 2027-01-0\d hq\/docs 的 366 次备份中有 1 次超出时间窗口 00:00–06:00/)
  // Replicas follow the node's replica retention by default: no "replicas only grow" finding.
  assert.doesNotMatch(await page.innerText('[data-test=plan-findings]'), /副本保留收到的所有数据块/)
  assert.match(await page.innerText('[data-test=plan-sites] thead'), /站点\s+角色\s+本站数据\s+副本\s+合计\s+峰值\s+容量\s+存满日期/)
  assert.match(await page.innerText('[data-test=plan-sites] tbody'), /hq\s+总部[^]*branch-1\s+分支机构[^]*dr-north\s+灾备站点/)
  assert.ok(await drawn(page, '[data-test=plan-chart-storage]'))
  await shoot(page, 'planning-zh-CN.png')
  await page.fill('[data-test=plan-scenario]', 'start: 2027-01-01\nhorizon: 30d\nsites:\n  - name: hq\n    role: boss\n')
  await answered(page, 'POST', /^\/api\/planning\/run$/, async () => await page.click('[data-test=plan-run]'))
  assert.match(await page.innerText('[data-test=plan-error]'), /^场景第 5 行第 11 列无效：sites\[0\]\.role：should be one of "head", "branch", "dr"$/)
})

test('F28 operators do not see capacity planning, and the node refuses them', async () => {
  const api = await apiAs(node!.base, 'admin', PW)
  await api('POST', '/api/users', { name: 'planner-op', password: 'operator password 1', role: 'operator' })
  const page = await newPage(browser, 'en')
  await login(page, node!.base, 'planner-op', 'operator password 1')
  assert.equal(await page.$('[data-test=nav-planning]'), null)
  const status = await page.evaluate(async () => (await fetch('/api/planning/schema')).status)
  assert.equal(status, 403)
})

test('F28 the HTML report opens from disk: the same four charts, and not one request beyond the file', async () => {
  const html = join(dir, 'report.html')
  await cairn(['sim', 'run', example, '--html', html])
  const page = await browser.newPage()
  const requests: string[] = []
  page.on('request', r => { requests.push(r.url()) })
  const errors: string[] = []
  page.on('pageerror', e => { errors.push(e.message) })
  await page.goto(`file://${html}`)
  await page.waitForSelector('body[data-charts=drawn]')
  for (const id of ['storage', 'lag', 'backup-windows', 'link-utilisation']) assert.ok(await drawn(page, `#chart-${id}`), `the ${id} chart is drawn`)
  assert.match(await page.innerText('h1'), /^Three sites \(README\)$/)
  assert.deepEqual(requests, [`file://${html}`])
  assert.deepEqual(errors, [])
  await page.close()
})
