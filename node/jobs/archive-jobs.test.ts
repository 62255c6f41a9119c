// Archive tasks in a running daemon (F20) with a manual clock: a daily schedule fires an archive
// run at its time and a weekly one a verify of the device, as the system, into the history; only admins add devices; an archive job can be
// stopped (held before its body by a job gate) and its task not edited meanwhile, and the rerun
// writes what the device lacks; a tape library's cartridges as the Data view lists them (busy while a
// writer holds the library; when a run last recycled one). Real parts: the daemon's LevelDB state, chunkstore stores and a
// local-directory archive device in temporary folders, HTTP on 127.0.0.1.
import test from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { localDirectoryMedium, lockDevice, openPackBlockStore } from '../archive/index.ts'
import { finished, jobGate, spaceFor, startTestDaemon, withUsers } from '../testing/index.ts'

test('an archive task\'s schedule fires archive runs; stop and rerun; devices are for admins', async (t) => {
  const gate = jobGate()
  const d = await startTestDaemon({ accounts: { idleTimeoutMs: 10 ** 12, absoluteTimeoutMs: 10 ** 12 }, jobs: { beforeJob: gate.beforeJob } })
  const src = await mkdtemp(join(tmpdir(), 'cairn-src-'))
  t.after(async () => { await d.close(); await rm(src, { recursive: true, force: true }) })
  await writeFile(join(src, 'a.bin'), randomBytes(300 << 10))
  const { admin, operator, auditor, operatorId } = await withUsers(d)
  const { nodeId, spaceId } = await spaceFor(d, admin, operatorId)
  const task = (await operator.post('/api/tasks', { name: 'files', nodeId, spaceId, sources: { include: [src] } })).body
  assert.equal((await finished(d, operator, (await operator.post(`/api/tasks/${task.id}/start`, { level: 'full' })).body.id)).status, 'success')

  const folder = join(d.dir, 'archive-disk')
  await mkdir(folder)
  assert.equal((await operator.post('/api/archive/devices', { name: 'disk', type: 'dir', path: folder })).status, 403, 'an operator adds no device')
  assert.equal((await admin.post('/api/archive/devices', { name: 'disk', type: 'dir', path: folder })).status, 201)

  // Daily at 03:00 UTC from the day the clock shows (2026-03-02).
  const created = await operator.post('/api/archive/tasks', {
    name: 'nightly', spaceId, taskIds: [task.id], select: { mode: 'latest' }, device: 'disk', mode: 'scheduled',
    schedules: [{ kind: 'daily', startDate: '2026-03-02', time: '03:00' }, { kind: 'weekly', days: [2], startDate: '2026-03-02', time: '05:00', job: 'archive-verify' }]
  })
  assert.equal(created.status, 201, created.text)
  assert.equal(created.body.schedules[0].job, 'archive')
  assert.equal(created.body.nextRuns[0].nextRunAt, '2026-03-02T03:00:00.000Z')
  assert.equal((await auditor.post(`/api/archive/tasks/${created.body.id}/start`)).status, 403, 'an auditor runs nothing')

  // Held before its body: stopped, and the task is not edited while it runs.
  gate.hold()
  const held = (await operator.post(`/api/archive/tasks/${created.body.id}/start`)).body
  assert.equal((await operator.patch(`/api/archive/tasks/${created.body.id}`, { retentionDays: 7 })).status, 409)
  assert.equal((await operator.post(`/api/archive/tasks/${created.body.id}/start`)).status, 409, 'one run of a task at a time')
  const stopping = operator.post(`/api/jobs/${held.id}/stop`)
  gate.release()
  assert.equal((await stopping).status, 200)
  assert.equal((await finished(d, operator, held.id)).status, 'stopped')

  // The schedule fires at 03:00 as the system; the run writes what the device lacks.
  await d.clock.set(new Date('2026-03-02T03:00:00Z'))
  await d.daemon.scheduler.idle()
  const fired = (await operator.get('/api/jobs?type=archive&pageSize=50')).body.items.find((j: any) => j.trigger === 'schedule')
  assert.ok(fired !== undefined, 'a scheduled archive run')
  const run = await finished(d, operator, fired.id)
  assert.equal(run.status, 'success', JSON.stringify(run))
  assert.equal(run.user, 'system')
  assert.ok(run.result.bytesWritten > 300 << 10 && run.result.rootsAdded === 1)
  assert.equal((await operator.get(`/api/archive/tasks/${created.body.id}`)).body.nextRuns[0].nextRunAt, '2026-03-03T03:00:00.000Z')

  // The next day's run finds everything there.
  await d.clock.set(new Date('2026-03-03T03:00:00Z'))
  await d.daemon.scheduler.idle()
  const second = (await operator.get('/api/jobs?type=archive&pageSize=50')).body.items.filter((j: any) => j.trigger === 'schedule')
  assert.equal(second.length, 2)
  const again = await finished(d, operator, second[0].id)
  assert.equal(again.result.bytesWritten, 0)

  // Tuesdays at 05:00 the task's device is verified (2026-03-03 is a Tuesday).
  await d.clock.set(new Date('2026-03-03T05:00:00Z'))
  await d.daemon.scheduler.idle()
  const verify = (await admin.get('/api/jobs?type=archive-verify&pageSize=50')).body.items
  assert.equal(verify.length, 1)
  const verified = await finished(d, admin, verify[0].id)
  assert.equal(verified.trigger, 'schedule')
  assert.deepEqual({ status: verified.status, device: verified.params.device, bad: verified.result.bad }, { status: 'success', device: 'disk', bad: 0 })
  assert.ok(verified.result.blocks > 0)

  // Each run records its set on the device; with a retention, a later run removes the sets
  // whose time is up (by the daemon's clock), and keeps those of runs made without one.
  const sets = async (): Promise<string[]> => (await readdir(join(folder, 'sets'))).sort()
  assert.deepEqual(await sets(), [`${run.id}.json`, `${again.id}.json`].sort())
  assert.equal((await operator.patch(`/api/archive/tasks/${created.body.id}`, { retentionDays: 1 })).status, 200)
  const kept1Day = await finished(d, operator, (await operator.post(`/api/archive/tasks/${created.body.id}/start`)).body.id)
  assert.equal(kept1Day.status, 'success')
  assert.equal((await sets()).length, 3)
  // Records show the expiry each run's set was written with: none for the runs made before the retention.
  const records = (await operator.get('/api/archive/records')).body
  const expiryOf = (id: string): string | undefined => records.find((r: any) => r.jobId === id).expiresAt
  assert.deepEqual([expiryOf(run.id), expiryOf(again.id), expiryOf(kept1Day.id)], [undefined, undefined, '2026-03-04T05:00:00.000Z'])
  await d.clock.set(new Date('2026-03-04T06:00:00Z'))
  await d.daemon.scheduler.idle()
  const next = (await operator.get('/api/jobs?type=archive&pageSize=50')).body.items.filter((j: any) => j.trigger === 'schedule')
  assert.equal(next.length, 3)
  assert.equal((await finished(d, operator, next[0].id)).status, 'success')
  assert.deepEqual(await sets(), [`${run.id}.json`, `${again.id}.json`, `${next[0].id}.json`].sort(), 'the one-day set of 03-03 is gone')

  // Days to keep cleared (null): the next run's set is kept for ever; a set already written keeps its expiry.
  const cleared = await operator.patch(`/api/archive/tasks/${created.body.id}`, { retentionDays: null })
  assert.equal(cleared.status, 200, cleared.text)
  assert.equal((await operator.get(`/api/archive/tasks/${created.body.id}`)).body.retentionDays, undefined)
  const forever = await finished(d, operator, (await operator.post(`/api/archive/tasks/${created.body.id}/start`)).body.id)
  assert.equal(forever.status, 'success')
  const setOf = async (id: string): Promise<{ expiresAt?: string }> => JSON.parse(await readFile(join(folder, 'sets', `${id}.json`), 'utf8'))
  assert.equal((await setOf(forever.id)).expiresAt, undefined)
  assert.equal((await setOf(next[0].id)).expiresAt, '2026-03-05T06:00:00.000Z')
  assert.equal((await operator.patch(`/api/archive/tasks/${created.body.id}`, { retentionDays: 0 })).status, 400, 'zero days is no retention: null clears it')

  // A snapshot on the device that no set names (archived by `cairn archive run`, or before sets
  // were recorded: here a run's set record taken away) used to stop every expiry there; the next
  // run records a set for it, kept for ever, claiming the blocks no set claims, and the set whose
  // time is up goes.
  await writeFile(join(src, 'b.bin'), randomBytes(100 << 10))
  assert.equal((await finished(d, operator, (await operator.post(`/api/tasks/${task.id}/start`, { level: 'incremental' })).body.id)).status, 'success')
  const old = await finished(d, operator, (await operator.post(`/api/archive/tasks/${created.body.id}/start`)).body.id)
  const oldSet = JSON.parse(await readFile(join(folder, 'sets', `${old.id}.json`), 'utf8'))
  await rm(join(folder, 'sets', `${old.id}.json`))
  await writeFile(join(src, 'c.bin'), randomBytes(100 << 10))
  assert.equal((await finished(d, operator, (await operator.post(`/api/tasks/${task.id}/start`, { level: 'incremental' })).body.id)).status, 'success')
  // By hand from here: the daily schedule would fire as the clock moves on.
  assert.equal((await operator.patch(`/api/archive/tasks/${created.body.id}`, { mode: 'manual' })).status, 200)
  await d.clock.set(new Date('2026-03-06T00:00:00Z'))
  const healed = await finished(d, operator, (await operator.post(`/api/archive/tasks/${created.body.id}/start`)).body.id)
  assert.equal(healed.status, 'success', JSON.stringify(healed))
  assert.deepEqual(healed.result.expired, { sets: 1, bytes: healed.result.expired.bytes })
  assert.ok(!(await sets()).includes(`${next[0].id}.json`), 'the set whose time was up is gone')
  const recorded = await setOf(`${healed.id}-unrecorded`)
  assert.deepEqual({ roots: (recorded as any).roots, expiresAt: recorded.expiresAt }, { roots: oldSet.roots, expiresAt: undefined })
  const device = await openPackBlockStore(await localDirectoryMedium({ device: 'disk', dir: folder }))
  const needed = Buffer.from(oldSet.blocks, 'base64')
  const cids = Array.from({ length: needed.length / 36 }, (_, i) => CID.decode(needed.subarray(i * 36, i * 36 + 36)))
  assert.ok((await device.hasMany(cids)).every(Boolean), 'every block of the unrecorded snapshot is still there')
  assert.ok((await device.snapshotRoots()).some(r => r.toString() === oldSet.roots[0]))
})

