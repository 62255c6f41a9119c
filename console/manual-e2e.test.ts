// The operator manual's elements the console lacked (issue 19), driven in Chinese and English:
// restore with a name and a review step, each field its own message, searches by name, the
// history's and the monitor's client, space and level columns, data management's clean names and
// records, user-space details and rename, the home page's storage figures, My account's About,
// last login, password age and packed logs, menus by role; job-log warnings and login failures in
// Chinese (no ASCII-only sentence on the page). Debian's Chromium through
// playwright-core against a real `cairn serve` started through the package's bin.
// Last, a disk image task: the wizard lists a loop device with its partitions, the restore wizard
// writes one partition of an image snapshot onto a file (root: losetup).
// test-suite: browser
import test, { after, before } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { execFileSync, spawnSync } from 'node:child_process'
import type { Browser, Page } from 'playwright-core'
import { apiAs, asciiSentences, buildConsole, launchBrowser, login as loginAt, newPage as openPage, serve, shoot, until, type Api, type Served } from './testing/e2e-harness.ts'

const ADMIN_PW = 'manual chapter two passphrase'
const OP_PW = 'branch desk lamp 42 green'
let served: Served | undefined
let base = ''
let dir = ''
let browser: Browser
let admin: Api
let nodeId = ''
let nodeIp = ''

const newPage = async (lang: 'zh-CN' | 'en'): Promise<Page> => await openPage(browser, lang)
const login = async (page: Page, name: string, password: string): Promise<void> => await loginAt(page, base, name, password)
const ended = async (id: string): Promise<any> => await until(`job ${id} ends`, async () => await admin('GET', `/api/jobs/${id}`), j => j.status !== 'running', 60)
const text = async (page: Page, selector: string): Promise<string> => await (await page.waitForSelector(selector)).innerText()
/** A wizard step's "Next" that must not go on: the message it shows instead. */
const nextRefused = async (page: Page): Promise<string> => { await page.click('[data-test=next]'); return await text(page, '.error') }
/** The restore wizard up to its target step: the space's first task, its latest snapshot, every file. */
async function restoreTargetStep (page: Page, space: string): Promise<void> {
  await page.goto(`${base}/#/restore`)
  await page.waitForSelector('[data-test=restore-task] option', { state: 'attached' })
  await page.selectOption('#r-space', { label: space })
  await page.click('[data-test=next]')
  await page.waitForSelector('.timeline input')
  await page.click('[data-test=next]')
  await page.click('[data-test=next]')
}

before(async () => {
  await buildConsole()
  dir = await mkdtemp(join(tmpdir(), 'cairn-manual-e2e-'))
  await mkdir(join(dir, 'ledger', '2026'), { recursive: true })
  await writeFile(join(dir, 'ledger', '2026', 'march.csv'), 'date,amount\n2026-03-01,12\n')
  served = await serve(join(dir, 'node'), ADMIN_PW)
  base = served.base
  admin = await apiAs(base, 'admin', ADMIN_PW)
  const node = (await admin('GET', '/api/nodes'))[0]
  nodeId = node.id
  nodeIp = node.ip
  const me = await admin('GET', '/api/users/me')
  const space = await admin('POST', '/api/spaces', { name: 'finance_space', type: 'backup', nodeId, ownerId: me.id, capacityBytes: 2 ** 30 })
  const task = await admin('POST', '/api/tasks', { name: 'Ledger-nightly', nodeId, spaceId: space.id, sources: { include: [join(dir, 'ledger')] } })
  await admin('POST', '/api/tasks', { name: 'Scans-weekly', nodeId, spaceId: space.id, sources: { include: [join(dir, 'ledger')] } })
  assert.equal((await ended((await admin('POST', `/api/tasks/${task.id}/start`, { level: 'full' })).id)).status, 'success')
  await writeFile(join(dir, 'ledger', '2026', 'april.csv'), 'date,amount\n2026-04-01,7\n')
  assert.equal((await ended((await admin('POST', `/api/tasks/${task.id}/start`, { level: 'incremental' })).id)).status, 'success')
  browser = await launchBrowser()
})

after(async () => {
  await browser?.close()
  await served?.stop()
  if (dir !== '') await rm(dir, { recursive: true, force: true })
})

