// The web console in a real browser (F26, F15–F19, F25): Debian's Chromium driven by playwright-core
// against a real `cairn serve` (LevelDB state, chunkstore stores) on 127.0.0.1 serving console/dist.
// test-suite: browser
import test, { after, before } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtemp, mkdir, readFile, rm, stat, utimes, writeFile, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { answered, apiAs as apiAt, buildConsole, confirmPassword, cspViolations, launchBrowser, login as loginAt, newPage as openPage, pickInRestoreTree, root, serve, shoot, type Served } from './testing/e2e-harness.ts'

const ADMIN_PW = 'console e2e head passphrase'
const OP_PW = 'operator password 01'
let served: Served | undefined
let base = ''
let dir = ''
let browser: Browser
const fixtures = { src: '', restore: '', taskName: 'Backup-docs-e2e' }

const apiAs = async (name: string, password: string): ReturnType<typeof apiAt> => await apiAt(base, name, password)
const newPage = async (lang: 'zh-CN' | 'en' = 'en'): Promise<Page> => await openPage(browser, lang)
const login = async (page: Page, name: string, password: string): Promise<void> => await loginAt(page, base, name, password)

async function findFile (dirPath: string, name: string): Promise<string | undefined> {
  for (const e of await readdir(dirPath, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name === name) return join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)
  }
  return undefined
}

before(async () => {
  await buildConsole()
  dir = await mkdtemp(join(tmpdir(), 'cairn-console-e2e-'))
  fixtures.src = join(dir, 'docs')
  fixtures.restore = join(dir, 'restore')
  await mkdir(join(fixtures.src, 'reports'), { recursive: true })
  await writeFile(join(fixtures.src, 'a.txt'), 'alpha from the snapshot\n')
  await writeFile(join(fixtures.src, 'reports', 'q3.csv'), 'quarter,total\nq3,42\n'.repeat(200))
  served = await serve(join(dir, 'node'), ADMIN_PW)
  base = served.base
  const admin = await apiAs('admin', ADMIN_PW)
  const node = (await admin('GET', '/api/nodes'))[0]
  const ses01 = await admin('POST', '/api/users', { name: 'ses01', password: OP_PW, role: 'operator', email: 'ses01@example.com' })
  const ses02 = await admin('POST', '/api/users', { name: 'ses02', password: OP_PW, role: 'operator' })
  await admin('PATCH', `/api/nodes/${node.id}`, { ownerId: ses01.id, roots: { sources: [dir], restores: [dir] } })
  await admin('POST', '/api/spaces', { name: 'ses01_space', type: 'backup', nodeId: node.id, ownerId: ses01.id, capacityBytes: 50 * 1024 ** 3 })
  await admin('POST', '/api/spaces', { name: 'ses02_space', type: 'backup', nodeId: node.id, ownerId: ses02.id, capacityBytes: 20 * 1024 ** 3 })
  browser = await launchBrowser()
})

after(async () => {
  await browser?.close()
  await served?.stop()
  if (dir !== '') await rm(dir, { recursive: true, force: true })
})

test('a wrong password shows the node\'s error and no session starts', async () => {
  const page = await newPage()
  await page.goto(`${base}/`)
  await page.waitForSelector('#login-user')
  await page.fill('#login-user', 'ses01')
  await page.fill('#login-password', 'not the password at all')
  await page.click('[data-test=login-submit]')
  const err = await page.waitForSelector('[data-test=login-error]')
  assert.match(await err.innerText(), /InvalidCredentials|password/i)
  assert.equal(await page.$('[data-test=whoami]'), null)
  await shoot(page, 'login-error.png')
  await page.context().close()
})

