import { createHash } from 'node:crypto'
import { mkdir, rm } from 'node:fs/promises'
import { createLimiter, PathNotFoundError, SharedReplicaError } from '../../chunkstore/index.ts'
import { throwIfAborted } from '../../crypto/index.ts'
import { join } from 'node:path'
import type { Role } from '../auth/index.ts'
import type { Clock } from '../clock/index.ts'
import { checkErrorSaid, mismatchSaid, said, saidError, warningSaid, type LogBook } from '../logs/index.ts'
import { PathNotAllowedError, inside, realPath, type Actor, type Inventory, type NodeRecord, type SpaceRecord } from '../inventory/index.ts'
import type { ConflictMode, Repository, SnapshotRecord } from '../../chunkstore/index.ts'
import type { Tasks, TaskRecord } from './tasks.ts'
import type { JobBody, JobContext, JobRecord, JobRunner } from './job-runner.ts'
import type { JobType } from './job-kinds.ts'
import type { Repositories } from './repositories.ts'
import { MeshNotRunningError, NodeUnreachableError, QuotaExceededError, TaskInvalidError } from './errors.ts'
import { compareRestore } from './drill.ts'
import { checkRepairing, type MeshJobs } from './mesh-jobs.ts'

/** Piece size of a task with dedup off: the largest fixed chunk the store supports. */
const NO_DEDUP_PIECE = 1 << 20

export interface RestoreRequest {
  spaceId: string
  taskId: string
  /** Snapshot id, unique prefix, or "latest". */
  snapshot: string
  /** Paths inside the snapshot; all when empty. */
  paths?: string[]
  targetNodeId?: string
  /** Redirect path; "/" (the original location) when absent. */
  targetPath?: string
  conflict: ConflictMode
  name?: string
  /** A disk image task's restore of this one partition onto the target (an existing partition or an image file), not the whole disk. */
  partition?: number
}

export interface CleanRequest {
  taskId: string
  mode: 'snapshots' | 'task' | 'leftover'
  snapshots?: string[]
  name?: string
}

type JobOutcome<T extends JobType> = Awaited<ReturnType<JobBody<T>>>

/** A disk image task (agent type "disk-image"): its one source is a block device or image file. */
async function imageBackup (ctx: JobContext, repo: Repository, task: TaskRecord): Promise<JobOutcome<'backup'>> {
  const [device, ...more] = task.sources.include
  if (device === undefined || more.length > 0) throw new TaskInvalidError(`A disk image task backs up one block device or image file; task ${task.name} has ${task.sources.include.length} sources`)
  const snap = await repo.backupImage({ device, task: task.id, signal: ctx.signal })
  for (const w of snap.stats.warnings) await ctx.log('warning', w, warningSaid(w))
  ctx.progress({ files: snap.stats.files, bytes: snap.stats.bytesRead, currentFile: undefined })
  await ctx.log('info', `Snapshot ${snap.id}: image of ${device}, ${snap.stats.bytesTotal} bytes, ${snap.stats.bytesNew} new bytes stored as ${snap.stats.bytesStored}`,
    said('SNAPSHOT_IMAGE', { id: snap.id, device, bytesTotal: snap.stats.bytesTotal, bytesNew: snap.stats.bytesNew, bytesStored: snap.stats.bytesStored }))
  return { status: snap.stats.warnings.length > 0 ? 'warning' : 'success', snapshotId: snap.id, level: snap.level, result: { ...snap.stats } }
}

async function imageRestore (ctx: JobContext, repo: Repository, snap: SnapshotRecord, target: string, partition?: number): Promise<JobOutcome<'restore'>> {
  await ctx.log('info', `Writing the disk image ${snap.id} of ${snap.time}${partition !== undefined ? ` (partition ${partition})` : ''} onto ${target}`, said('IMAGE_RESTORE_STARTING', { id: snap.id, time: snap.time, target }))
  // A job reads the target back: it runs unattended, and nobody sees the restore but this log.
  const r = await repo.restoreImage({ snapshot: snap.id, target, readBack: true, partition, signal: ctx.signal })
  for (const w of r.warnings) await ctx.log('warning', w, warningSaid(w))
  ctx.progress({ files: 1, bytes: r.bytes })
  await ctx.log('info', `Restored ${r.bytes} bytes onto ${target}; read back, SHA-256 ${r.sha256} matches`, said('IMAGE_RESTORE_DONE', { bytes: r.bytes, target, sha256: r.sha256 }))
  return { status: r.warnings.length > 0 ? 'warning' : 'success', snapshotId: snap.id, result: { ...r } }
}

