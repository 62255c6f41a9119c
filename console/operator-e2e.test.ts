// A branch-office operator's days with the console only (issue 19): a new operator goes from no
// access to a first backup, each empty list telling them what to ask the admin for, and the admin
// doing it in the console. Debian's Chromium through playwright-core against a real `cairn serve`
// started through the package's bin.
// test-suite: browser
import test, { after, before } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { apiAs, asciiSentences, buildConsole, confirmPassword, launchBrowser, login as loginAt, newPage as openPage, pickInRestoreTree, serve, shoot, until, type Served } from './testing/e2e-harness.ts'

const ADMIN_PW = 'head office lead passphrase'
const OP_PW = 'quiet harbour lantern 7'
let served: Served | undefined
let base = ''
let dir = ''
let browser: Browser
const src = (): string => join(dir, 'office')

const newPage = async (lang: 'zh-CN' | 'en'): Promise<Page> => await openPage(browser, lang)
const login = async (page: Page, name: string, password: string): Promise<void> => await loginAt(page, base, name, password)

before(async () => {
  await buildConsole()
  dir = await mkdtemp(join(tmpdir(), 'cairn-operator-e2e-'))
  await mkdir(join(src(), 'contracts'), { recursive: true })
  await writeFile(join(src(), 'contracts', 'lease.txt'), 'the branch office lease\n')
  served = await serve(join(dir, 'node'), ADMIN_PW)
  base = served.base
  browser = await launchBrowser()
})

after(async () => {
  await browser?.close()
  await served?.stop()
  if (dir !== '') await rm(dir, { recursive: true, force: true })
})

/** The operator opens the task wizard afresh and reads what it says is missing ('' when nothing). */
async function wizardMissing (page: Page): Promise<string> {
  await page.goto(`${base}/#/tasks`)
  await page.click('[data-test=new-task]')
  await page.waitForSelector('[data-test=wizard][data-loaded=true]')
  return (await page.$('[data-test=wizard-missing]'))?.innerText() ?? ''
}

/** The admin edits this node's client record in the Clients screen and confirms with the password. */
async function editClient (page: Page, change: (page: Page) => Promise<void>): Promise<void> {
  await page.goto(`${base}/#/nodes`)
  await page.click('[data-test=nodes] tbody tr [data-test=edit-node]')
  await change(page)
  await page.click('.modal button[type=submit]')
  await confirmPassword(page, ADMIN_PW)
  await page.waitForSelector('[data-test=nodes] .notice')
}

test('a new operator goes from no access to a first backup with only the console, told at each step what to ask the admin for', async () => {
  const admin = await newPage('en')
  await login(admin, 'admin', ADMIN_PW)
  await admin.click('[data-test=nav-users]')
  await admin.click('[data-test=new-user]')
  await admin.fill('#u-name', 'branch01')
  await admin.fill('#u-pw', OP_PW)
  await admin.selectOption('#u-role', 'operator')
  await admin.click('[data-test=user-save]')
  await confirmPassword(admin, ADMIN_PW)
  await admin.waitForSelector('tr[data-user=branch01]')

  const op = await newPage('zh-CN')
  await login(op, 'branch01', OP_PW)
  assert.match(await wizardMissing(op), /尚未给您分配客户端[\s\S]*客户端 → 编辑 → 分配用户/)
  await shoot(op, 'task-wizard-no-client.png')

  // The client edit dialog offers the assigned user (PATCH /api/nodes/{id} ownerId).
  await editClient(admin, async p => { await p.selectOption('[data-test=node-owner]', { label: 'branch01' }) })
  const node = await admin.evaluate(async () => (await (await fetch('/api/nodes')).json())[0])
  const users = await admin.evaluate(async () => await (await fetch('/api/users')).json())
  assert.equal(node.ownerId, users.find((u: { name: string }) => u.name === 'branch01').id, 'the client is the operator\'s')
  assert.match(await wizardMissing(op), new RegExp(`您在 ${node.name} 上还没有用户空间[\\s\\S]*所有者选 branch01`))

  await admin.click('[data-test=nav-spaces]')
  await admin.click('[data-test=new-space]')
  await admin.fill('#sp-name', 'branch01_space')
  await admin.selectOption('#sp-owner', { label: 'branch01' })
  await admin.fill('#sp-cap', '5')
  await admin.click('[data-test=space-form] button[type=submit]')
  await confirmPassword(admin, ADMIN_PW)
  await admin.waitForSelector('tr[data-space=branch01_space]')
  assert.match(await wizardMissing(op), /上还没有向您开放的目录[\s\S]*操作员可访问的目录/)

  await editClient(admin, async p => {
    await p.fill('[data-test=roots-sources]', src())
    await p.fill('[data-test=roots-restores]', dir)
  })
  await admin.click('[data-test=nodes] tbody tr [data-test=edit-node]')
  assert.equal(await admin.inputValue('[data-test=node-owner]'), node.ownerId, 'the dialog shows the assigned user')
  await shoot(admin, 'node-edit-owner.png', 'dialog')
  await admin.context().close()

  assert.equal(await wizardMissing(op), '', 'nothing is missing any more')
  await op.click('[data-test=next]')
  await op.fill('[data-test=source-path]', src())
  await op.click('[data-test=add-source]')
  for (let i = 0; i < 3; i++) await op.click('[data-test=next]')
  await op.fill('[data-test=task-name]', 'Branch-office-files')
  await op.click('[data-test=create]')
  await op.click('tr[data-task="Branch-office-files"] [data-test=start]')
  await op.click('[data-test=start-confirm]')
  await op.waitForSelector('[data-test=job-status][data-status=success]')
  await op.context().close()
})