test('an archive task writes to its media pool of a tape library, and only there; the cartridges as the Data view shows them', async (t) => {
  // Sessions outlast the clock's moves below.
  const d = await startTestDaemon({ accounts: { idleTimeoutMs: 10 ** 12, absoluteTimeoutMs: 10 ** 12 } })
  const src = await mkdtemp(join(tmpdir(), 'cairn-src-'))
  t.after(async () => { await d.close(); await rm(src, { recursive: true, force: true }) })
  await writeFile(join(src, 'a.bin'), randomBytes(200 << 10))
  const { admin, operator, operatorId } = await withUsers(d)
  const { nodeId, spaceId } = await spaceFor(d, admin, operatorId)
  const task = (await operator.post('/api/tasks', { name: 'files', nodeId, spaceId, sources: { include: [src] } })).body
  assert.equal((await finished(d, operator, (await operator.post(`/api/tasks/${task.id}/start`, { level: 'full' })).body.id)).status, 'success')
  const library = join(d.dir, 'tape-library')
  const added = await admin.post('/api/archive/devices', { name: 'vtl', type: 'vtl', path: library, pool: ['DAY001', 'DAY002', 'OFF001'], createLibrary: { slots: 4, capacityBytes: 64 << 20 } })
  assert.equal(added.status, 201, added.text)
  const again = await admin.post('/api/archive/devices', { name: 'vtl-2', type: 'vtl', path: library, pool: ['X1'], createLibrary: { slots: 1, capacityBytes: 64 << 20 } })
  assert.equal(again.status, 400, 'a second library over the first is refused')
  assert.equal(JSON.parse(await readFile(join(library, 'library.json'), 'utf8')).slots.length, 4, 'and the first is untouched')
  const base = { spaceId, taskIds: [task.id], select: { mode: 'latest' }, device: 'vtl' }
  assert.equal((await operator.post('/api/archive/tasks', { ...base, name: 'bad-pool', pool: ['OFF009'] })).status, 400, 'a cartridge the device has not')
  const offsite = await operator.post('/api/archive/tasks', { ...base, name: 'offsite', pool: ['OFF001'] })
  assert.equal(offsite.status, 201, offsite.text)
  const run = await finished(d, operator, (await operator.post(`/api/archive/tasks/${offsite.body.id}/start`)).body.id)
  assert.equal(run.status, 'success', JSON.stringify(run))
  assert.deepEqual(run.params.pool, ['OFF001'])
  const eod = async (barcode: string): Promise<number> => JSON.parse(await readFile(join(library, 'cartridges', `${barcode}.json`), 'utf8')).eod
  assert.ok(await eod('OFF001') > 200 << 10, 'the set is on the offsite cartridge')
  assert.equal(await eod('DAY001'), 0, 'and nothing on the others')
  assert.equal(await eod('DAY002'), 0)
  // The Data view's cartridges: the set on OFF001, the others scratch.
  const cartridges = await operator.get('/api/archive/devices/vtl/cartridges')
  assert.equal(cartridges.status, 200, cartridges.text)
  const want = [{ barcode: 'DAY001', sets: 0, scratch: true }, { barcode: 'DAY002', sets: 0, scratch: true }, { barcode: 'OFF001', sets: 1, scratch: false }]
  assert.deepEqual({ ...cartridges.body, readAt: undefined }, { device: 'vtl', busy: false, readAt: undefined, cartridges: want })
  // While a writer holds the library its changer is left alone: what was last read, marked busy.
  const release = await lockDevice(`vtl ${library}`, { file: join(library, 'lock') }, { purpose: 'a writer in this test' })
  try {
    const busy = await operator.get('/api/archive/devices/vtl/cartridges')
    assert.deepEqual({ busy: busy.body.busy, readAt: busy.body.readAt, cartridges: busy.body.cartridges }, { busy: true, readAt: cartridges.body.readAt, cartridges: want })
  } finally { await release() }

  // A cartridge whose every set has expired is recycled by the next run on the library; the view says when.
  const src2 = join(src, 'other'); await mkdir(src2)
  await writeFile(join(src2, 'b.bin'), randomBytes(100 << 10))
  const made = await operator.post('/api/tasks', { name: 'other-files', nodeId, spaceId, sources: { include: [src2] } })
  assert.equal(made.status, 201, made.text)
  const other = made.body
  const backup = await operator.post(`/api/tasks/${other.id}/start`, { level: 'full' })
  assert.equal(backup.status, 202, backup.text)
  assert.equal((await finished(d, operator, backup.body.id)).status, 'success')
  const daily = await operator.post('/api/archive/tasks', { ...base, name: 'daily', pool: ['DAY001'], retentionDays: 1 })
  assert.equal((await finished(d, operator, (await operator.post(`/api/archive/tasks/${daily.body.id}/start`)).body.id)).status, 'success')
  assert.ok(await eod('DAY001') > 0)
  await d.clock.set(new Date(d.clock.now().getTime() + 2 * 86_400_000))
  // Another backup task's snapshot, onto DAY002 first: nothing of it needs DAY001, whose only set has expired.
  const next = await operator.post('/api/archive/tasks', { ...base, taskIds: [other.id], name: 'next', pool: ['DAY002', 'DAY001'] })
  const recycler = await finished(d, operator, (await operator.post(`/api/archive/tasks/${next.body.id}/start`)).body.id)
  assert.deepEqual(recycler.result?.expired?.recycled, ['DAY001'], JSON.stringify(recycler))
  const after = (await operator.get('/api/archive/devices/vtl/cartridges')).body.cartridges
  assert.deepEqual(after.find((c: { barcode: string }) => c.barcode === 'DAY001'), { barcode: 'DAY001', sets: 0, scratch: true, lastRecycledAt: recycler.endedAt })
  assert.equal(after.find((c: { barcode: string }) => c.barcode === 'DAY002').lastRecycledAt, undefined)
  // Moved to another device without a pool, the task's media pool goes with its old device.
  const folder = join(d.dir, 'disk'); await mkdir(folder)
  assert.equal((await admin.post('/api/archive/devices', { name: 'disk', type: 'dir', path: folder })).status, 201)
  const moved = await operator.patch(`/api/archive/tasks/${offsite.body.id}`, { device: 'disk' })
  assert.equal(moved.status, 200, moved.text)
  assert.equal(moved.body.pool, undefined)
  assert.equal((await operator.get('/api/archive/devices/disk/cartridges')).status, 400, 'a folder has no cartridges')
  // A SCSI library (changer and st drives): its pool serves tasks alike; its test names the device nodes this machine lacks.
  const nodes = { changer: join(d.dir, 'dev', 'sg3'), drives: [join(d.dir, 'dev', 'nst0')] }
  const lto = await admin.post('/api/archive/devices', { name: 'lto', type: 'tape', ...nodes, pool: ['LTO001', 'LTO002'] })
  assert.equal(lto.status, 201, lto.text)
  assert.equal((await admin.post('/api/archive/devices', { name: 'lto-bad', type: 'tape', changer: 'sg3', drives: ['/dev/nst0'], pool: ['LTO001'] })).status, 400, 'a relative device node')
  assert.equal((await operator.post('/api/archive/tasks', { ...base, name: 'to-lto', device: 'lto', pool: ['LTO002'] })).status, 201)
  const probe = (await admin.post('/api/archive/devices/lto/test')).body
  assert.equal(probe.ok, false)
  assert.match(probe.error.message, new RegExp(`there is no ${nodes.changer}, ${nodes.drives[0]} on this machine`))
  // Its cartridges are a SCSI library's too: read from the changer, so unavailable here, not refused as another kind of device.
  const lookAt = await operator.get('/api/archive/devices/lto/cartridges')
  assert.equal(lookAt.status, 503, lookAt.text)
  assert.match(lookAt.body.message, /there is no .* on this machine/)
})