/** A path as an exclude pattern that matches only itself (chunkstore/exclude.ts globs). */
const literalGlob = (path: string): string => path.replace(/[*?[]/g, c => `[${c}]`)

/**
 * Refuses a restore that would write into the daemon's own data folder below its target: the
 * snapshot holds that folder, or a file or link where one of the folders leading to it is.
 */
async function refuseProtected (repo: Repository, snapshot: string, target: string, protectedPaths: string[]): Promise<void> {
  const bases = [...new Set([target, realPath(target)])]
  for (const guarded of protectedPaths) {
    const base = bases.find(b => inside(guarded, b))
    if (base === undefined) continue
    const parts = guarded.slice(base === '/' ? 1 : base.length + 1).split('/').filter(Boolean)
    for (let k = 1; k <= parts.length; k++) {
      const sub = '/' + parts.slice(0, k).join('/')
      let first: { path: string } | undefined
      try {
        for await (const e of repo.ls(snapshot, sub)) { first = e; break }
      } catch (err) {
        if (err instanceof PathNotFoundError) break
        throw err
      }
      if (first?.path === sub || k === parts.length) throw new PathNotAllowedError(target, `restoring this snapshot there would overwrite this node's own data folder ${guarded}; restore to another folder`)
    }
  }
}

/** Names of jobs: MM-DD-HHmm in the node's local time, as its operators read the clock (the console shows local time). */
export const jobStamp = (d: Date): string => {
  const two = (n: number): string => String(n).padStart(2, '0')
  return `${two(d.getMonth() + 1)}-${two(d.getDate())}-${two(d.getHours())}${two(d.getMinutes())}`
}

/**
 * The jobs an operator (or a schedule) starts (F7, F8, F11, F17, F19), for a user (Actor) who
 * may see what they touch.
 *
 * Contract:
 * - Each checks its inputs and the user's reach, throwing before any job exists (e.g.
 *   TaskInvalidError, PathNotAllowedError, NodeUnreachableError, QuotaExceededError), then
 *   starts a job on the runner and resolves with its record at once; the work runs in the job.
 * - A job changes a store only through the Repository contract, so a stopped or failed job
 *   leaves every store consistent.
 */
export interface Operations {
  backup: (a: Actor, taskId: string, input: { level: 'full' | 'incremental', remark?: string, trigger?: JobRecord['trigger'] }) => Promise<JobRecord>
  restore: (a: Actor, req: RestoreRequest) => Promise<JobRecord>
  /** DR drill (F8): restore the latest copy to scratch space, compare, verify every block, report. */
  drill: (a: Actor, taskId: string, trigger?: JobRecord['trigger']) => Promise<JobRecord>
  /** Checks every store of a space (or one snapshot), reading every block; bad blocks are fetched from the mesh (F14). */
  verify: (a: Actor, spaceId: string, snapshot?: string) => Promise<JobRecord>
  /** Data management clean (F19, manual 2.5.1.1): copies, a whole task, or leftovers of failed runs. */
  clean: (a: Actor, req: CleanRequest) => Promise<JobRecord>
  prune: (a: Actor, spaceId: string) => Promise<JobRecord>
  /** Replicates to every target of the mesh now (F11): a node-wide job, seen by admins, auditors and whoever started it. */
  replicate: (by: { user: string, ownerId: string }, trigger?: JobRecord['trigger']) => Promise<JobRecord>
  /** The store holding a snapshot (id, unique prefix, or "latest") of a space. */
  storeOf: (a: Actor, spaceId: string, snapshot: string) => Promise<{ repo: Repository, snap: SnapshotRecord }>
  /** Copies of a task (F19 "number of copies"), oldest first, within `range` of their time. */
  snapshots: (a: Actor, spaceId: string, taskId?: string, range?: { from?: string, to?: string }) => Promise<SnapshotRecord[]>
  /**
   * Bytes the blocks of a task's copies `ids` occupy in its store, each block once (Repository.storedBytes):
   * the data table's stored size. Kept per set of copies, so it is computed when the copies change
   * (warmed after a backup and a clean), not on every look. null when the store could not be read.
   */
  storedBytes: (a: Actor, spaceId: string, taskId: string, ids: string[]) => Promise<number | null>
  /** A deleted task's copies stay until cleaned; clean still needs to name it. */
  deletedTask: (a: Actor, taskId: string) => Promise<TaskRecord>
  /** Resolves once the background work started after jobs (the stored-size figures) has ended: the daemon awaits it before it closes the stores. */
  idle: () => Promise<void>
}

export interface OperationsComponents {
  clock: Clock
  logs: LogBook
  inventory: Inventory
  tasks: Tasks
  runner: JobRunner
  repositories: Repositories
  /** Where drills restore to (a folder of the daemon's own). */
  scratchDir: string
  /** The mesh the daemon hosts, if any (replicate jobs, replication after a backup, repair). */
  mesh?: () => MeshJobs | undefined
}

export function createOperations (components: OperationsComponents): Operations {
  const { clock, inventory, tasks, runner, repositories } = components
  // A snapshot is stamped with the daemon's clock (a stepped clock in tests and the simulation's
  // accuracy check), one millisecond after the last at least: a clock that stands still must not
  // give two snapshots the same time, or which is the newest (retention, a task's parent) is a guess.
  let lastStamp = 0
  const snapshotTime = (): Date => { lastStamp = Math.max(clock.now().getTime(), lastStamp + 1); return new Date(lastStamp) }
  const mesh = (): MeshJobs | undefined => components.mesh?.()

  const localOnly = async (nodeId: string): Promise<void> => {
    const local = await inventory.localNode()
    if (local?.id !== nodeId) throw new NodeUnreachableError(nodeId)
  }

  /** Where a disk image may be written: a device under /dev by an administrator only; an image file where files may be restored. */
  const imageTarget = (node: NodeRecord, role: Role, raw: string | undefined): string => {
    if (raw === undefined) throw new TaskInvalidError('A disk image restore needs a target device or image file (targetPath)')
    if (raw.startsWith('/dev/')) {
      if (role !== 'admin') throw new PathNotAllowedError(raw, 'only an administrator may write a disk image onto a device')
      return raw
    }
    return inventory.reach.restoreTarget(node, role, raw)
  }

  const refreshUsage = async (space: SpaceRecord): Promise<void> => {
    await inventory.setSpaceUsage(space.id, await repositories.diskUsage(space))
  }

  /** Stored bytes per space, task and set of copies (ops.storedBytes); a few hundred sets at most. */
  const storedCache = new Map<string, Promise<number | null>>()
  const storedBytesOf = async (space: SpaceRecord, taskId: string, ids: string[]): Promise<number | null> => {
    // A digest of the copies' ids: a task with a year of daily copies would make a key of 20 KB.
    const key = `${space.id}\0${taskId}\0${createHash('sha256').update(ids.join(',')).digest('base64url')}`
    let figure = storedCache.get(key)
    if (figure === undefined) {
      if (storedCache.size >= 256) storedCache.delete(storedCache.keys().next().value!)
      figure = (async () => {
        try {
          return ids.length === 0 ? 0 : (await (await repositories.forTask(space, taskId)).storedBytes(ids)).bytes
        } catch {
          // A copy removed meanwhile, or a store that cannot be read now: asked again next time.
          storedCache.delete(key)
          return null
        }
      })()
      storedCache.set(key, figure)
    }
    return await figure
  }
  const background = new Set<Promise<void>>()
  /** Works out a task's stored bytes once its copies changed, so the data table finds it ready. */
  const noteCopiesChanged = async (space: SpaceRecord, taskId: string): Promise<void> => {
    try {
      const repo = await repositories.forTask(space, taskId)
      await storedBytesOf(space, taskId, (await repo.snapshots({ task: taskId })).map(s => s.id))
    } catch {}
  }

  /** Reclaims blocks no snapshot references: what a stopped or failed backup left behind. */
  const reclaim = async (ctx: JobContext, space: SpaceRecord): Promise<void> => {
    const repo = await ctx.repo()
    const r = await repo.prune()
    await ctx.log('info', `Reclaimed ${r.bytesFreed} bytes (${r.blocksRemoved} blocks)`, said('RECLAIMED', { bytesFreed: r.bytesFreed, blocksRemoved: r.blocksRemoved }))
    await refreshUsage(space)
  }

  /**
   * A task of the site a replication space is a DR copy of (F13): not a task of this node, but
   * the `task` of that site's snapshots. Restores go to this node unless told otherwise.
   */
  const originTask = async (space: SpaceRecord, taskId: string): Promise<Pick<TaskRecord, 'id' | 'name' | 'spaceId' | 'nodeId'>> => {
    const copies = await (await repositories.forTask(space, taskId)).snapshots({ task: taskId })
    if (copies.length === 0) throw new TaskInvalidError(`User space ${space.name} holds no copies of task ${taskId} (GET /api/spaces/${space.id}/snapshots lists them with their task)`)
    const local = await inventory.localNode()
    return { id: taskId, name: space.origin?.tasks.find(t => t.id === taskId)?.name ?? taskId, spaceId: space.id, nodeId: local?.id ?? space.nodeId }
  }

  const ops: Operations = {
    async backup (a, taskId, input) {
      const task = await tasks.get(a.user, taskId)
      const space = await inventory.space(a.user, task.spaceId)
      await localOnly(task.nodeId)
      await tasks.checkReach(task)
      if (space.capacityBytes > 0 && space.usedBytes >= space.capacityBytes) throw new QuotaExceededError(space.name)
      return await runner.start({
        type: 'backup', name: task.name, space, task, level: input.level, remark: input.remark, trigger: input.trigger ?? 'manual', user: a.user.name,
        params: { sources: task.sources },
        body: async (ctx) => {
          const repo = await ctx.repo()
          if (task.agentType === 'disk-image') return await imageBackup(ctx, repo, task)
          const snap = await repo.backup({
            paths: task.sources.include,
            // The daemon's own data never goes into a backup, whatever folder contains it.
            exclude: [...task.sources.exclude, ...inventory.reach.protectedPaths.map(literalGlob)],
            task: task.id,
            level: input.level,
            compression: task.options.compression,
            // Dedup off (manual 2.2.1): fixed 1 MiB pieces instead of content-defined chunks, so
            // no rolling hash; identical pieces are still stored once (the store is content-addressed).
            chunker: task.options.dedup ? undefined : { kind: 'fixed', size: NO_DEDUP_PIECE },
            openFiles: task.options.exclusiveFiles ? 'read' : 'skip',
            pace: task.options.bandwidth === undefined ? undefined : createLimiter(task.options.bandwidth).take,
            signal: ctx.signal,
            scan: !task.options.smallFiles,
            now: snapshotTime,
            onProgress: ctx.onProgress
          })
          for (const w of snap.stats.warnings) await ctx.log('warning', w, warningSaid(w))
          ctx.progress({ files: snap.stats.files, bytes: snap.stats.bytesRead, currentFile: undefined })
          await ctx.log('info', `Snapshot ${snap.id}: ${snap.stats.files} files, ${snap.stats.bytesTotal} bytes, ${snap.stats.bytesNew} new bytes stored as ${snap.stats.bytesStored}`,
            said('SNAPSHOT_FILES', { id: snap.id, files: snap.stats.files, bytesTotal: snap.stats.bytesTotal, bytesNew: snap.stats.bytesNew, bytesStored: snap.stats.bytesStored }))
          return { status: snap.stats.warnings.length > 0 ? 'warning' : 'success', snapshotId: snap.id, level: snap.level, result: { ...snap.stats } }
        },
        after: async (job, ctx) => {
          if (job.status === 'stopped') {
            // Manual 2.2.2: a stopped backup's data is removed; the task has to run again.
            await reclaim(ctx, space)
            return
          }
          if (job.status !== 'success' && job.status !== 'warning') return
          try {
            const r = task.options.retention
            if (r.mode === 'policy') {
              const repo = await ctx.repo()
              const removed = await repo.forget({ task: task.id, keepLast: r.copies, keepDays: r.days, now: clock.now() }, { signal: ctx.signal })
              if (removed.length > 0) {
                await ctx.log('info', `Retention removed ${removed.length} old copies`, said('RETENTION_REMOVED', { n: removed.length }))
                await reclaim(ctx, space)
              }
            }
          } finally {
            // Replication of the new snapshot starts now rather than at the next timer, and after
            // retention: a run offers every block the index lists, so one beside the prune would
            // send a peer the forgotten copies' blocks again (and keep them here, read while the
            // prune protects what is read) when the peer had already freed them on their release.
            mesh()?.noteLocalChange()
          }
          await refreshUsage(space)
          // Not awaited: the task stays busy until this step ends, and the figure is only a cache.
          // Kept, so that the stores close after it (idle()), not while it reads one.
          const warming = noteCopiesChanged(space, task.id).finally(() => { background.delete(warming) })
          background.add(warming)
        }
      })
    },

    async restore (a, req) {
      const space = await inventory.space(a.user, req.spaceId)
      const task = space.type === 'replication' ? await originTask(space, req.taskId) : await tasks.get(a.user, req.taskId)
      if (task.spaceId !== req.spaceId) throw new TaskInvalidError(`Task ${task.name} is not in user space ${req.spaceId}`)
      const targetNode = req.targetNodeId ?? task.nodeId
      const node = await inventory.node(a.user, targetNode)
      await localOnly(targetNode)
      // A replication space's copy carries no task record: its image snapshots restore as region files.
      const image = 'agentType' in task && task.agentType === 'disk-image'
      if (req.partition !== undefined && !image) throw new TaskInvalidError(`Task ${task.name} backs up files: only a disk image task restores one partition`)
      const target = image ? imageTarget(node, a.user.role, req.targetPath) : inventory.reach.restoreTarget(node, a.user.role, req.targetPath ?? '/')
      return await runner.start({
        type: 'restore', name: req.name ?? `Restore-${jobStamp(clock.now())}`, space, about: task, trigger: 'manual', user: a.user.name,
        params: { taskId: task.id, taskName: task.name, snapshot: req.snapshot, paths: req.paths ?? [], targetNodeId: targetNode, targetPath: target, conflict: req.conflict, ...(req.partition !== undefined ? { partition: req.partition } : {}) },
        body: async (ctx) => {
          const repo = await ctx.repo()
          const snap = await repo.resolveSnapshot(req.snapshot, task.id, { signal: ctx.signal })
          if (image) return await imageRestore(ctx, repo, snap, target, req.partition)
          await refuseProtected(repo, snap.id, target, inventory.reach.protectedPaths)
          await ctx.log('info', `Restoring snapshot ${snap.id} of ${snap.time} to ${target} (conflicts: ${req.conflict})`,
            said('RESTORE_STARTING', { id: snap.id, time: snap.time, target, conflict: req.conflict }))
          const r = await repo.restore({
            snapshot: snap.id, target, include: req.paths, conflict: req.conflict, signal: ctx.signal,
            onProgress: ctx.onProgress
          })
          for (const w of r.warnings) await ctx.log('warning', w, warningSaid(w))
          ctx.progress({ files: r.files, bytes: r.bytes })
          await ctx.log('info', `Restored ${r.files} files, ${r.bytes} bytes; skipped ${r.skipped}`, said('RESTORE_DONE', { files: r.files, bytes: r.bytes, skipped: r.skipped }))
          return { status: r.warnings.length > 0 ? 'warning' : 'success', snapshotId: snap.id, result: { ...r } }
        }
      })
    },

    async drill (a, taskId, trigger = 'manual') {
      const task = await tasks.get(a.user, taskId)
      const space = await inventory.space(a.user, task.spaceId)
      return await runner.start({
        type: 'drill', name: `Drill-${task.name}`, space, about: task, trigger, user: a.user.name, params: { taskId: task.id, taskName: task.name },
        body: async (ctx) => {
          const repo = await ctx.repo()
          const snap = await repo.resolveSnapshot('latest', task.id, { signal: ctx.signal })
          const scratch = join(components.scratchDir, ctx.job.id)
          /** Restore to scratch, compare, verify every block: the drill proper. */
          const attempt = async (): Promise<{ passed: boolean, restoreError?: string, entries: number, bytes: number, mismatches: string[], blocksChecked: number, checkErrors: number, badBlocks: number }> => {
            await rm(scratch, { recursive: true, force: true })
            await mkdir(scratch, { recursive: true })
            await ctx.log('info', `Restoring snapshot ${snap.id} of ${snap.time} to scratch ${scratch}`, said('DRILL_RESTORING', { id: snap.id, time: snap.time, target: scratch }))
            let restoreError: string | undefined
            try {
              await repo.restore({ snapshot: snap.id, target: scratch, conflict: 'overwrite', signal: ctx.signal, onProgress: ctx.onProgress })
            } catch (err) {
              if (ctx.signal.aborted) throw err
              restoreError = (err as Error).message
              await ctx.log('error', `Restore failed: ${restoreError}`, said('DRILL_RESTORE_FAILED', saidError(err)))
            }
            const cmp = restoreError === undefined ? await compareRestore(repo, snap.id, scratch, ctx.signal) : { entries: 0, bytes: 0, mismatches: [] }
            for (const m of cmp.mismatches) await ctx.log('error', `Mismatch: ${m}`, mismatchSaid(m))
            ctx.progress({ phase: 'verify' })
            const check = await repo.check({ snapshot: snap.id, readData: true, signal: ctx.signal, onProgress: ctx.onProgress })
            for (const e of check.errors.slice(0, 100)) await ctx.log('error', `Check: ${e}`, checkErrorSaid(e))
            const passed = restoreError === undefined && cmp.mismatches.length === 0 && check.errors.length === 0
            return { passed, restoreError, entries: cmp.entries, bytes: cmp.bytes, mismatches: cmp.mismatches, blocksChecked: check.blocksChecked, checkErrors: check.errors.length, badBlocks: check.badBlocks.length }
          }
          try {
            let r = await attempt()
            let repaired = 0
            const peers = mesh()
            if (!r.passed && r.badBlocks > 0 && peers !== undefined) {
              // F14: blocks another site holds are fetched back, then the drill runs once more.
              repaired = (await checkRepairing(ctx, repo, { snapshot: snap.id, onProgress: ctx.onProgress }, peers)).repaired
              if (repaired > 0) {
                await ctx.log('warning', `Repaired ${repaired} from peers; running the drill again`, said('DRILL_REPAIRED', { n: repaired }))
                r = await attempt()
              }
            }
            await ctx.log(r.passed ? 'info' : 'error', r.passed
              ? `Drill passed: ${r.entries} entries, ${r.bytes} bytes restored and compared; ${r.blocksChecked} blocks verified${repaired > 0 ? `; repaired ${repaired} from peers` : ''}`
              : `DRILL FAILED for task ${task.name}: snapshot ${snap.id} cannot be restored intact`,
            r.passed
              ? said(repaired > 0 ? 'DRILL_PASSED_REPAIRED' : 'DRILL_PASSED', { entries: r.entries, bytes: r.bytes, blocks: r.blocksChecked, repaired: repaired > 0 ? repaired : undefined })
              : said('DRILL_FAILED', { task: task.name, id: snap.id }))
            return {
              status: r.passed ? (repaired > 0 ? 'warning' : 'success') : 'failed',
              snapshotId: snap.id,
              result: { passed: r.passed, snapshotTime: snap.time, entries: r.entries, bytes: r.bytes, mismatches: r.mismatches.length, blocksChecked: r.blocksChecked, checkErrors: r.checkErrors, restoreError: r.restoreError, repairedFromPeers: repaired }
            }
          } finally {
            await rm(scratch, { recursive: true, force: true })
          }
        }
      })
    },

    async verify (a, spaceId, snapshot) {
      const space = await inventory.space(a.user, spaceId)
      return await runner.start({
        type: 'verify', name: `Verify-${space.name}`, space, trigger: 'manual', user: a.user.name, params: { snapshot },
        body: async (ctx) => {
          const total = { snapshots: 0, blocksChecked: 0, bytesChecked: 0, errors: 0, repairedFromPeers: 0 }
          for (const repo of await ctx.repos()) {
            let only: string | undefined
            if (snapshot !== undefined) {
              only = (await repo.resolveSnapshot(snapshot).catch(() => undefined))?.id
              if (only === undefined) continue
            }
            const r = await checkRepairing(ctx, repo, { snapshot: only }, mesh())
            for (const e of r.errors.slice(0, 100)) await ctx.log('error', e, checkErrorSaid(e))
            total.snapshots += r.snapshots; total.blocksChecked += r.blocksChecked; total.bytesChecked += r.bytesChecked; total.errors += r.errors.length
            total.repairedFromPeers += r.repaired
            ctx.progress({ bytes: total.bytesChecked })
          }
          if (total.repairedFromPeers > 0) await ctx.log(total.errors === 0 ? 'warning' : 'error', `Repaired ${total.repairedFromPeers} from peers; ${total.errors} errors remain`,
            said('VERIFY_REPAIRED', { repaired: total.repairedFromPeers, errors: total.errors }))
          return { status: total.errors > 0 ? 'failed' : total.repairedFromPeers > 0 ? 'warning' : 'success', result: total }
        }
      })
    },

    async clean (a, req) {
      const task = await tasks.get(a.user, req.taskId).catch(async () => await ops.deletedTask(a, req.taskId))
      const space = await inventory.space(a.user, task.spaceId)
      if (req.mode === 'snapshots' && (req.snapshots ?? []).length === 0) throw new TaskInvalidError('Choose the copies (snapshots) to clean')
      return await runner.start({
        type: 'clean', name: req.name ?? `Clean-${jobStamp(clock.now())}`, space, about: task, trigger: 'manual', user: a.user.name,
        params: { taskId: task.id, taskName: task.name, mode: req.mode, snapshots: req.snapshots },
        body: async (ctx) => {
          const repo = await ctx.repo()
          const before = await repositories.diskUsage(space)
          let copies = 0
          if (req.mode !== 'leftover') {
            const ids = req.mode === 'task' ? (await repo.snapshots({ task: task.id, signal: ctx.signal })).map(s => s.id) : req.snapshots!
            for (const id of ids) {
              throwIfAborted(ctx.signal, 'The clean')
              const snap = await repo.resolveSnapshot(id, task.id, { signal: ctx.signal })
              await repo.removeSnapshot(snap.id, { force: true, signal: ctx.signal })
              copies++
              await ctx.log('info', `Removed copy ${snap.id} of ${snap.time}`, said('CLEAN_REMOVED_COPY', { id: snap.id, time: snap.time }))
            }
          }
          const pr = await repo.prune({ signal: ctx.signal })
          await refreshUsage(space)
          await noteCopiesChanged(space, task.id)
          const after = await repositories.diskUsage(space)
          await ctx.log('info', `Processed ${copies} copies; reclaimed ${pr.bytesFreed} bytes`, said('CLEAN_DONE', { copies, bytesFreed: pr.bytesFreed }))
          ctx.progress({ bytes: pr.bytesFreed, files: copies })
          return { result: { copies, bytesFreed: pr.bytesFreed, blocksRemoved: pr.blocksRemoved, diskBefore: before, diskAfter: after } }
        }
      })
    },

    async prune (a, spaceId) {
      const space = await inventory.space(a.user, spaceId)
      if (space.type === 'replication') throw new SharedReplicaError({ action: 'pruning' })
      return await runner.start({
        type: 'prune', name: `Prune-${space.name}`, space, trigger: 'manual', user: a.user.name,
        body: async (ctx) => {
          const total = { blocksRemoved: 0, bytesFreed: 0, segmentsRewritten: 0, segmentsDeleted: 0 }
          for (const repo of await ctx.repos()) {
            const pr = await repo.prune({ signal: ctx.signal })
            total.blocksRemoved += pr.blocksRemoved; total.bytesFreed += pr.bytesFreed; total.segmentsRewritten += pr.segmentsRewritten; total.segmentsDeleted += pr.segmentsDeleted
            ctx.progress({ bytes: total.bytesFreed })
          }
          await refreshUsage(space)
          return { result: total }
        }
      })
    },

    async replicate (by, trigger = 'manual') {
      const m = mesh()
      if (m === undefined) throw new MeshNotRunningError()
      return await runner.start({
        type: 'replicate', name: `Replicate-${jobStamp(clock.now())}`, ownerId: by.ownerId, trigger, user: by.user,
        body: async (ctx) => {
          const started = performance.now()
          const links = await m.replicate({ signal: ctx.signal, onProgress: ctx.onProgress })
          if (links.length === 0) await ctx.log('warning', 'No replication targets: no policy chose a member (PUT /api/mesh/policies)', said('REPLICATE_NO_TARGET'))
          const errors: Array<{ site: string, name: string, message: string }> = []
          const total = { links: links.length, blocksSent: 0, bytesSent: 0, wireBytes: 0, rootsAdded: 0 }
          for (const l of links) {
            total.blocksSent += l.blocksSent; total.bytesSent += l.bytesSent; total.wireBytes += l.wireBytes; total.rootsAdded += l.rootsAdded
            if (l.error !== undefined) {
              errors.push({ site: l.site, ...l.error })
              await ctx.log('error', `→ ${l.site}: ${l.error.name}: ${l.error.message}`, said('REPLICATE_FAILED', { site: l.site, ...saidError(l.error) }))
            } else {
              await ctx.log('info', `→ ${l.site}: sent ${l.blocksSent} blocks (${l.bytesSent} bytes), ${l.rootsAdded} new snapshots`,
                said('REPLICATE_SENT', { site: l.site, blocks: l.blocksSent, bytesSent: l.bytesSent, snapshots: l.rootsAdded }))
            }
          }
          ctx.progress({ blocks: total.blocksSent, bytes: total.bytesSent })
          const durationMs = Math.round(performance.now() - started)
          const status = errors.length === 0 ? 'success' : errors.length === links.length ? 'failed' : 'warning'
          return { status, result: { ...total, durationMs, errors } }
        }
      })
    },

    async storeOf (a, spaceId, snapshot) {
      const space = await inventory.space(a.user, spaceId)
      let lastError: unknown = new TaskInvalidError(`No copy ${snapshot} in user space ${space.name}`)
      for (const repo of await repositories.all(space)) {
        try { return { repo, snap: await repo.resolveSnapshot(snapshot) } } catch (err) { lastError = err }
      }
      throw lastError
    },

    async snapshots (a, spaceId, taskId, range) {
      const space = await inventory.space(a.user, spaceId)
      const stores = taskId !== undefined ? [await repositories.forTask(space, taskId)] : await repositories.all(space)
      const list = (await Promise.all(stores.map(async r => await r.snapshots(taskId !== undefined ? { task: taskId } : undefined)))).flat().sort((x, y) => x.time.localeCompare(y.time))
      return list.filter(s => (range?.from === undefined || s.time >= range.from) && (range?.to === undefined || s.time <= range.to))
    },

    async storedBytes (a, spaceId, taskId, ids) {
      return await storedBytesOf(await inventory.space(a.user, spaceId), taskId, ids)
    },

    async idle () {
      while (background.size > 0) await Promise.all(background)
    },
    async deletedTask (a, taskId) {
      // A task deleted here is known by its backups (restores and drills also name a DR site's origin tasks).
      const job = (await runner.list()).find(j => j.taskId === taskId && j.type === 'backup')
      if (job === undefined) return await tasks.get(a.user, taskId)
      const space = await inventory.space(a.user, job.spaceId)
      return { id: taskId, name: job.taskName ?? taskId, spaceId: space.id, nodeId: job.nodeId ?? '', ownerId: space.ownerId } as TaskRecord
    }
  }
  return ops
}
