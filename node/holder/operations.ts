import { createLimiter } from '../../chunkstore/index.ts'
import type { BandwidthSchedule, ChunkerSpec, LocalRepository, SnapshotRecord, TreeEntry } from '../../chunkstore/index.ts'
import { throwIfAborted, type HolderAccess } from '../../crypto/index.ts'
import { HolderRequestError } from './errors.ts'

/**
 * The store operations a CLI command runs, the same function whether the command opened the
 * store itself or a holder runs it for the command. Arguments and results are plain JSON.
 */
export interface OperationContext {
  signal: AbortSignal
  /** How far the operation is: its progress event's `detail` (what the wire carries). */
  progress: (p: unknown) => void
  /** A batch of listed entries (ls), before the result. */
  items: (batch: unknown[]) => void
}

export interface StoreOperation {
  /** Access the caller must have proved: `write` backs up; everything else reads snapshots. */
  access: HolderAccess
  /** Changes the store: not served by a holder that opened it read-only. */
  writes: boolean
  run: (repo: LocalRepository, args: Record<string, unknown>, ctx: OperationContext) => Promise<unknown>
}

export interface BackupArgs {
  paths: string[]
  task: string
  level: 'full' | 'incremental'
  exclude: string[]
  chunker?: ChunkerSpec
  compression?: number
  limit?: BandwidthSchedule
  openFiles: 'skip' | 'read'
  /** Default true: extended attributes (ACLs, capabilities, user.*) are backed up. */
  xattrs?: boolean
}
/** `xattrs`: default true. */
export interface RestoreArgs { snapshot: string, target: string, include: string[], conflict: 'overwrite' | 'skip' | 'keep-newer', xattrs?: boolean }
export interface CheckArgs { readData?: boolean, snapshot?: string }
export interface ForgetArgs { ids: string[], keepLast?: number, keepDays?: number, task?: string, force?: boolean }

export interface SnapshotsResult { list: SnapshotRecord[], damaged: Array<{ id: string, reason: string }> }
export type ForgetResult = Array<{ id: string, task?: string, time?: string }>

const LS_BATCH = 500

const str = (v: unknown, what: string): string => { if (typeof v !== 'string') throw new HolderRequestError(`${what} must be a string`); return v }
const strs = (v: unknown, what: string): string[] => { if (!Array.isArray(v) || !v.every(x => typeof x === 'string')) throw new HolderRequestError(`${what} must be a list of strings`); return v }
const optStr = (v: unknown, what: string): string | undefined => v === undefined ? undefined : str(v, what)
const optNum = (v: unknown, what: string): number | undefined => { if (v === undefined) return undefined; if (typeof v !== 'number') throw new HolderRequestError(`${what} must be a number`); return v }