test('zh-CN: restore names its task, reviews before it starts, and each wrong field says what is wrong; the wizard and the lists search by name', async () => {
  const page = await newPage('zh-CN')
  await login(page, 'admin', ADMIN_PW)

  // The task wizard: a relative source path is refused with its own message, not dropped.
  await page.goto(`${base}/#/tasks`)
  await page.click('[data-test=new-task]')
  await page.waitForSelector('[data-test=wizard][data-loaded=true]')
  await page.click('[data-test=next]')
  await page.fill('[data-test=source-path]', 'ledger/2026')
  await page.click('[data-test=add-source]')
  assert.equal(await text(page, '[data-test=wizard-error]'), '备份路径必须是绝对路径（以 / 开头）：ledger/2026')
  assert.equal(await page.inputValue('[data-test=source-path]'), 'ledger/2026', 'the typed path stays to be corrected')
  assert.deepEqual(await asciiSentences(page), [])
  await page.fill('[data-test=source-path]', join(dir, 'ledger'))
  await page.click('[data-test=add-source]')
  await page.click('[data-test=next]')
  await page.click('[data-test=next]')
  // A weekly schedule with no day ticked: the message names the schedule and the part.
  await page.click('[data-test=add-schedule]')
  await page.selectOption('[data-test=schedule] select >> nth=0', 'weekly')
  await page.click('[data-test=next]')
  assert.equal(await text(page, '[data-test=wizard-error]'), '计划 1：请至少勾选一个星期几')
  await page.fill('[data-test=schedule] input[type=time]', '')
  await page.click('[data-test=next]')
  assert.equal(await text(page, '[data-test=wizard-error]'), '计划 1：请按 HH:MM 输入时间')
  assert.deepEqual(await asciiSentences(page), [])

  // Tasks, searched by name.
  await page.goto(`${base}/#/tasks`)
  await page.waitForSelector('tr[data-task="Scans-weekly"]')
  await page.fill('[data-test=tasks] [data-test=list-search]', 'ledger')
  await page.waitForSelector('tr[data-task="Scans-weekly"]', { state: 'detached' })
  assert.ok(await page.$('tr[data-task="Ledger-nightly"]') !== null)

  // Restore: the task list filters by name; a relative redirect path and a short name each get their message.
  await page.goto(`${base}/#/restore`)
  await page.waitForSelector('[data-test=restore-task] option', { state: 'attached' })
  await page.fill('[data-test=restore-task-filter]', 'nightly')
  assert.deepEqual(await page.$$eval('[data-test=restore-task] option', o => o.map(x => x.textContent)), ['Ledger-nightly'])
  await page.fill('[data-test=restore-task-filter]', 'nothing-like-it')
  assert.equal(await text(page, '[data-test=restore-no-task]'), '此用户空间中没有匹配的备份任务')
  await page.fill('[data-test=restore-task-filter]', 'ledger')
  await page.click('[data-test=next]')
  await page.waitForSelector('.timeline input')
  await page.click('[data-test=next]')
  await page.waitForSelector('[data-test=restore-tree] li')
  await page.click('[data-test=next]')
  assert.match(await page.inputValue('[data-test=restore-name]'), /^Restore-\d{2}-\d{2}-\d{4}$/, 'a name is proposed')
  await page.fill('[data-test=restore-path]', 'restored')
  assert.equal(await nextRefused(page), '重定向路径必须是绝对路径（以 / 开头）；留空则恢复到原位置')
  const target = join(dir, 'restored')
  await page.fill('[data-test=restore-path]', target)
  await page.fill('[data-test=restore-name]', 'ab')
  assert.equal(await nextRefused(page), '恢复任务名称需要 3 到 64 个字符，不能包含 / \\ 或控制字符')
  assert.deepEqual(await asciiSentences(page), [])
  await page.fill('[data-test=restore-name]', '三月账本恢复')
  await page.click('[data-test=next]')
  const review = await text(page, '[data-test=restore-review]')
  for (const want of ['三月账本恢复', 'finance_space', 'Ledger-nightly', '整个快照', target, '覆盖']) assert.ok(review.includes(want), `the review shows ${want}: ${review}`)
  await shoot(page, 'restore-review.png')
  await page.click('[data-test=restore-submit]')
  await page.waitForSelector('[data-test=job-status][data-status=success]')
  assert.match(await text(page, '[data-test=monitor] h2'), /三月账本恢复/)
  assert.equal(await text(page, '[data-test=monitor] [data-test=job-space]'), 'finance_space')
  // The job's log in Chinese: the node sends each line's code and parameters.
  await page.waitForFunction(() => /作业结束：成功/.test(document.querySelector('[data-test=job-log]')?.textContent ?? ''))
  assert.match(await text(page, '[data-test=job-log]'), /恢复作业 三月账本恢复 开始[\s\S]*已恢复 \d+ 个文件/)
  assert.equal(await readFile(join(target, dir, 'ledger', '2026', 'march.csv'), 'utf8'), 'date,amount\n2026-03-01,12\n')

  // The history: searched by name, with client, user space and level; durations in Chinese.
  await page.goto(`${base}/#/history`)
  await page.fill('[data-test=history-search]', '账本')
  await page.press('[data-test=history-search]', 'Enter')
  await until('the history shows only the restore', async () => await page.$$eval('[data-test=history] tbody tr', r => r.length), n => n === 1)
  const row = await text(page, 'tr[data-job="三月账本恢复"]')
  assert.match(row, /恢复/)
  assert.equal(await text(page, 'tr[data-job="三月账本恢复"] [data-test=job-space]'), 'finance_space')
  assert.notEqual(await text(page, 'tr[data-job="三月账本恢复"] [data-test=job-client]'), '', 'the client is named')
  assert.match(row, /\d+ 秒/, 'the duration is in Chinese')
  await page.fill('[data-test=history-search]', '')
  await page.press('[data-test=history-search]', 'Enter')
  await until('the backups are listed again', async () => await page.$$eval('[data-test=history] tbody tr', r => r.length), n => n === 3)
  const levels = await page.innerText('[data-test=history] tbody')
  assert.ok(levels.includes('完全备份') && levels.includes('增量备份'), `the backup levels: ${levels}`)
  await shoot(page, 'history.png')
  await page.context().close()
})