test('restore a file deep in a folder of 5,000 entries: the tree opens folders as asked and pages them, and a search finds it by name', async () => {
  // The folder: 4,999 files and one folder sorted after them, with the wanted file three levels down.
  const bulk = join(dir, 'bulk')
  const deep = join(bulk, 'zz-archive', '2019', 'q4')
  await mkdir(deep, { recursive: true })
  for (let i = 0; i < 4999; i++) await writeFile(join(bulk, `scan-${String(i).padStart(4, '0')}.txt`), `${i}\n`)
  const wanted = join(deep, 'report-final.txt')
  await writeFile(wanted, 'the one file that matters\n')
  const admin = await apiAs(base, 'admin', ADMIN_PW)
  const me = await admin('GET', '/api/users/me')
  const nodeId = (await admin('GET', '/api/nodes'))[0].id
  const space = await admin('POST', '/api/spaces', { name: 'bulk_space', type: 'backup', nodeId, ownerId: me.id, capacityBytes: 2 ** 30 })
  const task = await admin('POST', '/api/tasks', { name: 'Bulk-scans', nodeId, spaceId: space.id, sources: { include: [bulk] } })
  const job = await admin('POST', `/api/tasks/${task.id}/start`, { level: 'full' })
  assert.equal((await until('the backup ends', async () => await admin('GET', `/api/jobs/${job.id}`), j => j.status !== 'running', 120)).status, 'success')

  const openRestore = async (page: Page): Promise<void> => {
    await page.goto(`${base}/#/restore`)
    await page.selectOption('#r-space', { label: 'bulk_space' })
    await page.click('[data-test=next]')
    await page.waitForSelector('.timeline input')
    await page.click('[data-test=next]')
  }
  const restoreTo = async (page: Page, target: string): Promise<void> => {
    await page.click('[data-test=next]')
    await page.fill('[data-test=restore-path]', target)
    await page.click('[data-test=next]')
    await page.click('[data-test=restore-submit]')
    await page.waitForSelector('[data-test=job-status][data-status=success]')
    assert.equal(await readFile(join(target, wanted), 'utf8'), 'the one file that matters\n')
  }

  // The tree: the folder shows a page of 500, and the next pages as asked, up to the folder after the 4,999 files.
  const en = await newPage('en')
  await login(en, 'admin', ADMIN_PW)
  await openRestore(en)
  for (const part of bulk.split('/').filter(Boolean).map((_, i, a) => '/' + a.slice(0, i + 1).join('/'))) await en.click(`[data-open="${part}"]`)
  const shown = async (): Promise<number> => await en.locator(`[data-test=restore-tree] [data-path^="${bulk}/"]`).count()
  await en.waitForSelector(`[data-more="${bulk}"]`)
  assert.equal(await shown(), 500, 'one page')
  for (let pages = 1; pages < 10; pages++) {
    await en.click(`[data-more="${bulk}"]`)
    await until(`page ${pages + 1}`, shown, n => n === (pages + 1) * 500)
  }
  assert.equal(await en.locator(`[data-more="${bulk}"]`).count(), 0, 'the whole folder is shown: no more pages')
  await pickInRestoreTree(en, wanted)
  await shoot(en, 'restore-tree-paged.png')
  assert.match(await en.innerText('[data-test=restore]'), /1 selected/)
  await restoreTo(en, join(dir, 'restored-en'))
  await en.context().close()

  // The search: by a part of the name, anywhere in the copy, in Chinese.
  const zh = await newPage('zh-CN')
  await login(zh, 'admin', ADMIN_PW)
  await openRestore(zh)
  await zh.fill('[data-test=restore-search-text]', 'REPORT-fin')
  await zh.click('[data-test=restore-search] button[type=submit]')
  assert.match(await (await zh.waitForSelector('[data-test=restore-found]')).innerText(), /^1 项匹配$/)
  await (await zh.waitForSelector(`[data-test=restore-results] [data-path="${wanted}"]`)).check()
  await zh.fill('[data-test=restore-search-text]', 'scan-')
  await zh.click('[data-test=restore-search] button[type=submit]')
  await zh.waitForFunction(() => /仅显示前 500 项匹配/.test(document.querySelector('[data-test=restore-found]')?.textContent ?? ''))
  await shoot(zh, 'restore-search.png')
  await zh.click('[data-test=restore-search-clear]')
  assert.match(await zh.innerText('[data-test=restore]'), /已选 1 项/, 'the choice stays through searches')
  await restoreTo(zh, join(dir, 'restored-zh'))
  await zh.context().close()
})

