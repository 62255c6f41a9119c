// Archive devices and archive tasks in the daemon (F20, manual 2.6): the devices this node
// knows (kept in the archive device registry beside its state, an S3 secret key sealed there and
// never returned or logged), the archive tasks of user spaces (which backup tasks' snapshots, to
// which device, on which schedules, kept how long), and the jobs that run them: `archive` (the
// chosen snapshots' blocks the device lacks, then their roots) and `archive-verify` (every block
// on a device read back and checked against its CID). Both are job kinds (job-kinds.ts), so they
// show in the monitor and history with bytes, speed and ETA, and stop like any job.
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import type { Repository, SnapshotRecord } from '../../chunkstore/index.ts'
import {
  ArchiveDeviceInvalidError, copyBlocks, createVirtualTapeLibrary, openArchiveDevice, openDeviceRegistry, poolOf, snapshotSelection, verifyBlocks,
  type DeviceConfig, type ExpiryResult, type LockOptions, type DeviceRecord, type DeviceRegistry, type OpenDevice
} from '../archive/index.ts'
import type { User } from '../auth/index.ts'
import type { Clock } from '../clock/index.ts'
import { said, type LogBook } from '../logs/index.ts'
import { NameTakenError, NotYoursError, type Actor, type Inventory, type SpaceRecord } from '../inventory/index.ts'
import type { StateStore } from '../state/index.ts'
import type { JobContext, JobRecord, JobRunner } from './job-runner.ts'
import type { Repositories } from './repositories.ts'
import { validateSchedule, type Schedule } from './schedule.ts'
import type { Tasks } from './tasks.ts'
import { jobStamp } from './operations.ts'
import { ArchiveDeviceInUseError, ConfirmationRequiredError, TaskInvalidError, TaskRunningError } from './errors.ts'

/** What a device is added with: its settings, and for S3 its secret key (stored sealed, never shown). */
export type DeviceInput =
  | { name: string, type: 'dir', path: string }
  | { name: string, type: 's3', endpoint?: string, region?: string, bucket: string, prefix?: string, pathStyle?: boolean, accessKeyId: string, secretAccessKey: string, retentionDays?: number }
  | { name: string, type: 'vtl', path: string, pool: string[], createLibrary?: { slots: number, capacityBytes: number } }
  | { name: string, type: 'tape', changer: string, drives: string[], pool: string[], recordSize?: number }

/** A device as the API shows it: never its secret, only whether one is stored. */
export interface DeviceView extends DeviceRecord {
  /** The node the device is attached to: this one. */
  nodeId: string
  status: 'unknown' | 'online' | 'offline'
  checkedAt?: string
  message?: string
}

export interface DeviceTest { name: string, ok: boolean, blocks?: number, snapshots?: number, details?: Record<string, unknown>, error?: { name: string, message: string } }

/** An archive task (manual 2.6): which snapshots of which backup tasks go to which device, when. */
export interface ArchiveTaskRecord {
  id: string
  name: string
  spaceId: string
  ownerId: string
  /** Backup tasks of the space whose snapshots are archived. */
  taskIds: string[]
  /** The latest snapshot of each task, or every snapshot whose time is in [from, to]. */
  select: { mode: 'latest' } | { mode: 'range', from: string, to: string }
  device: string
  /** A tape library device's media pool for this task: some of the device's cartridges, in order; absent: all of them. */
  pool?: string[]
  /** Days the archived copies are to be kept on the device (shown with each run); absent: forever. */
  retentionDays?: number
  mode: 'manual' | 'scheduled'
  schedules: Schedule[]
  createdAt: string
  updatedAt: string
  createdBy: string
}

export type ArchiveTaskInput = Pick<ArchiveTaskRecord, 'name' | 'spaceId' | 'taskIds' | 'select' | 'device'> & {
  pool?: string[]
  retentionDays?: number
  mode?: ArchiveTaskRecord['mode']
  /** `job`: an archive run (the default) or a verify of the task's device. */
  schedules?: Array<Omit<Schedule, 'id' | 'enabled' | 'job' | 'timeZone' | 'level'> & { id?: string, enabled?: boolean, timeZone?: string, job?: 'archive' | 'archive-verify' }>
}

/** An edit of an archive task: `retentionDays: null` clears its days to keep (later runs' sets are kept for ever). */
export type ArchiveTaskChange = Partial<Omit<ArchiveTaskInput, 'spaceId' | 'retentionDays'>> & { retentionDays?: number | null }

/** One archive or verify run, as manual 2.6.2's records list it. */
export interface ArchiveRecord {
  jobId: string
  taskName: string
  status: JobRecord['status']
  type: 'archive' | 'archive-verify' | 'archive-restore'
  device: string
  /** Bytes written to the device (archive) or read back (verify). */
  bytes: number
  startedAt: string
  endedAt?: string
  /** When the copies of an archive run may go, by its task's retention. */
  expiresAt?: string
  /** The archive task, and the snapshots an archive run archived (what can be brought back). */
  archiveTaskId: string
  snapshots: Array<{ id: string, task: string, time: string }>
}

