// The Archive manager (manual 2.6, F20) against a real `cairn serve` started through the bin, in
// Chinese and in English: an admin creates a local-directory device (a bad name is refused in the
// console's language first), tests its connection, creates an archive task of a backup task's
// latest snapshot to it and runs it; the run shows in Data with its amount and in Records with
// its status, type and device; the copy is cleaned from the store and the restore wizard, with the
// device as its source, brings it back, browses it and restores one file elsewhere (conflict mode
// skip); from the record, a snapshot is brought back from the device. The Data tab also lists a
// virtual tape library's cartridges: barcode, sets on it, scratch, when last recycled.
// test-suite: browser
import test, { after, before } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { en, zh } from './src/i18n.ts'
import { answered, apiAs, pickInRestoreTree, buildConsole, launchBrowser, login, newPage, serve, shoot, until, type Api, type Served } from './testing/e2e-harness.ts'

const PW = 'archives on tape and disk 2027'
let dir = ''
let browser: Browser
let node: Served | undefined
let api: Api
let spaceId = ''
let taskId = ''

before(async () => {
  await buildConsole()
  dir = await mkdtemp(join(tmpdir(), 'cairn-console-archive-'))
  node = await serve(join(dir, 'node'), PW)
  browser = await launchBrowser()
  // The scene: a user space, a backup task and one backup of it.
  api = await apiAs(node.base, 'admin', PW)
  const src = join(dir, 'src')
  await mkdir(src)
  await writeFile(join(src, 'ledger.bin'), randomBytes(512 << 10))
  const nodeId = (await api('GET', '/api/nodes')).find((n: any) => n.local).id
  const ownerId = (await api('GET', '/api/users')).find((u: any) => u.name === 'admin').id
  const space = await api('POST', '/api/spaces', { name: 'finance', type: 'backup', nodeId, ownerId, capacityBytes: 2 ** 30 })
  const task = await api('POST', '/api/tasks', { name: 'ledger-files', nodeId, spaceId: space.id, sources: { include: [src] } })
  spaceId = space.id
  taskId = task.id
  const job = await api('POST', `/api/tasks/${task.id}/start`, { level: 'full' })
  await until('the backup ends', async () => await api('GET', `/api/jobs/${job.id}`), j => j.status !== 'running', 60)
})

after(async () => {
  await browser?.close()
  await node?.stop()
  if (dir !== '') await rm(dir, { recursive: true, force: true })
})

const TEXT = {
  'zh-CN': { title: '归档管理', errName: '名称为 1 到 64 个字符，不含控制字符和斜杠，首尾不能有空格', dir: '本地目录', online: '在线', reachable: /^设备 本地-zh 连接正常：已归档 0 个数据块、0 个快照$/, success: '成功', archive: '归档' },
  en: { title: 'Archive manager', errName: 'A name has 1 to 64 characters, without control characters, slashes or spaces at either end', dir: 'Local directory', online: 'online', reachable: /^Device local-en is reachable: 0 blocks and 0 snapshots archived$/, success: 'success', archive: 'Archive' }
} as const

/** The notice once it matches `re`: an answer is in before the notice shows it (at the next render). */
async function noticeShows (page: Page, re: RegExp): Promise<void> {
  const notice = async (): Promise<string> => await page.innerText('[data-test=archive-notice]')
  await until('the notice shows', notice, n => re.test(n)).catch(() => {})
  assert.match(await notice(), re)
}