test('zh-CN: data management names a clean and keeps its records; user spaces show details and rename; home counts storage; My account shows About, last login and packed logs', async () => {
  const page = await newPage('zh-CN')
  await login(page, 'admin', ADMIN_PW)

  // Data management: search, a bad clean name refused in Chinese, a named clean recorded with what it removed.
  await page.goto(`${base}/#/data`)
  await page.waitForSelector('tr[data-task="Scans-weekly"]')
  await page.fill('[data-test=data-search]', 'nightly')
  await page.waitForSelector('tr[data-task="Scans-weekly"]', { state: 'detached' })
  await page.click('tr[data-task="Ledger-nightly"] [data-test=clean]')
  await page.waitForSelector('[data-test=snapshot]')
  await page.check('[data-test=snapshot] >> nth=1')
  await page.fill('[data-test=clean-name]', 'x/y')
  await page.fill('[data-test=clean-password]', ADMIN_PW)
  await page.click('[data-test=clean-snapshots]')
  assert.equal(await text(page, '.modal .error'), '清理任务名称需要 3 到 64 个字符，不能包含 / \\ 或控制字符')
  assert.deepEqual(await asciiSentences(page), [])
  await page.fill('[data-test=clean-name]', '清理旧副本')
  await page.click('[data-test=clean-snapshots]')
  await page.waitForSelector('[data-test=job-status][data-status=success]')
  await page.goto(`${base}/#/data`)
  await page.click('tr[data-task="Ledger-nightly"] [data-test=clean]')
  const record = await text(page, '[data-test=clean-records] tr[data-job="清理旧副本"]')
  assert.match(record, /所选副本[\s\S]*成功[\s\S]*删除 1 个副本，释放/)
  await shoot(page, 'data-clean-records.png', 'dialog')
  await page.keyboard.press('Escape')

  // User spaces: the details view and a rename.
  await page.goto(`${base}/#/spaces`)
  await page.click('tr[data-space="finance_space"] [data-test=space-details]')
  const details = await text(page, '[data-test=space-details-table]')
  assert.ok(details.includes(nodeIp) && details.includes('剩余容量'), details)
  assert.match(await text(page, '[data-test=space-tasks]'), /Ledger-nightly.*Scans-weekly/)
  await shoot(page, 'space-details.png', 'dialog')
  await page.keyboard.press('Escape')
  await page.click('tr[data-space="finance_space"] [data-test=edit-space]')
  await page.fill('[data-test=space-edit-name]', '')
  await page.click('[data-test=space-edit-save]')
  assert.equal(await text(page, '.modal .error'), '名称需 1 到 64 个字符')
  await page.fill('[data-test=space-edit-name]', 'finance_hq')
  await page.click('[data-test=space-edit-save]')
  await page.waitForSelector('tr[data-space="finance_hq"]')
  assert.equal((await admin('GET', '/api/spaces')).find((s: { name: string }) => s.name === 'finance_hq')?.name, 'finance_hq', 'the node has the new name')

  // Home: storage quantity and online storage; remaining capacity and IP per space.
  await page.goto(`${base}/#/`)
  assert.equal(await text(page, '[data-test=storage-count]'), '1')
  assert.equal(await text(page, '[data-test=storage-online]'), '1')
  assert.equal(await text(page, 'tr[data-space="finance_hq"] [data-test=space-ip]'), nodeIp)
  assert.match(await text(page, 'tr[data-space="finance_hq"] [data-test=space-free]'), /^1(\.00)? GB$|^10\d\d(\.\d+)? MB$/)
  await shoot(page, 'home-zh-CN.png')

  // My account: basic information, About, the packed logs; the password asked twice.
  await page.goto(`${base}/#/me`)
  assert.match(await text(page, '[data-test=about-version]'), /^Cairn \d+\.\d+\.\d+/)
  assert.equal(await text(page, '[data-test=about-licence]'), JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')).license)
  assert.notEqual(await text(page, '[data-test=me-last-login]'), '—')
  assert.match(await text(page, '[data-test=me-password-age]'), /0 天前/)
  await shoot(page, 'account.png')
  const packed = await page.evaluate(async (url) => {
    const r = await fetch(url)
    return { type: r.headers.get('content-type'), name: r.headers.get('content-disposition'), bytes: [...new Uint8Array(await r.arrayBuffer())] }
  }, await page.getAttribute('[data-test=log-bundle]', 'href') ?? '')
  assert.equal(packed.type, 'application/gzip')
  assert.match(packed.name ?? '', /cairn-logs-.*\.jsonl\.gz/)
  const lines = gunzipSync(Buffer.from(packed.bytes)).toString('utf8').trim().split('\n').map(l => JSON.parse(l))
  assert.equal(lines[0].kind, 'node')
  assert.ok(lines.some(l => l.kind === 'job' && l.name === '清理旧副本') && lines.some(l => l.kind === 'job-log') && lines.some(l => l.kind === 'log'), 'jobs, their log lines and the log list are packed')
  await page.click('[data-test=change-password]')
  await page.fill('#pw-cur', ADMIN_PW)
  await page.fill('#pw-new', 'a brand new passphrase 1')
  await page.fill('#pw-again', 'a brand new passphrase 2')
  await page.click('.modal button[type=submit]')
  assert.equal(await text(page, '.modal .error'), '两次输入的新密码不一致')
  await page.keyboard.press('Escape')

  // A per-file warning in a job's log, in Chinese: a FIFO is skipped (the node's sentence is coded).
  const pipes = join(dir, 'pipes')
  await mkdir(pipes)
  await writeFile(join(pipes, 'a.txt'), 'a')
  assert.equal(spawnSync('mkfifo', [join(pipes, 'p.fifo')]).status, 0)
  const pipeTask = await admin('POST', '/api/tasks', { name: 'Pipe-check', nodeId, spaceId: (await admin('GET', '/api/spaces')).find((x: any) => x.name === 'finance_hq').id, sources: { include: [pipes] } })
  const pipeJob = await admin('POST', `/api/tasks/${pipeTask.id}/start`, { level: 'full' })
  assert.equal((await ended(pipeJob.id)).status, 'warning')
  await page.goto(`${base}/#/monitor/${pipeJob.id}`)
  await page.waitForFunction(() => /作业结束：警告/.test(document.querySelector('[data-test=job-log]')?.textContent ?? ''))
  assert.match(await text(page, '[data-test=job-log]'), /p\.fifo：已跳过（不备份套接字、FIFO 和设备文件）/)
  assert.deepEqual(await asciiSentences(page), [])
  // A failed login's reason, in the log list below.
  assert.equal((await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'not the passphrase' }) })).status, 401)

  // The log list and the audit trail in Chinese words.
  await page.goto(`${base}/#/logs`)
  await page.waitForSelector('[data-test=logs] tbody td.message')
  const logs = await page.innerText('[data-test=logs] tbody')
  for (const want of ['用户 [admin] 已登录', '用户空间 [finance_hq] 已修改：名称', '清理作业 [清理旧副本] 执行成功', '调度器', '用户 [admin] 登录失败：密码错误']) assert.ok(logs.includes(want), `the log list says ${want}`)
  assert.deepEqual(await asciiSentences(page), [])
  await page.goto(`${base}/#/audit`)
  assert.equal(await text(page, '[data-test=audit] td[data-action="space.update"]'), '修改用户空间')
  assert.equal(await text(page, '[data-test=audit] td[data-action="job.clean.start"] >> nth=0'), '启动：清理')
  await page.context().close()
})