/** Manual 2.6's data view: what each task has archived on each device. */
export interface ArchiveDataRow { archiveTaskId: string, taskName: string, spaceId: string, device: string, bytes: number, snapshots: number, runs: number, lastArchivedAt: string }

/** One cartridge of a tape library's pool, for the Data view: the sets on it; none, scratch (blank or recycled). */
export interface CartridgeView { barcode: string, sets: number, scratch: boolean, /** When an archive job of this node last recycled it. */ lastRecycledAt?: string }

/**
 * A tape library's cartridges. `busy`: a writer holds the library (its changer is not moved under
 * it), so `cartridges` is what this node last read (empty if nothing yet), as of `readAt`.
 */
export interface DeviceCartridges { device: string, busy: boolean, readAt?: string, cartridges: CartridgeView[] }

export interface Archive {
  devices: () => Promise<DeviceView[]>
  addDevice: (a: Actor, input: DeviceInput) => Promise<DeviceView>
  removeDevice: (a: Actor, name: string) => Promise<void>
  /** Opens the device and reads its catalogue; the outcome is kept as its status. */
  testDevice: (a: Actor, name: string) => Promise<DeviceTest>
  tasks: (u: User) => Promise<ArchiveTaskRecord[]>
  /** Every archive task, whoever owns it (the scheduler's view). */
  allTasks: () => Promise<ArchiveTaskRecord[]>
  task: (u: User, id: string) => Promise<ArchiveTaskRecord>
  createTask: (a: Actor, input: ArchiveTaskInput) => Promise<ArchiveTaskRecord>
  updateTask: (a: Actor, id: string, change: ArchiveTaskChange) => Promise<ArchiveTaskRecord>
  removeTask: (a: Actor, id: string, confirm: string) => Promise<void>
  /** Starts an archive job of the task; resolves with its record at once. */
  run: (a: Actor, id: string, trigger?: JobRecord['trigger']) => Promise<JobRecord>
  /**
   * Starts a job that brings a snapshot the task archived back into the space's store from the
   * device (what the store lacks, then its root), so the restore wizard reads it.
   */
  restore: (a: Actor, id: string, snapshot: string) => Promise<JobRecord>
  /** Starts a verify job of a device (node-wide: seen by admins, auditors and whoever started it). */
  verify: (a: Actor, device: string, trigger?: JobRecord['trigger']) => Promise<JobRecord>
  records: (u: User) => Promise<ArchiveRecord[]>
  data: (u: User) => Promise<ArchiveDataRow[]>
  /** A tape library's cartridges, read from the library unless a writer holds it (ArchiveDeviceInvalidError for another kind of device). */
  cartridges: (u: User, name: string) => Promise<DeviceCartridges>
}

export interface ArchiveComponents {
  state: StateStore
  clock: Clock
  logs: LogBook
  inventory: Inventory
  tasks: Tasks
  runner: JobRunner
  repositories: Repositories
  /** The device registry file (`<data>/archive-devices.json`; its key beside it, mode 0600). */
  registryFile: string
  /** Told after every change of an archive task (the scheduler re-reads its schedules). */
  changed?: (id: string) => Promise<void>
}

const sees = (u: User, ownerId: string): boolean => u.role !== 'operator' || ownerId === u.id
const NAME = /^[^\u0000-\u001f\u007f/\\]{1,64}$/u
const DAY_MS = 86_400_000

/** The snapshots of a task an archive task chooses, oldest first. */
export function chosenSnapshots (list: SnapshotRecord[], select: ArchiveTaskRecord['select']): SnapshotRecord[] {
  const sorted = [...list].sort((x, y) => x.time.localeCompare(y.time))
  if (select.mode === 'latest') return sorted.slice(-1)
  return sorted.filter(s => s.time >= select.from && s.time <= select.to)
}