test('the admin sees the home dashboard in Chinese and in English, locks the screen, unlocks and logs out', async () => {
  const page = await newPage('zh-CN')
  await login(page, 'admin', ADMIN_PW)
  await page.waitForSelector('[data-test=capacity]')
  assert.match(await page.innerText('[data-test=home]'), /系统运行时间/)
  assert.match(await page.innerText('[data-test=capacity]'), /70\.0 GB/)
  assert.match(await page.innerText('[data-test=nodes-online]'), /1 \/ 1/)
  await page.selectOption('[data-test=lang]', 'en')
  await page.waitForSelector('text=System uptime')
  // (admin-e2e.test.ts shoots the clients, user spaces and notification screens.)
  for (const nav of ['nodes', 'spaces', 'users', 'logs']) {
    await page.click(`[data-test=nav-${nav}]`)
    await page.waitForSelector(`[data-test=${nav}] tbody tr`)
  }
  // The table shows a "nothing here yet" row until the log arrives: wait for the admin's entries.
  await page.waitForFunction(() => /admin/.test(document.querySelector('[data-test=logs] tbody')?.textContent ?? ''))
  await shoot(page, 'logs.png')
  assert.match(await page.innerText('[data-test=logs]'), /admin/)
  await page.selectOption('[data-test=log-type]', 'storage')
  await page.click('[data-test=log-filter]')
  await page.waitForFunction(() => [...document.querySelectorAll('[data-test=logs] tbody tr td:nth-child(2)')].every(td => td.textContent === 'Storage'))
  assert.match(await page.innerText('[data-test=logs] tbody'), /ses01_space/)
  // Notifications (manual 2.9.2): mail login errors to me; a webhook for alerts shows its secret once.
  await page.click('[data-test=nav-notify]')
  await page.waitForSelector('[data-test=mail-prefs]')
  await page.check('[data-test=mail-enabled]')
  await page.check('[data-type=login]')
  await page.check('[data-level=error]')
  await page.click('[data-test=mail-save]')
  await page.waitForSelector('[data-test=notify] .notice')
  const prefs = await page.evaluate(async () => await (await fetch('/api/users/me/notifications')).json())
  assert.deepEqual([prefs.enabled, prefs.types, prefs.levels], [true, ['login'], ['error']])
  await page.fill('[data-test=hook-url]', 'http://127.0.0.1:9/cairn-hook')
  await page.check('[data-event=alert]')
  await page.check('[data-test=hook-local]')
  await page.click('[data-test=hook-add]')
  await confirmPassword(page, ADMIN_PW)
  assert.match(await (await page.waitForSelector('[data-test=hook-secret]')).innerText(), /\S{16,}/)
  await page.click('[data-test=lock]')
  await page.waitForSelector('.lock #unlock-pw')
  await shoot(page, 'screen-lock.png', 'dialog')
  await page.fill('#unlock-pw', ADMIN_PW)
  await page.click('.lock button[type=submit]')
  await page.waitForSelector('.lock', { state: 'detached' })
  await page.click('[data-test=logout]')
  await page.waitForSelector('#login-user')
  const r = await page.evaluate(async () => (await fetch('/api/auth/session')).status)
  assert.equal(r, 401)
  await page.context().close()
})