export const STORE_OPERATIONS: Record<string, StoreOperation> = {
  backup: {
    access: 'write',
    writes: true,
    run: async (repo, a, ctx) => {
      const limit = a.limit as BandwidthSchedule | undefined
      return await repo.backup({
        paths: strs(a.paths, 'paths'), task: str(a.task, 'task'), level: a.level === 'full' ? 'full' : 'incremental', exclude: strs(a.exclude ?? [], 'exclude'),
        chunker: a.chunker as ChunkerSpec | undefined, compression: optNum(a.compression, 'compression'),
        pace: limit === undefined ? undefined : createLimiter(limit).take,
        openFiles: a.openFiles === 'skip' ? 'skip' : 'read',
        xattrs: a.xattrs !== false,
        signal: ctx.signal,
        onProgress: ({ detail }) => ctx.progress(detail)
      })
    }
  },
  snapshots: {
    access: 'full',
    writes: false,
    run: async (repo, a, ctx): Promise<SnapshotsResult> => {
      const list = await repo.snapshots({ task: optStr(a.task, 'task'), signal: ctx.signal })
      return { list: list.map(({ rootId: _, ...s }: SnapshotRecord & { rootId?: string }) => s), damaged: await repo.damagedSnapshots({ signal: ctx.signal }) }
    }
  },
  ls: {
    access: 'full',
    writes: false,
    run: async (repo, a, ctx) => {
      let batch: TreeEntry[] = []
      for await (const e of repo.ls(str(a.snapshot, 'snapshot'), str(a.path ?? '/', 'path'), { signal: ctx.signal })) {
        throwIfAborted(ctx.signal, 'The listing')
        batch.push(e)
        if (batch.length >= LS_BATCH) { ctx.items(batch); batch = [] }
      }
      if (batch.length > 0) ctx.items(batch)
      return null
    }
  },
  restore: {
    access: 'full',
    writes: false,
    run: async (repo, a, ctx) => await repo.restore({
      snapshot: str(a.snapshot, 'snapshot'), target: str(a.target, 'target'), include: strs(a.include ?? [], 'include'),
      conflict: a.conflict === 'skip' || a.conflict === 'keep-newer' ? a.conflict : 'overwrite',
      continueOnError: true, xattrs: a.xattrs !== false, signal: ctx.signal,
      onProgress: ({ detail }) => ctx.progress(detail)
    })
  },
  check: {
    access: 'full',
    writes: false,
    run: async (repo, a, ctx) => await repo.check({ readData: a.readData === true, snapshot: optStr(a.snapshot, 'snapshot'), signal: ctx.signal })
  },
  forget: {
    access: 'full',
    writes: true,
    run: async (repo, a, ctx): Promise<ForgetResult> => {
      const ids = strs(a.ids ?? [], 'ids')
      if (ids.length > 0) return await repo.forgetSnapshots(ids, { force: a.force === true, signal: ctx.signal })
      return await repo.forget({ keepLast: optNum(a.keepLast, 'keepLast'), keepDays: optNum(a.keepDays, 'keepDays'), task: optStr(a.task, 'task') }, { signal: ctx.signal })
    }
  },
  prune: {
    access: 'full',
    writes: true,
    run: async (repo, _a, ctx) => await repo.prune({ signal: ctx.signal })
  },
  // Disk images (chunkstore/disk-image.ts): the device is read or written by the process that holds the store.
  imageBackup: {
    access: 'write',
    writes: true,
    run: async (repo, a, ctx) => await repo.backupImage({ device: str(a.device, 'device'), task: str(a.task ?? 'default', 'task'), crashConsistent: a.crashConsistent === true, everyBlock: a.everyBlock === true, signal: ctx.signal })
  },
  imageShow: {
    access: 'full',
    writes: false,
    run: async (repo, a, ctx) => await repo.imageManifest(str(a.snapshot, 'snapshot'), { signal: ctx.signal }) ?? null
  },
  imageRestore: {
    access: 'full',
    writes: false,
    run: async (repo, a, ctx) => await repo.restoreImage({ snapshot: str(a.snapshot, 'snapshot'), target: str(a.target, 'target'), readBack: a.readBack === true, partition: optNum(a.partition, 'partition'), signal: ctx.signal })
  },
  imageLs: {
    access: 'full',
    writes: false,
    run: async (repo, a, ctx) => await repo.imageLs({ snapshot: str(a.snapshot, 'snapshot'), partition: optNum(a.partition, 'partition') ?? 1, path: optStr(a.path, 'path'), signal: ctx.signal })
  },
  imageGet: {
    access: 'full',
    writes: false,
    run: async (repo, a, ctx) => await repo.imageGet({ snapshot: str(a.snapshot, 'snapshot'), partition: optNum(a.partition, 'partition') ?? 1, paths: strs(a.paths, 'paths'), target: str(a.target, 'target'), signal: ctx.signal })
  }
}

/**
 * Adds an operation that a folder above this one defines (`archive`: node/archive/ brings the AWS
 * SDK, which this folder may not import). Registered at the program's start, so that the process
 * holding a store (`cairn serve`, another command) serves it like the ones above.
 */
export function registerStoreOperation (name: RegisteredOperationName, op: StoreOperation): void {
  STORE_OPERATIONS[name] = op
}

/** Operations registered from above (registerStoreOperation). */
export type RegisteredOperationName = 'archive'

export type StoreOperationName = 'backup' | 'snapshots' | 'ls' | 'restore' | 'check' | 'forget' | 'prune' | 'imageBackup' | 'imageShow' | 'imageRestore' | 'imageLs' | 'imageGet' | RegisteredOperationName