test('en: the monitor as the manual\'s table with client, space and level; operators see only the menus their role can use', async () => {
  const me = await admin('GET', '/api/users/me')
  const slow = join(dir, 'slow')
  await mkdir(slow, { recursive: true })
  await writeFile(join(slow, 'big.bin'), Buffer.alloc(12 * 1024 * 1024, 3))
  const space = await admin('POST', '/api/spaces', { name: 'slow_space', type: 'backup', nodeId, ownerId: me.id, capacityBytes: 2 ** 30 })
  // 1 MiB/s: the backup is still running while the monitor is read.
  const task = await admin('POST', '/api/tasks', { name: 'Slow-archive', nodeId, spaceId: space.id, sources: { include: [slow] }, options: { bandwidth: { defaultMibps: 1 } } })
  const job = await admin('POST', `/api/tasks/${task.id}/start`, { level: 'full' })
  const page = await newPage('en')
  await login(page, 'admin', ADMIN_PW)
  await page.goto(`${base}/#/monitor`)
  const row = await page.waitForSelector(`[data-test=monitor-table] tr[data-job="${job.name}"]`)
  assert.equal(await (await row.$('[data-test=job-space]'))!.innerText(), 'slow_space')
  assert.notEqual(await (await row.$('[data-test=job-client]'))!.innerText(), '')
  assert.match(await row.innerText(), /Full/)
  await shoot(page, 'monitor.png')
  await page.check('[data-test=monitor-cards-view]')
  await page.waitForSelector(`.card[data-job="${job.name}"]`)
  await page.reload()
  await page.waitForSelector(`.card[data-job="${job.name}"]`)
  assert.equal(await page.$('[data-test=monitor-table]'), null, 'the cards are kept as chosen')
  await admin('POST', `/api/jobs/${job.id}/stop`, {})
  await ended(job.id)

  // The restore's redirect path in English, its own message.
  await restoreTargetStep(page, 'finance_hq')
  await page.fill('[data-test=restore-path]', 'here')
  assert.equal(await nextRefused(page), 'The redirect path must be absolute (start with /); leave it empty to restore to the original location')

  // An operator has no user list and no audit trail; an admin has both.
  assert.ok(await page.$('[data-test=nav-users]') !== null && await page.$('[data-test=nav-audit]') !== null)
  await admin('POST', '/api/users', { name: 'desk07', password: OP_PW, role: 'operator' })
  const op = await newPage('en')
  await login(op, 'desk07', OP_PW)
  assert.equal(await op.$('[data-test=nav-users]'), null)
  assert.equal(await op.$('[data-test=nav-audit]'), null)
  assert.ok(await op.$('[data-test=nav-me]') !== null)
  await page.context().close()
  await op.context().close()
})