test('an operator creates a scheduled backup task with the wizard, runs it and the monitor reaches success', async () => {
  const page = await newPage()
  await login(page, 'ses01', OP_PW)
  await page.click('[data-test=nav-tasks]')
  await page.click('[data-test=new-task]')
  await page.waitForSelector('#wiz-space option', { state: 'attached' })
  await shoot(page, 'task-wizard-1-client.png')
  await page.click('[data-test=next]')
  await page.waitForSelector('[data-test=file-tree] li')
  await page.fill('[data-test=source-path]', fixtures.src)
  await page.click('[data-test=add-source]')
  await shoot(page, 'task-wizard-2-sources.png')
  await page.click('[data-test=next]')
  // Options: a backup bandwidth limit (F12), checked by the API's rules before anything is sent.
  await page.fill('[data-test=bw-default]', '50')
  await page.click('[data-test=wiz-bandwidth] [data-test=add-window]')
  await page.fill('[data-test=window-from]', '25:00')
  await page.fill('[data-test=window-to]', '05:00')
  await page.fill('[data-test=window-mibps]', '5')
  await page.check('[data-test=bw-window] [data-day="1"]')
  await page.check('[data-test=bw-window] [data-day="6"]')
  await page.click('[data-test=next]')
  assert.match(await page.innerText('[data-test=wizard-error]'), /HH:MM to HH:MM/)
  await shoot(page, 'task-wizard-3-options.png')
  await page.fill('[data-test=window-from]', '01:00')
  await page.click('[data-test=next]')
  await page.click('[data-test=add-schedule]')
  await shoot(page, 'task-wizard-4-schedules.png')
  await page.click('[data-test=next]')
  await page.fill('[data-test=task-name]', 'ab')
  await page.click('[data-test=create]')
  assert.match(await page.innerText('[data-test=wizard-error]'), /3 to 64/)
  await page.fill('[data-test=task-name]', fixtures.taskName)
  await page.click('[data-test=create]')
  const row = await page.waitForSelector(`tr[data-task="${fixtures.taskName}"]`)
  assert.match(await row.innerText(), /Scheduled/)
  // Edit (manual 2.2.3): add an exclude pattern; the schedule stays.
  await page.click(`tr[data-task="${fixtures.taskName}"] [data-test=edit]`)
  await page.waitForSelector('#wiz-node[disabled]')
  await page.waitForFunction(() => (document.querySelector('#wiz-node') as HTMLSelectElement | null)?.value !== '')
  await page.click('[data-test=next]')
  await page.fill('#wiz-exclude', '*.tmp')
  for (let i = 0; i < 3; i++) await page.click('[data-test=next]')
  await page.click('[data-test=create]')
  await page.waitForSelector(`tr[data-task="${fixtures.taskName}"]`)
  const stored = await page.evaluate(async () => await (await fetch('/api/tasks')).json())
  assert.deepEqual(stored[0].sources.exclude, ['*.tmp'])
  assert.deepEqual(stored[0].options.bandwidth, { defaultMibps: 50, windows: [{ from: '01:00', to: '05:00', mibps: 5, days: [1, 6] }] }, 'the limit is kept through the edit')
  assert.equal(stored[0].schedules.length, 1)
  assert.equal(stored[0].schedules[0].kind, 'daily')
  await shoot(page, 'tasks.png')
  await page.click(`tr[data-task="${fixtures.taskName}"] [data-test=start]`)
  await page.click('[data-test=start-confirm]')
  await page.waitForSelector('[data-test=job-status][data-status=success]')
  assert.match(await page.innerText('[data-test=job-log]'), /\S/)
  await shoot(page, 'monitor.png')
  await page.click('[data-test=nav-history]')
  await page.waitForSelector('[data-test=history] td.status-success')
  await shoot(page, 'history.png')
  // The task's details (manual 2.2.5): sources, options, the schedule with its next run, the run.
  await page.click('[data-test=nav-tasks]')
  await page.click(`tr[data-task="${fixtures.taskName}"] [data-test=task-details]`)
  await page.waitForSelector('[data-test=task-runs] tr[data-status=success]')
  const sources = await page.innerText('[data-test=task-sources]')
  assert.ok(sources.includes(fixtures.src) && sources.includes('*.tmp'), sources)
  assert.match(await page.innerText('[data-test=task-options]'), /Compression\s+zstd 3/)
  assert.match(await page.innerText('[data-test=task-bandwidth]'), /Outside the windows: 50 MiB\/s\s+From\s+To\s+Limit\s+Days\s+01:00\s+05:00\s+5 MiB\/s\s+Mon, Sat/)
  const schedule = await page.innerText('[data-test=task-schedules] tbody tr')
  assert.match(schedule, /^Daily\s+Backup\s+\d{4}-\d{2}-\d{2}\s+02:00[\s\S]*Incremental\s+yes\s+\S+/)
  assert.doesNotMatch(schedule.split('\t')[7] ?? '', /^—$/, 'the next run is known')
  await shoot(page, 'task-details.png')
  await page.click('[data-test=nav-home]')
  await page.waitForSelector('[data-test=capacity]')
  await page.context().close()
})