test('the console opens in the browser\'s language and keeps a choice; every server error on a zh-CN page reads in Chinese and names the field', async () => {
  // First visit of an English browser (no choice stored): English.
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'en-US' })
  context.setDefaultTimeout(20_000)
  const page = await context.newPage()
  page.on('pageerror', err => { throw err })
  await page.goto(`${base}/#/login`)
  await page.waitForSelector('text=Log in to Cairn')
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en')
  // A wrong password in English, then Chinese chosen and kept over a reload.
  await page.fill('#login-user', 'admin')
  await page.fill('#login-password', 'not the password')
  await page.click('[data-test=login-submit]')
  assert.equal(await (await page.waitForSelector('[data-test=login-error]')).innerText(), 'User name or password is wrong (or the account is disabled).')
  await login(page, 'admin', ADMIN_PW)
  await page.selectOption('[data-test=lang]', 'zh-CN')
  await page.reload()
  await page.waitForSelector('text=系统运行时间')

  // The error paths, each answered by the node, in Chinese.
  await page.click('[data-test=nav-users]')
  await page.click('[data-test=new-user]')
  await page.fill('#u-name', 'branch01')
  await page.fill('#u-pw', 'another fine passphrase 9')
  await page.click('[data-test=user-save]')
  await page.fill('[data-test=reauth-password]', 'wrong password typed')
  await page.click('[data-test=reauth-confirm]')
  assert.equal(await (await page.waitForSelector('[data-test=reauth-error]')).innerText(), '用户名或密码错误（或账户已停用）。')
  assert.deepEqual(await asciiSentences(page), [])
  await page.fill('[data-test=reauth-password]', ADMIN_PW)
  await page.click('[data-test=reauth-confirm]')
  await page.waitForFunction(() => /用户名 branch01 已存在/.test(document.querySelector('[data-test=reauth-error]')?.textContent ?? ''))
  assert.deepEqual(await asciiSentences(page), [])
  await page.keyboard.press('Escape')
  await page.keyboard.press('Escape')
  // A field the node's schema refuses (a certificate of 20 characters), named in Chinese.
  await page.click('[data-test="enrol-branch01"]')
  await page.fill('[data-test=certificate]', '-----BEGIN nonsense')
  await page.click('[data-test=enrol-save]')
  await page.fill('[data-test=reauth-password]', ADMIN_PW)
  await page.click('[data-test=reauth-confirm]')
  assert.equal(await (await page.waitForSelector('[data-test=reauth-error]')).innerText(), 'USB Key 证书：至少需要 50 个字符。')
  assert.deepEqual(await asciiSentences(page), [])
  await shoot(page, 'error-zh-CN.png', 'dialog')
  await context.close()
})