async function archiveOnce (lang: 'zh-CN' | 'en'): Promise<Page> {
  const text = TEXT[lang]
  const name = lang === 'en' ? 'local-en' : '本地-zh'
  const folder = join(dir, `archive-${lang}`)
  await mkdir(folder)
  // A tape library with a set on its first cartridge, its second blank (archived through the API, before the run below).
  const library = `tapes-${lang}`
  const [used, blank] = lang === 'en' ? ['ENA001', 'ENA002'] : ['ZHA001', 'ZHA002']
  await api('POST', '/api/archive/devices', { name: library, type: 'vtl', path: join(dir, `vtl-${lang}`), pool: [used, blank], createLibrary: { slots: 2, capacityBytes: 1 << 30 } })
  const toTape = await api('POST', '/api/archive/tasks', { name: `to-${library}`, spaceId, taskIds: [taskId], select: { mode: 'latest' }, device: library, pool: [used] })
  const tapeJob = await api('POST', `/api/archive/tasks/${toTape.id}/start`, {})
  assert.equal((await until('the tape archive ends', async () => await api('GET', `/api/jobs/${tapeJob.id}`), j => j.status !== 'running', 60)).status, 'success')

  const page = await newPage(browser, lang)
  await login(page, node!.base, 'admin', PW)
  await page.click('[data-test=nav-archive]')
  await page.waitForSelector('[data-test=archive-devices]')
  assert.equal(await page.innerText('h1'), text.title)

  // A device: a bad name is refused before anything is sent, then a local directory is created.
  await page.click('[data-test=archive-new-device]')
  await page.fill('#ad-name', ' spaced ')
  await page.fill('#ad-path', folder)
  await page.click('[data-test=archive-save-device]')
  assert.equal(await page.innerText('[data-test=archive-form-error]'), text.errName)
  await page.fill('#ad-name', name)
  const created = await answered(page, 'POST', /^\/api\/archive\/devices$/, async () => await page.click('[data-test=archive-save-device]'))
  assert.equal(created.status(), 201)
  const row = `[data-device="${name}"]`
  await page.waitForSelector(row)
  assert.match(await page.innerText(row), new RegExp(`${name}\\s+${text.dir}`))
  await answered(page, 'POST', /\/test$/, async () => await page.click(`${row} [data-test=archive-test]`))
  await noticeShows(page, text.reachable)
  await until('the status shows', async () => await page.innerText(row), r => r.includes(text.online))

  // An archive task of the backup task's latest snapshot to that device, run now.
  await page.click('[data-test=archive-tab-tasks]')
  await page.click('[data-test=archive-new-task]')
  await page.fill('#at-name', `to-${name}`)
  await page.check('[data-test=archive-pick-ledger-files]')
  await page.selectOption('#at-device', name)
  // Weekly on a schedule: the days are asked for first.
  await page.check('[data-test=archive-scheduled]')
  await page.selectOption('#at-kind-0', 'weekly')
  await page.fill('#at-time-0', '23:30')
  await page.click('[data-test=archive-save-task]')
  assert.equal(await page.innerText('[data-test=archive-form-error]'), (lang === 'en' ? en : zh).wiz.errScheduleWeekdays.replace('{n}', '1'))
  await page.fill('#at-days-0', '1, 3')
  const made = await answered(page, 'POST', /^\/api\/archive\/tasks$/, async () => await page.click('[data-test=archive-save-task]'))
  assert.equal(made.status(), 201)
  const taskRow = `[data-archive-task="to-${name}"]`
  await page.waitForSelector(taskRow)
  assert.doesNotMatch(await page.innerText(`${taskRow} td:nth-child(6)`), /—/, 'its next run is shown')
  const saved = (await api('GET', '/api/archive/tasks')).find((a: any) => a.name === `to-${name}`)
  assert.deepEqual({ mode: saved.mode, kind: saved.schedules[0].kind, days: saved.schedules[0].days, job: saved.schedules[0].job }, { mode: 'scheduled', kind: 'weekly', days: [1, 3], job: 'archive' })
  const started = await answered(page, 'POST', /^\/api\/archive\/tasks\/[^/]+\/start$/, async () => await page.click(`${taskRow} [data-test=archive-run]`))
  assert.equal(started.status(), 202)
  const jobId = (await started.json()).id
  await until('the archive job ends', async () => await api('GET', `/api/jobs/${jobId}`), j => j.status !== 'running', 60)

  // Data: the task, the device and what was archived; Records: status, type, device.
  await answered(page, 'GET', /^\/api\/archive\/data$/, async () => await page.click('[data-test=archive-tab-data]'))
  const dataRow = await page.innerText(`[data-archived="to-${name}"]`)
  assert.match(dataRow, new RegExp(`^to-${name}\\s+${name}\\s+(5\\d\\d(\\.\\d+)? KB|\\d+(\\.\\d+)? MB)\\s+1\\s+1\\s`), dataRow)
  // The tape library's cartridges: the one with the set in use, the other scratch, neither recycled yet.
  const words = lang === 'en' ? en.archive : zh.archive
  const cartridges = `[data-cartridges="${library}"]`
  await page.waitForSelector(`${cartridges} [data-cartridge="${blank}"]`)
  assert.equal(await page.innerText(`${cartridges} h3`), words.cartridgesOf.replace('{name}', library))
  assert.equal((await page.innerText(`${cartridges} thead`)).trim(), [words.barcode, words.setsOn, words.cartridgeState, words.lastRecycled].join('\t'))
  assert.equal((await page.innerText(`${cartridges} [data-cartridge="${used}"]`)).trim(), [used, '1', words.inUse, words.neverRecycled].join('\t'))
  assert.equal((await page.innerText(`${cartridges} [data-cartridge="${blank}"]`)).trim(), [blank, '0', words.scratch, words.neverRecycled].join('\t'))
  await shoot(page, `archive-cartridges-${lang}.png`)
  await answered(page, 'GET', /^\/api\/archive\/records$/, async () => await page.click('[data-test=archive-tab-records]'))
  const record = await page.innerText(`[data-record="${jobId}"]`)
  assert.match(record, new RegExp(`^to-${name}\\s+${text.success}\\s+${text.archive}\\s+${name}\\s`), record)
  return page
}