test('restore one file with each conflict mode: overwrite, skip, keep-newer', async () => {
  const page = await newPage()
  await login(page, 'ses01', OP_PW)
  const restoreWith = async (conflict: 'overwrite' | 'skip' | 'keep-newer', shot?: string): Promise<void> => {
    await page.click('[data-test=nav-restore]')
    await page.waitForSelector('[data-test=restore-task] option', { state: 'attached' })
    await page.click('[data-test=next]')
    await page.waitForSelector('.timeline input')
    await page.click('[data-test=next]')
    await pickInRestoreTree(page, join(fixtures.src, 'a.txt'))
    if (shot !== undefined) await shoot(page, shot)
    await page.click('[data-test=next]')
    await page.fill('[data-test=restore-path]', fixtures.restore)
    await page.check(`[data-conflict=${conflict}]`)
    await page.click('[data-test=next]')
    await page.click('[data-test=restore-submit]')
    await page.waitForSelector('[data-test=job-status][data-status=success]')
  }
  await restoreWith('overwrite', 'restore-files.png')
  const file = await findFile(fixtures.restore, 'a.txt')
  assert.ok(file !== undefined, 'a.txt restored below the redirect path')
  assert.equal(await readFile(file, 'utf8'), 'alpha from the snapshot\n')
  assert.equal(await findFile(fixtures.restore, 'q3.csv'), undefined, 'only the selected file is restored')

  await writeFile(file, 'changed here\n')
  await restoreWith('overwrite')
  assert.equal(await readFile(file, 'utf8'), 'alpha from the snapshot\n')

  await writeFile(file, 'local edit to keep\n')
  await restoreWith('skip')
  assert.equal(await readFile(file, 'utf8'), 'local edit to keep\n')

  // keep-newer: a newer local file stays, an older one is replaced by the snapshot's.
  const future = new Date(Date.now() + 86400_000)
  await utimes(file, future, future)
  await restoreWith('keep-newer')
  assert.equal(await readFile(file, 'utf8'), 'local edit to keep\n')
  const past = new Date('2001-01-01T00:00:00Z')
  await utimes(file, past, past)
  await restoreWith('keep-newer')
  assert.equal(await readFile(file, 'utf8'), 'alpha from the snapshot\n')
  assert.ok((await stat(file)).mtime.getTime() > past.getTime())
  await shoot(page, 'restore-monitor.png')
  await page.context().close()
})

test('another operator cannot see ses01\'s task, space or jobs', async () => {
  const page = await newPage()
  await login(page, 'ses02', OP_PW)
  // The empty-table placeholder is a row too: read a table only after its data has arrived,
  // or a negative check could pass before anything loaded.
  const loaded = async (nav: string, api: RegExp): Promise<void> => { await answered(page, 'GET', api, async () => await page.click(nav)) }
  await loaded('[data-test=nav-tasks]', /^\/api\/tasks$/)
  await page.waitForSelector('[data-test=tasks] tbody tr')
  assert.doesNotMatch(await page.innerText('[data-test=tasks]'), new RegExp(fixtures.taskName))
  await loaded('[data-test=nav-history]', /^\/api\/jobs$/)
  await page.waitForSelector('[data-test=history] tbody tr')
  assert.doesNotMatch(await page.innerText('[data-test=history]'), /Backup-docs-e2e|Restore-/)
  await page.click('[data-test=nav-spaces]')
  await page.waitForSelector('[data-test=spaces] tbody tr:has-text("ses02_space")')
  const spaces = await page.innerText('[data-test=spaces]')
  assert.match(spaces, /ses02_space/)
  assert.doesNotMatch(spaces, /ses01_space/)
  await page.context().close()
})

