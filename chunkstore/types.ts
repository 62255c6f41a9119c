// Public types of the data path: what the node (CLI, daemon, jobs) passes in and gets back.
import type { AbortOptions, ProgressEvent, ProgressOptions } from '../crypto/index.ts'

/** How files are cut into chunks (F1). */
export type ChunkerSpec =
  | { kind: 'cdc', min: number, avg: number, max: number }
  | { kind: 'fixed', size: number }

export type BackupLevel = 'full' | 'incremental'
export type ConflictMode = 'overwrite' | 'skip' | 'keep-newer'

export interface BackupStats {
  files: number
  dirs: number
  symlinks: number
  /** Files taken from the parent snapshot by the metadata cache without reading them. */
  filesUnchanged: number
  /** Logical bytes of all files in the snapshot. */
  bytesTotal: number
  /** Bytes actually read from disk this run. */
  bytesRead: number
  /** Chunks written this run (not already in the store) and their plaintext/stored sizes. */
  chunksNew: number
  bytesNew: number
  bytesStored: number
  durationMs: number
  /** Problems that did not stop the backup: vanished files, files changed while read, unreadable entries. */
  warnings: string[]
}

/** A snapshot record: what `cairn snapshots` lists. `id` is the CID of the sealed record block. */
export interface SnapshotRecord {
  id: string
  /** CID of the root directory node. */
  root: string
  time: string
  host: string
  task: string
  paths: string[]
  level: BackupLevel
  /** Snapshot id this one was made against (metadata cache source), if any. */
  parent?: string
  stats: BackupStats
  /** Written by `repair snapshots`: the damaged snapshot this one stands for, and the paths it leaves out. */
  repaired?: { from: string, lost: string[] }
}

export interface BackupProgress {
  phase: 'scan' | 'backup' | 'flush'
  files: number
  bytesRead: number
  bytesDone: number
  /** Totals from the concurrent scanner, when known. */
  filesTotal?: number
  bytesTotal?: number
  currentFile?: string
}

/** How far a backup is (every 200 ms at most, and at each phase). */
export type BackupProgressEvent = ProgressEvent<'backup:progress', BackupProgress>

export interface BackupOptions extends AbortOptions, ProgressOptions<BackupProgressEvent> {
  paths: string[]
  task?: string
  level?: BackupLevel
  exclude?: string[]
  chunker?: ChunkerSpec
  /** zstd level; 0 = off. Default 3. */
  compression?: number
  /** Count totals with a concurrent scanner (for an ETA). Costs a second directory walk. */
  scan?: boolean
  /**
   * Backup bandwidth limit (F12): called with the bytes of every batch of chunks read before
   * the batch is stored; resolves when the batch may go on. Unlimited when absent.
   */
  pace?: (bytes: number, signal?: AbortSignal) => Promise<void>
  /**
   * Files another program holds open for writing when the backup starts: 'read' backs them up
   * as read (the default; the manual's exclusive-file mode), 'skip' leaves them out with a
   * warning (their bytes may be half-written). Linux only; elsewhere every file is read.
   */
  openFiles?: 'read' | 'skip'
  /** Back up extended attributes (ACLs, capabilities, user.*; chunkstore/xattrs.ts). Default true. */
  xattrs?: boolean
  /**
   * The time the snapshot record is stamped with, read when the backup ends (the daemon's clock,
   * which tests and the capacity-planning accuracy check move by hand). Default: the system time.
   */
  now?: () => Date
}

/** How far a restore is (every 200 ms at most, and at its end). */
export type RestoreProgressEvent = ProgressEvent<'restore:progress', RestoreProgress>

export interface RestoreOptions extends AbortOptions, ProgressOptions<RestoreProgressEvent> {
  snapshot: string
  target: string
  /** Snapshot paths to restore (each with everything below it); all when empty. */
  include?: string[]
  conflict?: ConflictMode
  /**
   * An entry that cannot be restored never stops the others. With this, the result lists such
   * entries in `failed`; without it, the restore throws RestoreIncompleteError at the end.
   */
  continueOnError?: boolean
  /** Set the snapshot's extended attributes; one that cannot be set is a warning. Default true. */
  xattrs?: boolean
}

export interface RestoreProgress {
  files: number
  bytes: number
  filesTotal: number
  bytesTotal: number
  currentFile?: string
}

export interface RestoreResult {
  files: number
  dirs: number
  symlinks: number
  hardlinks: number
  bytes: number
  skipped: number
  durationMs: number
  warnings: string[]
  /** Entries that could not be restored (a block missing or damaged), each with why; everything else was restored. */
  failed: Array<{ path: string, error: string }>
}

export interface CheckProgress {
  blocksChecked: number
  bytesChecked: number
}

/** How far a check is (every 200 ms at most). */
export type CheckProgressEvent = ProgressEvent<'check:progress', CheckProgress>

export interface CheckOptions extends AbortOptions, ProgressOptions<CheckProgressEvent> {
  /** Also read, hash and open every data block (`cairn check --read-data`). */
  readData?: boolean
  /** Only this snapshot (id, unique prefix or `latest`); default every snapshot. */
  snapshot?: string
}

export interface CheckResult {
  snapshots: number
  blocksChecked: number
  bytesChecked: number
  errors: string[]
  /**
   * CIDs of blocks that are missing, unreadable or no longer match their address: what a
   * copy from another site can replace (F14). A block that matches its CID but does not
   * decrypt is not listed (another site holds the same bytes).
   */
  badBlocks: string[]
}

export interface ForgetPolicy {
  keepLast?: number
  keepDays?: number
  task?: string
  now?: Date
}

export interface PruneResult {
  blocksRemoved: number
  bytesFreed: number
  segmentsRewritten: number
  segmentsDeleted: number
}

/** One entry of `cairn ls`. */
export interface TreeEntry {
  path: string
  type: 'file' | 'dir' | 'symlink'
  size: number
  mode: number
  mtime: string
  target?: string
}