export function createArchive (components: ArchiveComponents): Archive {
  const { state, clock, logs, inventory, tasks, runner, repositories } = components
  const registry: DeviceRegistry = openDeviceRegistry(components.registryFile)
  /** Registry changes one at a time (each reads the file and writes it back). */
  let registryWork: Promise<unknown> = Promise.resolve()
  const serially = async <T>(fn: () => T | Promise<T>): Promise<T> => {
    const run = registryWork.then(fn, fn)
    registryWork = run.catch(() => {})
    return await run
  }
  const statusOf = new Map<string, Pick<DeviceView, 'status' | 'checkedAt' | 'message'>>()
  /** Each tape library's cartridges as last read, for while a writer holds it. */
  const cartridgesRead = new Map<string, { readAt: string, cartridges: Array<Omit<CartridgeView, 'lastRecycledAt'>> }>()
  const nodeId = async (): Promise<string> => (await inventory.localNode())?.id ?? ''
  const view = async (d: DeviceRecord): Promise<DeviceView> => ({ ...d, nodeId: await nodeId(), ...(statusOf.get(d.name) ?? { status: 'unknown' }) })
  /** Opens a device; a tape library with `pool`, on those cartridges only (an archive task's media pool). */
  const open = async (name: string, pool?: string[], lock?: LockOptions): Promise<OpenDevice> => {
    const record = registry.get(name)
    const config = pool !== undefined && (record.config.type === 'vtl' || record.config.type === 'tape') ? { ...record.config, pool } : record.config
    return await openArchiveDevice({ ...record, config }, registry.secretOf(name), lock !== undefined ? { lock } : {})
  }
  /** The device's settings for the audit trail and logs: never a secret. */
  const described = (c: DeviceConfig): string => c.type === 's3' ? `s3 ${c.endpoint ?? `aws:${c.region}`}/${c.bucket}/${c.prefix ?? ''}` : c.type === 'vtl' ? `tape library ${c.path} [${c.pool.join(',')}]` : c.type === 'tape' ? `tape library ${c.changer} ${c.drives.join(',')} [${c.pool.join(',')}]` : `folder ${c.path}`

  const configOf = (input: DeviceInput): { config: DeviceConfig, secret?: string } => {
    const absolute = (p: string, what: string): string => {
      if (!p.startsWith('/')) throw new ArchiveDeviceInvalidError(`${what} is an absolute path; "${p}" is not`)
      return p
    }
    if (input.type === 'dir') return { config: { type: 'dir', path: absolute(input.path, 'A local directory device\'s path') } }
    if (input.type === 'vtl') {
      const path = absolute(input.path, 'A tape library\'s path')
      const pool = input.pool.map(s => s.trim()).filter(Boolean)
      if (pool.length === 0) throw new ArchiveDeviceInvalidError('A tape library device needs a pool: the barcodes of the cartridges it writes, in order')
      if (input.createLibrary !== undefined) {
        if (existsSync(join(path, 'library.json'))) throw new ArchiveDeviceInvalidError(`${path} holds a tape library already; add it without createLibrary`)
        if (registry.list().some(d => d.name === input.name)) throw new ArchiveDeviceInvalidError(`There is a device named ${input.name} already; remove it first or choose another name`)
        createVirtualTapeLibrary(path, { slots: Math.max(input.createLibrary.slots, pool.length), drives: 1, cartridges: pool.map(barcode => ({ barcode, capacity: input.createLibrary!.capacityBytes })) })
      }
      return { config: { type: 'vtl', path, pool } }
    }
    if (input.type === 'tape') {
      const pool = input.pool.map(s => s.trim()).filter(Boolean)
      if (pool.length === 0) throw new ArchiveDeviceInvalidError('A tape library device needs a pool: the barcodes of the cartridges it writes, in order')
      if (input.drives.length === 0) throw new ArchiveDeviceInvalidError('A SCSI tape library needs at least one drive (/dev/nstN)')
      return { config: { type: 'tape', changer: absolute(input.changer, 'A tape library\'s changer'), drives: input.drives.map(d => absolute(d, 'A tape drive')), pool, ...(input.recordSize !== undefined ? { recordSize: input.recordSize } : {}) } }
    }
    if (input.secretAccessKey === '') throw new ArchiveDeviceInvalidError('An object storage device needs its secret access key')
    return {
      config: { type: 's3', endpoint: input.endpoint, region: input.region ?? 'us-east-1', bucket: input.bucket, prefix: input.prefix, pathStyle: input.pathStyle === true, accessKeyId: input.accessKeyId, ...(input.retentionDays !== undefined ? { retentionDays: input.retentionDays } : {}) },
      secret: input.secretAccessKey
    }
  }

  const checkTask = async (a: Actor, input: Pick<ArchiveTaskRecord, 'name' | 'spaceId' | 'taskIds' | 'select' | 'device' | 'pool'>, id?: string): Promise<void> => {
    if (!NAME.test(input.name) || input.name.trim() !== input.name) throw new TaskInvalidError(`An archive task's name is 1–64 characters without control characters or slashes; "${input.name}" is not`)
    if ((await state.list<ArchiveTaskRecord>('archiveTasks')).some(t => t.name === input.name && t.id !== id)) throw new NameTakenError('archive task', input.name)
    if (input.taskIds.length === 0) throw new TaskInvalidError('Choose the backup tasks whose snapshots are archived')
    for (const t of input.taskIds) {
      const task = await tasks.get(a.user, t)
      if (task.spaceId !== input.spaceId) throw new TaskInvalidError(`Backup task ${task.name} is not in user space ${input.spaceId}`)
    }
    if (input.select.mode === 'range' && !(Date.parse(input.select.from) <= Date.parse(input.select.to))) throw new TaskInvalidError('A time range needs a start (from) no later than its end (to)')
    const device = registry.get(input.device)
    if (input.pool !== undefined) {
      const all = poolOf(device.config) ?? []
      if (poolOf(device.config) === undefined) throw new TaskInvalidError(`A media pool is chosen for a tape library; ${input.device} is not one`)
      const unknown = input.pool.filter(b => !all.includes(b))
      if (input.pool.length === 0 || unknown.length > 0) throw new TaskInvalidError(`A task's media pool is some of the device's cartridges (${all.join(', ')})${unknown.length > 0 ? `; ${unknown.join(', ')} are not among them` : ''}`)
    }
  }
  const withIds = (list: ArchiveTaskInput['schedules']): Schedule[] => (list ?? []).map(s => {
    // The schedule code of backup tasks (schedule.ts); an archive run has no level.
    const full: Schedule = { ...s, enabled: s.enabled ?? true, job: s.job ?? 'archive', level: 'full', timeZone: s.timeZone ?? 'UTC', id: s.id ?? randomBytes(6).toString('hex') }
    validateSchedule(full)
    return full
  })
  const getTask = async (u: User, id: string): Promise<ArchiveTaskRecord> => {
    const t = await state.get<ArchiveTaskRecord>('archiveTasks', id)
    if (t === undefined || !sees(u, t.ownerId)) throw new NotYoursError('archive task', id)
    return t
  }
  const runningOf = (id: string): JobRecord | undefined => runner.running().find(j => j.type === 'archive' && j.params.archiveTaskId === id)
  const archiveJobs = async (u: User): Promise<JobRecord[]> => (await runner.list()).filter(j => (j.type === 'archive' || j.type === 'archive-verify' || j.type === 'archive-restore') && sees(u, j.ownerId))

  /**
   * Snapshots on the device that no set names (archived by `cairn archive run`, or before sets
   * were recorded) stop every expiry there: the blocks they need are not known. They get one set,
   * kept for ever, claiming every block no set claims (from the catalogues): the other sets then
   * expire, and nothing those snapshots may need goes (doc/design.md "Archive sets and retention").
   */
  const recordUnrecorded = async (d: OpenDevice, ctx: Pick<JobContext, 'job' | 'signal' | 'log'>): Promise<void> => {
    const named = new Set((await d.store.sets({ signal: ctx.signal })).flatMap(s => s.roots.map(String)))
    const roots = (await d.store.snapshotRoots({ signal: ctx.signal })).filter(r => !named.has(r.toString()))
    if (roots.length === 0) return
    const blocks = await d.store.unclaimed({ signal: ctx.signal })
    const id = `${ctx.job.id}-unrecorded`
    await d.store.addSet({ id, label: 'snapshots archived without a set record', createdAt: clock.now().toISOString(), roots, blocks }, { signal: ctx.signal })
    await ctx.log('info', `Recorded set ${id} for ${roots.length} snapshot(s) archived without one (e.g. ${roots[0].toString()}): ${blocks.length} blocks no set claimed, kept for ever; the device's other sets can expire now`,
      said('ARCHIVE_UNRECORDED_RECORDED', { set: id, n: roots.length, root: roots[0].toString(), blocks: blocks.length }))
  }

  const archive: Archive = {
    async devices () { return await Promise.all(registry.list().map(view)) },

    async addDevice (a, input) {
      const record = await serially(() => {
        const { config, secret } = configOf(input)
        return registry.add(input.name, config, secret)
      })
      await logs.audit({ user: a.user.name, source: a.source, action: 'archive.device.add', target: record.name, detail: { type: record.config.type, where: described(record.config), secret: record.hasSecret ? 'stored' : 'none' } })
      await logs.write({ type: 'archive', level: 'info', user: a.user.name, source: a.source, message: `User [${a.user.name}] added archive device [${record.name}] (${described(record.config)})`, text: said('ARCHIVE_DEVICE_ADDED', { user: a.user.name, name: record.name, device: described(record.config) }) })
      return await view(record)
    },

    async removeDevice (a, name) {
      registry.get(name)
      const users = (await state.list<ArchiveTaskRecord>('archiveTasks')).filter(t => t.device === name)
      if (users.length > 0) throw new ArchiveDeviceInUseError(name, users.map(t => t.name))
      await serially(() => { registry.remove(name) })
      statusOf.delete(name)
      await logs.audit({ user: a.user.name, source: a.source, action: 'archive.device.remove', target: name })
      await logs.write({ type: 'archive', level: 'info', user: a.user.name, source: a.source, message: `User [${a.user.name}] removed archive device [${name}]; what it holds stays on it`, text: said('ARCHIVE_DEVICE_REMOVED', { user: a.user.name, name }) })
    },

    async testDevice (_a, name) {
      registry.get(name)
      const checkedAt = clock.now().toISOString()
      let d: OpenDevice | undefined
      try {
        d = await open(name)
        let blocks = 0
        for await (const _ of d.store.cids()) blocks++
        const snapshots = (await d.store.snapshotRoots()).length
        statusOf.set(name, { status: 'online', checkedAt })
        return { name, ok: true, blocks, snapshots, details: d.details }
      } catch (err) {
        const e = err as Error
        statusOf.set(name, { status: 'offline', checkedAt, message: e.message })
        return { name, ok: false, error: { name: e.name, message: e.message } }
      } finally { await d?.close().catch(() => {}) }
    },

    async tasks (u) { return (await state.list<ArchiveTaskRecord>('archiveTasks')).filter(t => sees(u, t.ownerId)) },
    async allTasks () { return await state.list<ArchiveTaskRecord>('archiveTasks') },
    task: getTask,

    async createTask (a, input) {
      const space = await inventory.space(a.user, input.spaceId)
      await checkTask(a, input)
      const now = clock.now().toISOString()
      const t: ArchiveTaskRecord = {
        id: state.nextId('a'), name: input.name, spaceId: space.id, ownerId: space.ownerId, taskIds: [...new Set(input.taskIds)], select: input.select, device: input.device,
        ...(input.pool !== undefined ? { pool: input.pool } : {}),
        ...(input.retentionDays !== undefined ? { retentionDays: input.retentionDays } : {}),
        mode: input.mode ?? 'manual', schedules: withIds(input.schedules), createdAt: now, updatedAt: now, createdBy: a.user.name
      }
      await state.put('archiveTasks', t.id, t)
      await logs.audit({ user: a.user.name, source: a.source, action: 'archive.task.create', target: t.id, detail: { name: t.name, device: t.device, tasks: t.taskIds } })
      await logs.write({ type: 'archive', level: 'info', user: a.user.name, source: a.source, ownerId: t.ownerId, message: `User [${a.user.name}] created archive task [${t.name}] to device [${t.device}]`, text: said('ARCHIVE_TASK_CREATED', { user: a.user.name, name: t.name, device: t.device }) })
      await components.changed?.(t.id)
      return t
    },

    async updateTask (a, id, change) {
      const old = await getTask(a.user, id)
      if (runningOf(id) !== undefined) throw new TaskRunningError(old.name, 'edit it')
      const { retentionDays, ...rest } = change
      const next: ArchiveTaskRecord = {
        ...old, ...rest, spaceId: old.spaceId,
        ...(retentionDays !== undefined && retentionDays !== null ? { retentionDays } : {}),
        schedules: change.schedules !== undefined ? withIds(change.schedules) : old.schedules,
        updatedAt: clock.now().toISOString()
      }
      // A media pool is some cartridges of one tape library: another device, unless a pool comes with it, has none.
      if (change.device !== undefined && change.device !== old.device && change.pool === undefined) delete next.pool
      if (retentionDays === null) delete next.retentionDays
      await checkTask(a, next, id)
      await state.put('archiveTasks', id, next)
      await logs.audit({ user: a.user.name, source: a.source, action: 'archive.task.update', target: id, detail: { fields: Object.keys(change) } })
      await components.changed?.(id)
      return next
    },

    async removeTask (a, id, confirm) {
      const t = await getTask(a.user, id)
      if (confirm !== 'YES') throw new ConfirmationRequiredError()
      if (runningOf(id) !== undefined) throw new TaskRunningError(t.name, 'delete it')
      await state.del('archiveTasks', id)
      await logs.audit({ user: a.user.name, source: a.source, action: 'archive.task.remove', target: id, detail: { name: t.name } })
      await logs.write({ type: 'archive', level: 'info', user: a.user.name, source: a.source, ownerId: t.ownerId, message: `User [${a.user.name}] deleted archive task [${t.name}]; what it archived stays on device [${t.device}]`, text: said('ARCHIVE_TASK_DELETED', { user: a.user.name, name: t.name, device: t.device }) })
      await components.changed?.(id)
    },

    async run (a, id, trigger = 'manual') {
      const t = await getTask(a.user, id)
      if (runningOf(id) !== undefined) throw new TaskRunningError(t.name, 'run it again')
      const space: SpaceRecord = await inventory.space(a.user, t.spaceId)
      const device = registry.get(t.device)
      const node = await nodeId()
      return await runner.start({
        type: 'archive', name: `${t.name}-${jobStamp(clock.now())}`, space, about: { id: t.id, name: t.name, nodeId: node }, trigger, user: a.user.name,
        params: { archiveTaskId: t.id, device: t.device, deviceType: device.config.type, ...(t.pool !== undefined ? { pool: t.pool } : {}), snapshots: [] as Array<{ id: string, task: string, time: string }> },
        body: async (ctx) => {
          // The chosen snapshots, per store (one for global dedup, one per task otherwise).
          const byStore = new Map<Repository, SnapshotRecord[]>()
          for (const taskId of t.taskIds) {
            const repo = await repositories.forTask(space, taskId)
            const chosen = chosenSnapshots(await repo.snapshots({ task: taskId, signal: ctx.signal }), t.select)
            if (chosen.length === 0) await ctx.log('warning', `Backup task ${taskId} has no snapshot to archive${t.select.mode === 'range' ? ` between ${t.select.from} and ${t.select.to}` : ''}`,
              said(t.select.mode === 'range' ? 'ARCHIVE_NOTHING_IN_RANGE' : 'ARCHIVE_NOTHING', { task: taskId, from: t.select.mode === 'range' ? t.select.from : undefined, to: t.select.mode === 'range' ? t.select.to : undefined }))
            byStore.set(repo, [...(byStore.get(repo) ?? []), ...chosen])
          }
          const snapshots = [...byStore.values()].flat()
          ctx.job.params.snapshots = snapshots.map(s => ({ id: s.id, task: s.task, time: s.time }))
          await ctx.log('info', `Archiving ${snapshots.length} snapshot(s) to device ${t.device} (${described(device.config)}${t.pool !== undefined ? `, media pool ${t.pool.join(',')}` : ''})`,
            said(t.pool !== undefined ? 'ARCHIVING_POOL' : 'ARCHIVING', { n: snapshots.length, name: t.device, device: described(device.config), pool: t.pool?.join(',') }))
          const total: { blocksWritten: number, bytesWritten: number, blocksPresent: number, rootsAdded: number, snapshots: number, set?: { expiresAt?: string }, expired?: { sets: number, bytes: number, recycled?: string[] } } = { blocksWritten: 0, bytesWritten: 0, blocksPresent: 0, rootsAdded: 0, snapshots: snapshots.length }
          // The device's write lock, until the set is recorded and expiry is done: a run expiring
          // sets meanwhile could remove packs this run's set needs (device-lock.ts).
          const d = await open(t.device, t.pool, {
            purpose: `archive job ${ctx.job.name} (${ctx.job.id})`, signal: ctx.signal,
            onWait: async (holder, where) => {
              const by = holder !== undefined ? `${holder.purpose} on ${holder.host} (process ${holder.pid}) since ${holder.since}` : where !== undefined ? 'a writer whose lock does not decode' : 'another job of this node'
              await ctx.log('warning', `Waiting for device ${t.device}: it is being written by ${by}${where !== undefined ? `; if that process is gone, remove ${where}` : ''}`,
                said('ARCHIVE_DEVICE_BUSY', { name: t.device, by, file: where }))
            }
          })
          let expiry: ExpiryResult | undefined
          try {
            /** The run's archive set on the device: every block its snapshots need, for expiry's reference count. */
            const setBlocks: CID[] = []
            let doneBytes = 0
            for (const [repo, snaps] of byStore) {
              if (snaps.length === 0) continue
              const only = await snapshotSelection(repo, snaps)
              if (only === undefined) await ctx.log('warning', 'A snapshot has no manifest (it predates them): every block of its store is archived', said('ARCHIVE_NO_MANIFEST'))
              else ctx.progress({ bytesTotal: doneBytes + only.bytes })
              const base = doneBytes
              const r = await copyBlocks(repo.blocks, d.store, {
                signal: ctx.signal,
                only,
                onProgress: e => { ctx.progress({ phase: 'archive', blocks: e.detail.blocksSeen, bytes: base + e.detail.bytesSeen }) }
              })
              total.blocksWritten += r.blocksWritten; total.bytesWritten += r.bytesWritten; total.blocksPresent += r.blocksPresent; total.rootsAdded += r.rootsAdded
              doneBytes += only?.bytes ?? r.bytesWritten
              if (only !== undefined) setBlocks.push(...only.blocks)
              else for await (const c of repo.blocks.cids({ signal: ctx.signal })) setBlocks.push(c)
            }
            if (snapshots.length > 0) {
              const endedAt = clock.now()
              total.set = t.retentionDays !== undefined ? { expiresAt: new Date(endedAt.getTime() + t.retentionDays * DAY_MS).toISOString() } : {}
              await d.store.addSet({ id: ctx.job.id, label: t.name, createdAt: endedAt.toISOString(), roots: snapshots.map(s => CID.parse(s.id)), blocks: setBlocks, ...total.set }, { signal: ctx.signal })
            }
            await recordUnrecorded(d, ctx)
            // The device's retention: sets whose time is up go, with what no set in force needs.
            expiry = await d.store.expire(clock.now(), { signal: ctx.signal })
          } finally { await d.close() }
          await ctx.log('info', `Archived ${total.blocksWritten} blocks (${total.bytesWritten} bytes) and ${total.rootsAdded} snapshot roots to ${t.device}; ${total.blocksPresent} blocks were there already`,
            said('ARCHIVED', { blocks: total.blocksWritten, bytesWritten: total.bytesWritten, roots: total.rootsAdded, name: t.device, present: total.blocksPresent }))
          if (expiry.recycled !== undefined && expiry.recycled.length > 0) {
            await ctx.log('info', `Recycled cartridge(s) ${expiry.recycled.join(', ')} of ${t.device}: every set on them had expired; they are scratch in the pool again`,
              said('ARCHIVE_CARTRIDGES_RECYCLED', { barcodes: expiry.recycled.join(', '), name: t.device }))
          }
          if (expiry.sets.length > 0) {
            total.expired = { sets: expiry.sets.length, bytes: expiry.bytes, ...(expiry.recycled !== undefined && expiry.recycled.length > 0 ? { recycled: expiry.recycled } : {}) }
            await ctx.log('info', `Expired ${expiry.sets.length} archive set(s) on ${t.device}: removed ${expiry.packs} packs (${expiry.bytes} bytes) and ${expiry.roots} snapshot roots that no set in force needs`,
              said('ARCHIVE_SETS_EXPIRED', { n: expiry.sets.length, name: t.device, packs: expiry.packs, bytesFreed: expiry.bytes, roots: expiry.roots }))
          }
          for (const k of expiry.kept) {
            await ctx.log('warning', `Archive set ${k.set} has expired but stays: ${k.reason}`, k.why === 'locked'
              ? said('ARCHIVE_SET_KEPT_LOCKED', { set: k.set, object: k.object, name: t.device })
              : k.why === 'unrecorded' ? said('ARCHIVE_SET_KEPT_UNRECORDED', { set: k.set, n: k.roots, root: k.root, name: t.device }) : said('ARCHIVE_SET_KEPT_TAPE', { set: k.set, name: t.device }))
          }
          return { status: snapshots.length === 0 ? 'warning' : 'success', result: total }
        }
      })
    },

    async restore (a, id, snapshot) {
      const t = await getTask(a.user, id)
      const space = await inventory.space(a.user, t.spaceId)
      // The run that archived it names its device and backup task (the task's device may have changed since).
      const run = (await runner.list()).find(j => j.type === 'archive' && j.params.archiveTaskId === t.id && (j.status === 'success' || j.status === 'warning') &&
        (j.params.snapshots as Array<{ id: string }>).some(s => s.id === snapshot || s.id.startsWith(snapshot)))
      const archived = (run?.params.snapshots as Array<{ id: string, task: string }> | undefined)?.find(s => s.id === snapshot || s.id.startsWith(snapshot))
      if (run === undefined || archived === undefined) throw new TaskInvalidError(`Archive task ${t.name} has not archived a snapshot ${snapshot}`)
      const deviceName = String(run.params.device)
      const pool = run.params.pool as string[] | undefined
      const device = registry.get(deviceName)
      return await runner.start({
        type: 'archive-restore', name: `Restore-${t.name}-${jobStamp(clock.now())}`, space, about: { id: t.id, name: t.name, nodeId: await nodeId() }, trigger: 'manual', user: a.user.name,
        params: { archiveTaskId: t.id, device: deviceName, deviceType: device.config.type, ...(pool !== undefined ? { pool } : {}), snapshot: archived.id, task: archived.task },
        body: async (ctx) => {
          const repo = await repositories.forTask(space, archived.task)
          await ctx.log('info', `Bringing snapshot ${archived.id} back from device ${deviceName} (${described(device.config)})`, said('ARCHIVE_RETRIEVING', { id: archived.id, name: deviceName, device: described(device.config) }))
          const d = await open(deviceName, pool)
          let r
          try {
            r = await copyBlocks(d.store, repo.blocks, { signal: ctx.signal, only: { roots: [CID.parse(archived.id)] }, onProgress: ctx.onProgress })
          } finally { await d.close() }
          // It reads as a snapshot of the store again: the restore wizard lists it.
          const snap = await repo.resolveSnapshot(archived.id, undefined, { signal: ctx.signal })
          await ctx.log('info', `Snapshot ${snap.id} of ${snap.time} is in the store again: ${r.blocksWritten} blocks (${r.bytesWritten} bytes) came back, ${r.blocksPresent} were there`,
            said('ARCHIVE_RETRIEVED', { id: snap.id, time: snap.time, blocks: r.blocksWritten, bytesWritten: r.bytesWritten, present: r.blocksPresent }))
          return { snapshotId: snap.id, result: r }
        }
      })
    },

    async verify (a, name, trigger = 'manual') {
      const device = registry.get(name)
      return await runner.start({
        type: 'archive-verify', name: `Verify-${name}`, ownerId: a.user.id, trigger, user: a.user.name,
        params: { device: name, deviceType: device.config.type },
        body: async (ctx) => {
          const d = await open(name)
          try {
            const r = await verifyBlocks(d.store, { signal: ctx.signal, onProgress: e => { ctx.progress({ phase: 'verify', blocks: e.detail.blocks, bytes: e.detail.bytes }) } })
            for (const b of r.bad.slice(0, 100)) await ctx.log('error', `Bad block ${b.cid}: ${b.error}`, said('ARCHIVE_BAD_BLOCK', { cid: b.cid, reason: b.error }))
            await ctx.log(r.bad.length === 0 ? 'info' : 'error', `Verified ${r.blocks} blocks (${r.bytes} bytes) on ${name}: ${r.bad.length === 0 ? 'all intact' : `${r.bad.length} bad; run the archive tasks that write to it again`}`,
              said(r.bad.length === 0 ? 'ARCHIVE_VERIFIED' : 'ARCHIVE_VERIFIED_BAD', { blocks: r.blocks, bytes: r.bytes, name, bad: r.bad.length }))
            return { status: r.bad.length === 0 ? 'success' : 'failed', result: { blocks: r.blocks, bytes: r.bytes, bad: r.bad.length } }
          } finally { await d.close() }
        }
      })
    },

    async records (u) {
      const byId = new Map((await state.list<ArchiveTaskRecord>('archiveTasks')).map(t => [t.id, t]))
      return (await archiveJobs(u)).map(j => {
        const days = j.type === 'archive' ? byId.get(String(j.params.archiveTaskId))?.retentionDays : undefined
        return {
          jobId: j.id, taskName: j.taskName ?? j.name, status: j.status, type: j.type as ArchiveRecord['type'], device: String(j.params.device),
          bytes: Number((j.type === 'archive-verify' ? j.result?.bytes : j.result?.bytesWritten) ?? j.progress.bytes ?? 0),
          startedAt: j.startedAt, endedAt: j.endedAt,
          archiveTaskId: String(j.params.archiveTaskId ?? ''),
          snapshots: j.type === 'archive' ? (j.params.snapshots as ArchiveRecord['snapshots'] | undefined) ?? [] : [],
          // The expiry its set was recorded with on the device (`result.set`); a run from before sets: by the task's retention now.
          ...(j.result?.set !== undefined
            ? ((j.result.set as { expiresAt?: string }).expiresAt !== undefined ? { expiresAt: (j.result.set as { expiresAt: string }).expiresAt } : {})
            : days !== undefined && j.endedAt !== undefined ? { expiresAt: new Date(Date.parse(j.endedAt) + days * DAY_MS).toISOString() } : {})
        }
      })
    },

    async data (u) {
      const rows = new Map<string, ArchiveDataRow>()
      for (const j of (await archiveJobs(u)).reverse()) {
        if (j.type !== 'archive' || (j.status !== 'success' && j.status !== 'warning') || j.result === undefined) continue
        const key = `${String(j.params.archiveTaskId)}\u0000${String(j.params.device)}`
        const row = rows.get(key) ?? { archiveTaskId: String(j.params.archiveTaskId), taskName: j.taskName ?? '', spaceId: j.spaceId, device: String(j.params.device), bytes: 0, snapshots: 0, runs: 0, lastArchivedAt: '' }
        row.bytes += Number(j.result.bytesWritten ?? 0)
        row.snapshots += Number(j.result.rootsAdded ?? 0)
        row.runs++
        row.lastArchivedAt = j.endedAt ?? j.startedAt
        rows.set(key, row)
      }
      return [...rows.values()]
    },

    async cartridges (u, name) {
      const record = registry.get(name)
      if (record.config.type !== 'vtl' && record.config.type !== 'tape') throw new ArchiveDeviceInvalidError(`Device ${name} is not a tape library; only a tape library has cartridges`)
      // With the device's lock, given up at once if a writer holds it: reading the cartridges moves
      // the changer, which must not happen under a job writing a set.
      const held = new AbortController()
      let read = cartridgesRead.get(name)
      let busy = false
      try {
        const d = await open(name, undefined, { purpose: 'a look at its cartridges', signal: held.signal, onWait: () => { held.abort() } })
        try {
          read = { readAt: clock.now().toISOString(), cartridges: d.details.cartridges as Array<Omit<CartridgeView, 'lastRecycledAt'>> }
          cartridgesRead.set(name, read)
        } finally { await d.close() }
      } catch (err) {
        if (!held.signal.aborted) throw err
        busy = true
      }
      // When each was last recycled: the archive jobs of this device that say so (`result.expired.recycled`).
      const recycledAt = new Map<string, string>()
      for (const j of await archiveJobs(u)) {
        if (j.type !== 'archive' || j.params.device !== name) continue
        const at = j.endedAt ?? j.startedAt
        for (const b of ((j.result?.expired as { recycled?: string[] } | undefined)?.recycled ?? [])) if ((recycledAt.get(b) ?? '') < at) recycledAt.set(b, at)
      }
      return {
        device: name, busy, ...(read !== undefined ? { readAt: read.readAt } : {}),
        cartridges: (read?.cartridges ?? []).map(c => ({ ...c, ...(recycledAt.has(c.barcode) ? { lastRecycledAt: recycledAt.get(c.barcode) } : {}) }))
      }
    }
  }
  return archive
}