test('data management cleans a chosen copy and the table shows one copy fewer', async () => {
  const page = await newPage()
  await login(page, 'ses01', OP_PW)
  await page.click('[data-test=nav-data]')
  const copies = async (): Promise<number> => Number(await page.innerText(`tr[data-task="${fixtures.taskName}"] [data-test=copies]`))
  await page.waitForSelector(`tr[data-task="${fixtures.taskName}"]`)
  assert.equal(await copies(), 1)
  // A second copy, so cleaning one leaves a restorable copy behind (F18).
  await page.click('[data-test=nav-tasks]')
  await page.click(`tr[data-task="${fixtures.taskName}"] [data-test=start]`)
  await page.click('[data-test=start-confirm]')
  await page.waitForSelector('[data-test=job-status][data-status=success]')
  await page.click('[data-test=nav-data]')
  await page.waitForSelector(`tr[data-task="${fixtures.taskName}"]`)
  assert.equal(await copies(), 2)
  await shoot(page, 'data.png')
  await page.click(`tr[data-task="${fixtures.taskName}"] [data-test=clean]`)
  await page.check('[data-test=snapshot] >> nth=0')
  await page.fill('[data-test=clean-password]', OP_PW)
  await page.click('[data-test=clean-snapshots]')
  await page.waitForSelector('[data-test=job-status][data-status=success]')
  await page.click('[data-test=nav-data]')
  await page.waitForSelector(`tr[data-task="${fixtures.taskName}"]`)
  assert.equal(await copies(), 1)
  // A DR drill of the copy left restores it to scratch space, compares and verifies it (F8).
  await page.click('[data-test=nav-tasks]')
  await page.click(`tr[data-task="${fixtures.taskName}"] [data-test=drill]`)
  await page.waitForSelector('[data-test=job-status][data-status=success]')
  await page.click('[data-test=nav-drills]')
  await page.waitForSelector('[data-test=drills] td.status-success')
  assert.match(await page.innerText('[data-test=drills] tbody'), /passed/)
  await shoot(page, 'drills.png')
  await page.context().close()
})

test('USB key login (F27): password, then the token PIN through the local signing helper; a wrong PIN shows its error', async () => {
  // The SoftHSM2 fixture's script mode makes a token with an EC key and its certificate in a temp folder.
  const made = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'crypto', 'testing', 'softhsm.ts')], { cwd: root, encoding: 'utf8' })
  assert.equal(made.status, 0, made.stderr)
  const hsm = JSON.parse(made.stdout) as { dir: string, modulePath: string, env: Record<string, string>, tokenLabel: string, pin: string, ec: { certificatePem: string } }
  const helper = spawn(process.execPath, [join(root, 'node', 'bin', 'cairn.js'), 'token', 'helper', '--console-origin', base, '--port', '0', '--pkcs11-module', hsm.modulePath], {
    cwd: root, env: { ...process.env, ...hsm.env }, stdio: ['ignore', 'pipe', 'pipe']
  })
  try {
    const helperUrl = await new Promise<string>((resolve, reject) => {
      let out = ''
      helper.stdout!.on('data', (b: Buffer) => { out += b.toString(); const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out); if (m !== null) resolve(m[1]) })
      helper.on('exit', code => reject(new Error(`signing helper exited ${code}: ${out}`)))
    })
    const admin = await apiAs('admin', ADMIN_PW)
    await admin('POST', '/api/users', { name: 'ses03', password: OP_PW, role: 'operator' })
    // The admin enrols the key's certificate on the users screen.
    const adminPage = await newPage()
    await login(adminPage, 'admin', ADMIN_PW)
    await adminPage.click('[data-test=nav-users]')
    await adminPage.click('[data-test=enrol-ses03]')
    await adminPage.fill('[data-test=certificate]', hsm.ec.certificatePem)
    await adminPage.click('[data-test=enrol-save]')
    await confirmPassword(adminPage, ADMIN_PW)
    await adminPage.waitForSelector('[data-test=users] .notice')
    await shoot(adminPage, 'users.png')
    await adminPage.context().close()
    const page = await newPage()
    await page.goto(`${base}/#/login`)
    await page.fill('#login-user', 'ses03')
    await page.fill('#login-password', OP_PW)
    await page.click('[data-test=login-submit]')
    await page.waitForSelector('[data-test=token-step]')
    await page.fill('#token-label', hsm.tokenLabel)
    await page.fill('#key-label', 'operator-ec')
    await page.fill('#helper-url', helperUrl)
    await page.fill('#token-pin', '999999')
    await page.click('[data-test=token-submit]')
    assert.match(await (await page.waitForSelector('[data-test=login-error]')).innerText(), /The PIN of USB key .* is wrong/)
    await shoot(page, 'login-token-wrong-pin.png')
    await page.fill('#token-pin', hsm.pin)
    await page.click('[data-test=token-submit]')
    assert.match(await (await page.waitForSelector('[data-test=whoami]')).innerText(), /ses03/)
    await page.context().close()
  } finally {
    const exited = new Promise(resolve => helper.once('exit', resolve))
    helper.kill('SIGTERM')
    await exited
    await rm(hsm.dir, { recursive: true, force: true })
  }
})