test('right data: drills, restores and cleans are in their task\'s history with its name; job names in the browser\'s local time; the client report\'s task count; this node seen now', async () => {
  const since = new Date().toISOString()
  const admin = await apiAs(base, 'admin', ADMIN_PW)
  const me = await admin('GET', '/api/users/me')
  const nodeId = (await admin('GET', '/api/nodes'))[0].id
  const space = await admin('POST', '/api/spaces', { name: 'docs_space', type: 'backup', nodeId, ownerId: me.id, capacityBytes: 2 ** 30 })
  const task = await admin('POST', '/api/tasks', { name: 'Small-docs', nodeId, spaceId: space.id, sources: { include: [src()] } })
  const ended = async (id: string): Promise<any> => await until(`job ${id} ends`, async () => await admin('GET', `/api/jobs/${id}`), j => j.status !== 'running', 60)
  assert.equal((await ended((await admin('POST', `/api/tasks/${task.id}/start`, { level: 'full' })).id)).status, 'success')

  // A browser in UTC+8 with the node in whatever zone it runs: the console names the restore by the browser's clock.
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' })
  context.setDefaultTimeout(20_000)
  const page = await context.newPage()
  page.on('pageerror', err => { throw err })
  await login(page, 'admin', ADMIN_PW)
  await page.goto(`${base}/#/tasks`)
  await page.click('tr[data-task="Small-docs"] [data-test=drill]')
  await page.waitForSelector('[data-test=job-status][data-status=success]')
  await page.goto(`${base}/#/drills`)
  await page.waitForSelector('[data-test=drills] tbody tr td a')
  assert.match(await page.innerText('[data-test=drills] tbody tr'), /Drill-Small-docs\s+Small-docs\s+成功/, 'the drill names its task')

  const shanghai = (d: Date): string => {
    const p = Object.fromEntries(new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(d).map(x => [x.type, x.value]))
    return `Restore-${p.month}-${p.day}-${p.hour}${p.minute}`
  }
  await page.goto(`${base}/#/restore`)
  await page.selectOption('#r-space', { label: 'docs_space' })
  await page.click('[data-test=next]')
  await page.waitForSelector('.timeline input')
  await page.click('[data-test=next]')
  await page.waitForSelector('[data-test=restore-tree] li')
  // The wizard names the restore task when it shows the target step (the name can be changed there).
  const before = shanghai(new Date())
  await page.click('[data-test=next]')
  await page.fill('[data-test=restore-path]', join(dir, 'restored-docs'))
  await page.click('[data-test=next]')
  await page.click('[data-test=restore-submit]')
  await page.waitForSelector('[data-test=job-status][data-status=success]')
  const after = shanghai(new Date())
  const history = await admin('GET', `/api/tasks/${task.id}/jobs`)
  const jobs: Array<{ type: string, name: string, taskName: string }> = Array.isArray(history) ? history : history.items
  const restore = jobs.find(j => j.type === 'restore')
  assert.ok(restore !== undefined && [before, after].includes(restore.name), `the restore job ${restore?.name} is named by the browser's clock (${before})`)
  const clean = await admin('POST', '/api/data/clean', { taskId: task.id, mode: 'leftover' })
  await ended(clean.id)
  const kinds = (await admin('GET', `/api/tasks/${task.id}/jobs`))
  assert.deepEqual([...new Set((Array.isArray(kinds) ? kinds : kinds.items).map((j: { type: string }) => j.type))].sort(), ['backup', 'clean', 'drill', 'restore'], 'the task\'s history has its drill, restore and clean')
  assert.ok(jobs.every(j => j.taskName === 'Small-docs'))

  await page.goto(`${base}/#/reports`)
  await page.check('input[value=clients]')
  await page.waitForFunction(() => /客户端/.test(document.querySelector('[data-test=reports] thead')?.textContent ?? ''))
  const head = await page.innerText('[data-test=reports] thead')
  assert.match(head, /任务数/)
  assert.doesNotMatch(head, /任务报表/)
  const local = (await admin('GET', '/api/nodes')).find((n: { local: boolean }) => n.local)
  assert.ok(local.lastSeenAt >= since, `this node was seen after the test began (${local.lastSeenAt} < ${since})`)
  await context.close()
})