test('Archive manager, English: a local directory, a test of it, an archive task run, its data and record; bring a snapshot back', async () => {
  const page = await archiveOnce('en')
  await shoot(page, 'archive-en.png')

  // The restore wizard from the device, once the store no longer holds the copy (cleaned, space reclaimed).
  const [snap] = await api('GET', `/api/spaces/${spaceId}/snapshots?taskId=${taskId}`)
  const clean = await api('POST', '/api/data/clean', { taskId, mode: 'snapshots', snapshots: [snap.id] })
  assert.equal((await until('the clean ends', async () => await api('GET', `/api/jobs/${clean.id}`), j => j.status !== 'running', 60)).status, 'success')
  assert.deepEqual(await api('GET', `/api/spaces/${spaceId}/snapshots?taskId=${taskId}`), [])
  const target = join(dir, 'from-archive')
  await mkdir(target)
  await page.click('[data-test=nav-restore]')
  await (await page.waitForSelector('[data-source=archive]')).check()
  await page.selectOption('#r-device', 'local-en')
  await page.click('[data-test=next]')
  await page.waitForSelector(`[data-test=restore-archived] [data-snapshot="${snap.id}"]`)
  assert.match(await page.innerText('[data-test=restore-archived]'), /to-local-en · kept for ever/)
  const brought = await answered(page, 'POST', /^\/api\/archive\/restores$/, async () => await page.click('[data-test=next]'))
  assert.equal(brought.status(), 202)
  await pickInRestoreTree(page, `${join(dir, 'src')}/ledger.bin`)
  await page.click('[data-test=next]')
  await page.fill('[data-test=restore-path]', target)
  await page.check('[data-conflict=skip]')
  await page.click('[data-test=next]')
  assert.match(await page.innerText('[data-test=restore-review]'), /Restore from\s+archive device local-en/)
  const restore = await answered(page, 'POST', /^\/api\/restores$/, async () => await page.click('[data-test=restore-submit]'))
  assert.equal(restore.status(), 202)
  assert.deepEqual(JSON.parse(restore.request().postData() ?? '{}').conflict, 'skip')
  const restored = await until('the restore ends', async () => await api('GET', `/api/jobs/${(await restore.json()).id}`), j => j.status !== 'running', 60)
  assert.equal(restored.status, 'success', JSON.stringify(restored))
  assert.deepEqual(await readFile(join(target, dir, 'src', 'ledger.bin')), await readFile(join(dir, 'src', 'ledger.bin')))
  // Bring back: the archived snapshot, from the record, as an archive-restore job.
  await page.click('[data-test=nav-archive]')
  await page.waitForSelector('[data-test=archive-devices]')
  await answered(page, 'GET', /^\/api\/archive\/records$/, async () => await page.click('[data-test=archive-tab-records]'))
  await page.click('[data-test=archive-records] [data-test=archive-bring-back] >> nth=0')
  await page.waitForSelector('[role=dialog]')
  const asked = await answered(page, 'POST', /^\/api\/archive\/restores$/, async () => await page.click('[data-test=archive-bring-snapshot] >> nth=0'))
  assert.equal(asked.status(), 202)
  const job = await asked.json()
  assert.equal(job.type, 'archive-restore')
  await noticeShows(page, /^Job Restore-to-local-en-\S+ brings snapshot \S+ back$/)
  const ended = await until('the bring-back ends', async () => await api('GET', `/api/jobs/${job.id}`), j => j.status !== 'running', 60)
  assert.equal(ended.status, 'success', JSON.stringify(ended))

  // Edit the task: a second schedule (a daily verify), a tape library's media pool, and its days to keep cleared.
  await api('POST', '/api/archive/devices', { name: 'tapes', type: 'vtl', path: join(dir, 'vtl'), pool: ['CRN001', 'CRN002'], createLibrary: { slots: 4, capacityBytes: 1 << 30 } })
  // Its test names each cartridge of the pool: blank ones are scratch.
  await answered(page, 'GET', /^\/api\/archive\/devices$/, async () => await page.click('[data-test=archive-tab-devices]'))
  await answered(page, 'POST', /\/test$/, async () => await page.click('[data-device="tapes"] [data-test=archive-test]'))
  await noticeShows(page, /^Device tapes is reachable: 0 blocks and 0 snapshots archived Cartridges: CRN001 scratch, CRN002 scratch$/)
  const id = (await api('GET', '/api/archive/tasks')).find((a: any) => a.name === 'to-local-en').id
  await api('PATCH', `/api/archive/tasks/${id}`, { retentionDays: 30 })
  await answered(page, 'GET', /^\/api\/archive\/tasks$/, async () => await page.click('[data-test=archive-tab-tasks]'))
  await page.click('[data-archive-task="to-local-en"] [data-test=archive-edit-task]')
  assert.equal(await page.inputValue('#at-days-0'), '1, 3', 'the saved schedule fills the form')
  assert.equal(await page.inputValue('#at-keep'), '30')
  await page.fill('#at-keep', '')
  await page.click('[data-test=archive-add-schedule]')
  await page.selectOption('#at-job-1', 'archive-verify')
  await page.fill('#at-time-1', '04:15')
  await page.selectOption('#at-device', 'tapes')
  await page.check('[data-test=archive-pool-CRN002]')
  const edited = await answered(page, 'PATCH', /^\/api\/archive\/tasks\/[^/]+$/, async () => await page.click('[data-test=archive-save-task]'))
  assert.equal(edited.status(), 200)
  await noticeShows(page, /^Archive task to-local-en saved$/)
  const after = (await api('GET', '/api/archive/tasks')).find((a: any) => a.name === 'to-local-en')
  assert.equal(after.retentionDays, undefined, 'an emptied days to keep is cleared')
  assert.deepEqual({ device: after.device, pool: after.pool, schedules: after.schedules.map((x: any) => [x.kind, x.time, x.job, x.days]) },
    { device: 'tapes', pool: ['CRN002'], schedules: [['weekly', '23:30', 'archive', [1, 3]], ['daily', '04:15', 'archive-verify', undefined]] })
})