test('the home dashboard shows the day\'s backups and the user spaces, in Chinese and in English', async () => {
  const page = await newPage('zh-CN')
  await login(page, 'admin', ADMIN_PW)
  await page.waitForSelector('[data-test=capacity]')
  const volume = await page.evaluate(async () => (await (await fetch('/api/dashboard')).json()).dailyBackupBytes.at(-1).bytes)
  assert.ok(volume > 0, 'today\'s backup volume is on the chart')
  assert.match(await page.innerText('[data-test=home]'), /ses01_space/)
  await shoot(page, 'home-zh-CN.png')
  await page.selectOption('[data-test=lang]', 'en')
  await page.waitForSelector('text=Daily backup volume')
  await shoot(page, 'home-en.png')
  await page.click('[data-test=nav-reports]')
  await page.check('[data-test=reports] input[value=clients]')
  await page.waitForSelector('[data-test=reports] tbody tr td:nth-child(7)')
  assert.match(await page.innerText('[data-test=reports]'), /Backup data size/)
  await shoot(page, 'reports.png')
  await page.click('[data-test=nav-audit]')
  await page.click('[data-test=audit-verify]')
  assert.match(await (await page.waitForSelector('[data-test=audit-verdict]')).innerText(), /intact/)
  assert.match(await page.innerText('[data-test=audit] tbody'), /ses01/)
  await shoot(page, 'audit.png')
  await page.click('[data-test=nav-me]')
  await page.waitForSelector('[data-test=account] tbody tr')
  await shoot(page, 'account.png')
  await page.context().close()
})

test('deleting a task needs the word YES and the password', async () => {
  const page = await newPage()
  await login(page, 'ses01', OP_PW)
  await page.click('[data-test=nav-tasks]')
  await page.click(`tr[data-task="${fixtures.taskName}"] [data-test=delete]`)
  await page.fill('[data-test=delete-yes]', 'yes')
  assert.equal(await page.isDisabled('[data-test=delete-confirm]'), true)
  await page.fill('[data-test=delete-yes]', 'YES')
  await page.fill('[data-test=delete-password]', OP_PW)
  await page.click('[data-test=delete-confirm]')
  await page.waitForSelector(`tr[data-task="${fixtures.taskName}"]`, { state: 'detached' })
  await page.context().close()
  assert.deepEqual(cspViolations, [], 'the console runs under the node\'s Content-Security-Policy (issue 13)')
})