test('consistent safety: stopping a job asks and then says it stopped; cleaning all copies of a task asks YES and the password; deleting a webhook asks', async () => {
  const admin = await apiAs(base, 'admin', ADMIN_PW)
  const me = await admin('GET', '/api/users/me')
  const nodeId = (await admin('GET', '/api/nodes'))[0].id
  const slow = join(dir, 'slow')
  await mkdir(slow, { recursive: true })
  await writeFile(join(slow, 'big.bin'), Buffer.alloc(24 * 1024 * 1024, 7))
  const space = await admin('POST', '/api/spaces', { name: 'slow_space', type: 'backup', nodeId, ownerId: me.id, capacityBytes: 2 ** 30 })
  // 1 MiB/s: the backup runs long enough to be stopped by hand.
  await admin('POST', '/api/tasks', { name: 'Slow-backup', nodeId, spaceId: space.id, sources: { include: [slow] }, options: { bandwidth: { defaultMibps: 1 } } })

  const page = await newPage('zh-CN')
  await login(page, 'admin', ADMIN_PW)
  await page.goto(`${base}/#/tasks`)
  await page.click('tr[data-task="Slow-backup"] [data-test=start]')
  await page.click('[data-test=start-confirm]')
  await page.waitForSelector('[data-test=job-status][data-status=running]')
  await page.click('[data-test=monitor] [data-test=stop]')
  assert.match(await (await page.waitForSelector('.modal')).innerText(), /停止作业 Slow-backup[\s\S]*已写入的数据保留给下次运行/)
  await page.click('[data-test=confirm-cancel]')
  assert.equal(await page.getAttribute('[data-test=job-status]', 'data-status'), 'running', 'Cancel leaves the job running')
  await page.click('[data-test=monitor] [data-test=stop]')
  await shoot(page, 'job-stop-confirm.png', 'dialog')
  await page.click('[data-test=confirm-ok]')
  assert.match(await (await page.waitForSelector('[data-test=stop-notice]')).innerText(), /作业 .* 已停止/)
  await page.waitForSelector('[data-test=job-status][data-status=stopped]')

  // Clean all copies of a task (the previous test's Small-docs): YES and the password.
  await page.goto(`${base}/#/data`)
  await page.click('tr[data-task="Small-docs"] [data-test=clean]')
  await page.click('[data-test=clean-task]')
  await page.fill('[data-test=delete-password]', ADMIN_PW)
  assert.equal(await page.isDisabled('[data-test=delete-confirm]'), true, 'not without YES')
  await page.fill('[data-test=delete-yes]', 'YES')
  await shoot(page, 'data-clean-task.png', 'dialog')
  await page.click('[data-test=delete-confirm]')
  await page.waitForSelector('[data-test=job-status][data-status=success]')
  await page.goto(`${base}/#/data`)
  await until('no copy is left', async () => await page.innerText('tr[data-task="Small-docs"] [data-test=copies]'), n => n === '0')

  // A webhook is deleted only after YES and the password.
  await page.goto(`${base}/#/notify`)
  await page.fill('[data-test=hook-url]', 'http://127.0.0.1:9/branch-hook')
  await page.check('[data-event=alert]')
  await page.check('[data-test=hook-local]')
  await page.click('[data-test=hook-add]')
  await confirmPassword(page, ADMIN_PW)
  await page.click('tr[data-hook="http://127.0.0.1:9/branch-hook"] [data-test=hook-delete]')
  assert.match(await (await page.waitForSelector('[data-test=reauth-dialog]')).innerText(), /该地址将不再收到事件/)
  assert.equal((await admin('GET', '/api/webhooks')).length, 1, 'nothing is deleted before the answer')
  await page.fill('[data-test=delete-yes]', 'YES')
  await page.fill('[data-test=delete-password]', ADMIN_PW)
  await page.click('[data-test=delete-confirm]')
  await page.waitForSelector('tr[data-hook="http://127.0.0.1:9/branch-hook"]', { state: 'detached' })
  assert.equal((await admin('GET', '/api/webhooks')).length, 0)
  await page.context().close()
})
