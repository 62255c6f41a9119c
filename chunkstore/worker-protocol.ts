// Messages between the data path's main thread and its worker threads. Internal to a
// process (structured clone), so not versioned; buffers are transferred, not copied.
import type { SpaceKeys } from '../crypto/index.ts'
import type { ChunkerSpec } from './types.ts'
import type { BlockLocation } from './block-store.ts'
import type { Xattr } from './xattrs.ts'

export interface WorkerInit {
  keys: SpaceKeys
  suite: string
  level: number
  chunker: ChunkerSpec
  segmentDir: string
  /** Next segment number, shared by every thread that writes segments (SharedArrayBuffer). */
  segmentCounter: Int32Array
}

export interface BackupFileJob { index: number, path: string | Uint8Array }
/** `xattrs`: read each file's extended attributes into its node. */
export interface BackupJob { t: 'backup', job: number, files: BackupFileJob[], xattrs: boolean }

export interface RestoreChunk { segment: number, offset: number, length: number, id: Uint8Array, size: number, cid: string }
export interface RestoreFileJob {
  index: number
  path: string | Uint8Array
  /** Where the file is written until it is complete (beside `path`, renamed onto it). */
  partial: string | Uint8Array
  size: number
  mode: number
  uid: number
  gid: number
  mtimeNs: bigint
  sparse: boolean
  chunks: RestoreChunk[]
  /** Set after owner and mode (a chown clears security.capability), before the rename. */
  xattrs?: Xattr[]
}
export interface RestoreJob { t: 'restore', job: number, files: RestoreFileJob[], chown: boolean }

/**
 * A check's blocks, packed into a few arrays (an object per block made the main thread's
 * clone and collection cost more than the workers' hashing): block `i` lies at
 * `segments[i]`, `offsets[i]`, `lengths[i]`; its CID is `keys[idEnds[i - 1] (0 for the first)
 * … cidEnds[i]]`, its chunk id `keys[cidEnds[i] … idEnds[i]]`, its plaintext `sizes[i]` bytes.
 */
export interface VerifyJob { t: 'verify', job: number, count: number, segments: Uint32Array, lengths: Uint32Array, offsets: Float64Array, sizes: Float64Array, cidEnds: Uint32Array, idEnds: Uint32Array, keys: Uint8Array }

export interface NeedReply { t: 'need', job: number, batch: number, need: Uint8Array, cids: Array<Uint8Array | null> }

/** A disk image restore's batch (disk-image.ts): each block read, opened and copied into `buffer` at each of `at`. */
export interface ImageOpenBlock { segment: number, offset: number, length: number, id: Uint8Array, cid: string, size: number, at: number[] }
export interface ImageOpenJob { t: 'image-open', job: number, blocks: ImageOpenBlock[], buffer: ArrayBuffer }

export interface CloseRequest { t: 'close' }
export type ToWorker = BackupJob | RestoreJob | VerifyJob | ImageOpenJob | NeedReply | CloseRequest

/** A batch of chunk ids to look up; `bytes` is the plaintext the batch read (for pacing). */
export interface IdsMessage { t: 'ids', job: number, batch: number, ids: Uint8Array, bytes: number }
/** A block the worker sealed and wrote (not synced) to its own segment. */
export interface WrittenBlock { cid: Uint8Array, id: Uint8Array, loc: BlockLocation }
export interface BlocksMessage { t: 'blocks', blocks: Array<WrittenBlock & { size: number }> }
/** One job's files, in one message (a message per file costs more than the work for small files). */
export interface FilesDone { t: 'files', job: number, files: FileDone[] }
export interface FileDone {
  index: number
  ok: boolean
  warning?: string
  /** The sealed file node, already written to the worker's segment. */
  node?: WrittenBlock
  /** With `node`: the CIDs of the file's chunks, 36 bytes each, in order (for the snapshot's manifest). */
  chunks?: Uint8Array
  /** Instead of a node, for a file of exactly one chunk: that chunk and the file's metadata. */
  inline?: { cid: Uint8Array, id: Uint8Array, mode: number, uid: number, gid: number, mtimeNs: bigint, sparse: boolean, xattrs?: Xattr[] }
  size: number
  bytesRead: number
  /** The file changed while it was read: its cache fields must not vouch for it next time. */
  changed?: boolean
}
/** `warnings`: what was restored only in part (extended attributes that could not be set). */
export interface RestoreDone { t: 'restored', job: number, index: number, ok: boolean, path?: string, error?: string, bytes: number, warnings?: string[] }
/**
 * What failed of a verify job, by the block's index in it: `bad` for a block unreadable or not
 * matching its address (CheckResult.badBlocks). The main thread names the block and its path.
 */
export interface VerifyFailure { index: number, why: string, bad: boolean }
export interface VerifyDone { t: 'verified', job: number, failures: VerifyFailure[], bytes: number, blocks: number }
/** The batch's buffer, handed back filled; `error` if a block could not be read or opened. */
export interface ImageOpened { t: 'image-opened', job: number, buffer: ArrayBuffer, error?: string }
export interface JobDone { t: 'done', job: number }
export interface Closed { t: 'closed' }

export type FromWorker = IdsMessage | BlocksMessage | FilesDone | RestoreDone | VerifyDone | ImageOpened | JobDone | Closed