test('en and zh-CN: a disk image task\'s wizard lists the block devices with their partition tables; the restore wizard writes one partition onto a target', async () => {
  // A loop device with a GPT of two partitions (root: losetup), offered by the wizard; the image task itself images a file (no device to share).
  const disk = join(dir, 'wizard-disk.img')
  execFileSync('truncate', ['-s', String(16 << 20), disk])
  execFileSync('sgdisk', ['-n1:2048:+4M', '-c1:boot', '-n2:0:0', '-c2:data', disk], { stdio: 'ignore' })
  const loop = execFileSync('losetup', ['-f', '--show', '-P', disk], { encoding: 'utf8' }).trim()
  try {
    execFileSync('partx', ['-u', loop], { stdio: 'ignore' })
    await admin('PATCH', `/api/nodes/${nodeId}`, { agentTypes: ['filesystem', 'disk-image'] })
    const listed = (await admin('GET', `/api/nodes/${nodeId}/block-devices`)).find((d: any) => d.path === loop)
    assert.deepEqual([listed?.table?.label, listed?.partitions.map((p: any) => [p.number, p.name, p.path])], ['gpt', [[1, 'boot', `${loop}p1`], [2, 'data', `${loop}p2`]]])
    const page = await newPage('en')
    await login(page, 'admin', ADMIN_PW)
    await page.goto(`${base}/#/tasks`)
    await page.click('[data-test=new-task]')
    await page.waitForSelector('[data-test=wizard][data-loaded=true]')
    await page.selectOption('#wiz-agent', 'disk-image')
    await page.click('[data-test=next]')
    const row = await page.waitForSelector(`[data-test=block-devices] tr[data-device="${loop}"]`)
    assert.match(await row.innerText(), /16\.0 MB\s+GPT/)
    assert.match(await text(page, `[data-test=block-devices] tr[data-device="${loop}p2"]`), /partition 2 .*p2\s+data\s+11\.0 MB\s+Linux filesystem \(0FC63DAF…\)/, 'the type by name')
    await page.check(`[data-test=block-devices] tr[data-device="${loop}p1"] input`)
    assert.equal(await page.inputValue('[data-test=device-path]'), `${loop}p1`)

    // The restore: partition 1 of an image task's snapshot into a file, in Chinese.
    execFileSync('dd', ['if=/dev/urandom', `of=${disk}`, 'bs=1M', 'seek=1', 'count=4', 'conv=notrunc', 'status=none'])
    const me = await admin('GET', '/api/users/me')
    const space = await admin('POST', '/api/spaces', { name: 'disk_space', type: 'backup', nodeId, ownerId: me.id, capacityBytes: 2 ** 30 })
    const task = await admin('POST', '/api/tasks', { name: 'Boot-disk', nodeId, spaceId: space.id, agentType: 'disk-image', sources: { include: [disk] } })
    assert.equal((await ended((await admin('POST', `/api/tasks/${task.id}/start`, { level: 'full' })).id)).status, 'success')
    const zh = await newPage('zh-CN')
    await login(zh, 'admin', ADMIN_PW)
    await restoreTargetStep(zh, 'disk_space')
    await zh.waitForSelector(`[data-test=restore-devices] button[data-device="${loop}p1"]`)
    assert.equal(await nextRefused(zh), '请选择要写入磁盘镜像的设备、分区或镜像文件')
    const out = join(dir, 'boot-restored.img')
    await zh.fill('[data-test=restore-path]', out)
    await zh.fill('[data-test=restore-partition]', 'one')
    assert.equal(await nextRefused(zh), '分区须为镜像分区表中的编号（1、2……）；留空则恢复整块磁盘')
    await zh.fill('[data-test=restore-partition]', '1')
    await zh.click('[data-test=next]')
    const review = await text(zh, '[data-test=restore-review]')
    for (const want of ['Boot-disk', out, '分区\t1']) assert.ok(review.includes(want), `the review shows ${want}: ${review}`)
    await zh.click('[data-test=restore-submit]')
    await zh.waitForSelector('[data-test=job-status][data-status=success]')
    execFileSync('cmp', ['-i', `${1 << 20}:0`, '-n', String(4 << 20), disk, out])
    await page.context().close()
    await zh.context().close()
  } finally {
    execFileSync('losetup', ['-d', loop])
  }
})
