import type { AbortOptions } from '../crypto/index.ts'
import type { BlockStore } from './block-store.ts'
import type { ImageBackupOptions, ImageGetOptions, ImageGetResult, ImageLsOptions, ImageManifest, ImageRestoreOptions, ImageRestoreResult } from './disk-image.ts'
import type { Ext4Entry } from './ext4-reader.ts'
import type {
  BackupOptions, CheckOptions, CheckResult, ForgetPolicy, PruneResult, RestoreOptions, RestoreResult,
  SnapshotRecord, TreeEntry
} from './types.ts'

/** How `ls` lists: the whole subtree (default), or a page of one folder's own entries. */
export interface LsOptions extends AbortOptions {
  children?: boolean
  offset?: number
}

/**
 * A store opened with its key: what the CLI, the daemon's jobs and the mesh's DR restore use.
 * Only one process opens a store at a time (LevelDB holds a lock); inside that process the
 * methods may run concurrently, except that `prune` waits for nothing and never blocks a
 * backup: blocks a running backup reuses are protected from removal.
 */
export interface Repository {
  /** The sealed blocks, by CID: what replication moves. */
  readonly blocks: BlockStore
  /** Directory of the store on disk. */
  readonly dir: string
  /** Backs up `paths` and returns the new snapshot record (already durable when it resolves). */
  backup: (options: BackupOptions) => Promise<SnapshotRecord>
  restore: (options: RestoreOptions) => Promise<RestoreResult>
  /** Disk images (disk-image.ts): a block device or image file with its partition table. */
  backupImage: (options: ImageBackupOptions) => Promise<SnapshotRecord>
  restoreImage: (options: ImageRestoreOptions) => Promise<ImageRestoreResult>
  /** The partition table and regions of a disk image snapshot; undefined for a snapshot of files. */
  imageManifest: (snapshot: string, options?: AbortOptions) => Promise<ImageManifest | undefined>
  /** A folder of an ext4 partition of a disk image snapshot, and files restored from it, read from its chunks. */
  imageLs: (options: ImageLsOptions) => Promise<Ext4Entry[]>
  imageGet: (options: ImageGetOptions) => Promise<ImageGetResult>
  /** Snapshot records, oldest first. */
  snapshots: (filter?: { task?: string } & AbortOptions) => Promise<SnapshotRecord[]>
  /** Resolves a full id, a unique id prefix, or `latest` (optionally of one task). Throws SnapshotNotFoundError. */
  resolveSnapshot: (ref: string, task?: string, options?: AbortOptions) => Promise<SnapshotRecord>
  /**
   * Entries below `path` (default: all), depth-first, in name order. With `children`, only the
   * folder's own entries, from its `offset`-th on (those before it are not read): a page of one folder.
   */
  ls: (snapshot: string, path?: string, options?: LsOptions) => AsyncIterable<TreeEntry>
  /** Every referenced block present and, with `readData`, readable, decryptable and matching its CID. */
  check: (options?: CheckOptions) => Promise<CheckResult>
  /** Removes snapshot records by policy; never the last snapshot of a task. Returns what was removed. */
  forget: (policy: ForgetPolicy, options?: AbortOptions) => Promise<SnapshotRecord[]>
  /** Removes one snapshot record (refuses the last one of its task unless `force`). */
  removeSnapshot: (id: string, options?: { force?: boolean } & AbortOptions) => Promise<void>
  /** Bytes the blocks of these snapshots (full ids) occupy in the store, each block once (restic's `stats --mode raw-data`). */
  storedBytes: (ids: string[], options?: AbortOptions) => Promise<{ bytes: number, blocks: number }>
  /** Reclaims space of blocks no snapshot references. */
  prune: (options?: AbortOptions) => Promise<PruneResult>
  /** Writes the manifest of every snapshot listed without one (made before manifests existed) by walking its tree; reports those it could not. */
  writeMissingManifests: (options?: AbortOptions & { late?: boolean }) => Promise<{ written: string[], failed: Array<{ id: string, reason: string }> }>
  close: () => Promise<void>
}
