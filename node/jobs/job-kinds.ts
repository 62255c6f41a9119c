// The kinds of job, registered in one place: for each, the parameters its record keeps, the
// result it ends with, and the log list it writes to. The runner, the job routes' enums, the
// history filter and the console's choices (console/src/choices.ts, held to JobType by the
// type checker) all derive from this table, so a new kind (an archive job) is one entry here,
// its module and its screen.
import type { BackupStats, ConflictMode, ImageRestoreResult, PruneResult, RestoreResult } from '../../chunkstore/index.ts'
import type { LogType } from '../logs/index.ts'

/** Parameters and result of each kind of job, as its record (JobRecord) keeps them. */
export interface JobKinds {
  backup: { params: { sources: { include: string[], exclude: string[] } }, result: BackupStats }
  restore: {
    params: { taskId: string, taskName: string, snapshot: string, paths: string[], targetNodeId: string, targetPath: string, conflict: ConflictMode }
    /** A disk image written onto a device or image file ends with an ImageRestoreResult. */
    result: RestoreResult | ImageRestoreResult
  }
  drill: {
    params: { taskId: string, taskName: string }
    result: { passed: boolean, snapshotTime: string, entries: number, bytes: number, mismatches: number, blocksChecked: number, checkErrors: number, restoreError?: string, repairedFromPeers: number }
  }
  verify: { params: { snapshot?: string }, result: { snapshots: number, blocksChecked: number, bytesChecked: number, errors: number, repairedFromPeers: number } }
  clean: {
    params: { taskId: string, taskName: string, mode: 'snapshots' | 'task' | 'leftover', snapshots?: string[] }
    result: { copies: number, bytesFreed: number, blocksRemoved: number, diskBefore: number, diskAfter: number }
  }
  prune: { params: Record<string, never>, result: PruneResult }
  /** An archive task's run (F20, manual 2.6): its snapshots' blocks the device lacks, then their roots. */
  archive: {
    params: { archiveTaskId: string, device: string, deviceType: string, pool?: string[], snapshots: Array<{ id: string, task: string, time: string }> }
    result: { blocksWritten: number, bytesWritten: number, blocksPresent: number, rootsAdded: number, snapshots: number }
  }
  /** Brings a snapshot an archive task archived back into its space's store from the device, for the restore wizard. */
  'archive-restore': {
    params: { archiveTaskId: string, device: string, deviceType: string, pool?: string[], snapshot: string, task: string }
    result: { blocksWritten: number, bytesWritten: number, blocksPresent: number, rootsAdded: number }
  }
  /** Reads back every block on an archive device and checks it against its CID. */
  'archive-verify': {
    params: { device: string, deviceType: string }
    result: { blocks: number, bytes: number, bad: number }
  }
  replicate: {
    params: Record<string, never>
    result: { links: number, blocksSent: number, bytesSent: number, wireBytes: number, rootsAdded: number, durationMs: number, errors: Array<{ site: string, name: string, message: string }> }
  }
}

export type JobType = keyof JobKinds
export type JobParams<T extends JobType> = JobKinds[T]['params']
export type JobResult<T extends JobType> = JobKinds[T]['result']

export interface JobKindInfo {
  /** The log list type of the job's start and end lines. */
  logType: LogType
  /** The type of its end line when it failed, where that differs (a failed DR drill is an alert). */
  failedLogType?: LogType
}

export const JOB_KINDS: { readonly [T in JobType]: JobKindInfo } = {
  backup: { logType: 'backup' },
  restore: { logType: 'restore' },
  drill: { logType: 'data', failedLogType: 'alert' },
  verify: { logType: 'data' },
  clean: { logType: 'data' },
  prune: { logType: 'data' },
  replicate: { logType: 'data' },
  archive: { logType: 'archive' },
  'archive-verify': { logType: 'archive' },
  'archive-restore': { logType: 'archive' }
}

/** Every kind, in the table's order (route enums, filters). */
export const JOB_TYPES = Object.keys(JOB_KINDS) as readonly JobType[]