test('Archive manager, 简体中文: the same in Chinese', async () => {
  const page = await archiveOnce('zh-CN')
  await shoot(page, 'archive-zh-CN.png')
})

test('Archive manager, 简体中文: a SCSI tape library (changer and st drives) from the device form; its test names the device nodes this machine lacks', async () => {
  const page = await newPage(browser, 'zh-CN')
  await login(page, node!.base, 'admin', PW)
  await page.click('[data-test=nav-archive]')
  await page.waitForSelector('[data-test=archive-devices]')
  await page.click('[data-test=archive-new-device]')
  await page.fill('#ad-name', 'lto-库')
  await page.selectOption('#ad-type', 'tape')
  await page.fill('#ad-changer', 'sg3')
  await page.fill('#ad-drives', '/dev/nst0')
  await page.fill('#ad-tpool', 'LTO001, LTO002')
  await page.click('[data-test=archive-save-device]')
  assert.equal(await page.innerText('[data-test=archive-form-error]'), zh.archive.errTape)
  const changer = join(dir, 'dev', 'sg3')
  const drives = [join(dir, 'dev', 'nst0'), join(dir, 'dev', 'nst1')]
  await page.fill('#ad-changer', changer)
  await page.fill('#ad-drives', drives.join(', '))
  const created = await answered(page, 'POST', /^\/api\/archive\/devices$/, async () => await page.click('[data-test=archive-save-device]'))
  assert.equal(created.status(), 201)
  assert.deepEqual((await created.json()).config, { type: 'tape', changer, drives, pool: ['LTO001', 'LTO002'] })
  const row = '[data-device="lto-库"]'
  await page.waitForSelector(row)
  assert.match(await page.innerText(row), new RegExp(`lto-库\\s+${zh.archive.type_tape.replace(/[()（）]/g, '.')}`))
  assert.equal(en.archive.type_tape, 'Tape library (SCSI: changer and st drives)')
  await answered(page, 'POST', /\/test$/, async () => await page.click(`${row} [data-test=archive-test]`))
  const failed = async (): Promise<string> => await page.innerText('[data-test=archive-error]')
  await until('the failed test shows', failed, e => e.startsWith('设备 lto-库 不可用：')).catch(() => {})
  assert.match(await failed(), new RegExp(`^设备 lto-库 不可用：.*there is no ${changer}, ${drives.join(', ')} on this machine`))
  await shoot(page, 'archive-tape-zh-CN.png')
})
