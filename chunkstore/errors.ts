// One class per condition of the data path, each with a stable `name` and `code` (the base and
// the rules: crypto/errors.ts). Messages say what to do. None of these conditions changes a
// stored byte.
import { CairnError, type CairnErrorOptions } from '../crypto/index.ts'

export class StoreNotFoundError extends CairnError {
  static override readonly code = 'STORE_NOT_FOUND'
  override readonly name = 'StoreNotFoundError'
  constructor (dir: string, options?: CairnErrorOptions) {
    super(`No Cairn store at ${dir}. Create one with "cairn init --store ${dir}", or point --store / CAIRN_STORE at an existing store.`, { ...options, params: { dir } })
  }
}

export class StoreExistsError extends CairnError {
  static override readonly code = 'STORE_EXISTS'
  override readonly name = 'StoreExistsError'
  constructor (dir: string, options?: CairnErrorOptions) {
    super(`${dir} is not empty; a new store needs an empty or missing folder. Nothing was changed.`, { ...options, params: { dir } })
  }
}

/** A command that needs a site's own store (or a new one) was pointed at a mesh replica. */
export class ReplicaNotAStoreError extends CairnError {
  static override readonly code = 'REPLICA_NOT_A_STORE'
  override readonly name = 'ReplicaNotAStoreError'
  constructor (dir: string, action: 'init' | 'open', options?: CairnErrorOptions) {
    super(action === 'init'
      ? `${dir} is a mesh replica: the blocks other sites send, kept by "cairn mesh run". This site's own store needs a folder of its own: "cairn init --store OTHER_FOLDER", and serve that store to the mesh with "cairn mesh run --store OTHER_FOLDER". Nothing was changed.`
      : `${dir} is a mesh replica: the blocks other sites send, kept by "cairn mesh run", with no keys of this site's. Back up into a store of this site's own ("cairn init --store OTHER_FOLDER"). To read a lost site's backups here, copy that site's escrowed config.json and keys.json into ${dir} (doc/mesh.md, "Restoring at a DR site").`, { ...options, params: { dir, action } })
  }
}

/** A folder given to a mesh node that is neither empty, a store nor a replica. */
export class NotAStoreFolderError extends CairnError {
  static override readonly code = 'NOT_A_STORE_FOLDER'
  override readonly name = 'NotAStoreFolderError'
  constructor (readonly dir: string) {
    super(`${dir} is not empty and is neither a Cairn store nor a mesh replica; nothing was written there. Give --store a new or empty folder (it becomes this site's replica of other sites' blocks) or a store made by "cairn init".`, { params: { dir } })
  }
}

export class StoreCorruptError extends CairnError {
  static override readonly code = 'STORE_CORRUPT'
  override readonly name = 'StoreCorruptError'
  constructor (message: string, options?: CairnErrorOptions) {
    super(message, options)
  }
}

export class StoreInUseError extends CairnError {
  static override readonly code = 'STORE_IN_USE'
  override readonly name = 'StoreInUseError'
  constructor (dir: string, options?: CairnErrorOptions) {
    super(`The store at ${dir} is open in another process (a backup, restore or daemon). Wait for it to finish, or stop it, and try again.`, { ...options, params: { dir } })
  }
}

/**
 * The index (index/) is missing, unreadable or disagrees with the segments. Nothing was
 * changed: the store is never opened as empty or guessed at; the segments hold every block,
 * and `cairn repair index` rebuilds the index from them.
 */
export class IndexDamagedError extends CairnError {
  static override readonly code = 'INDEX_DAMAGED'
  override readonly name = 'IndexDamagedError'
  constructor (readonly store: string, detail: string, options?: CairnErrorOptions) {
    super(`The store's index at ${store}/index ${detail}. Nothing was changed. Rebuild it from the segments with "cairn repair index --store ${store}".`, { ...options, params: { store, detail } })
  }
}

/** A write found no space left on the disk (ENOSPC or EDQUOT). */
export class DiskFullError extends CairnError {
  static override readonly code = 'DISK_FULL'
  override readonly name = 'DiskFullError'
  constructor (readonly where: string, options?: CairnErrorOptions) {
    super(`The disk holding ${where} is full (no space left on the device). Free some space and run the command again; what was written before is kept and intact.`, { ...options, params: { where } })
  }
}

/** A full disk named as such (DiskFullError, with `where` it is), any other error as it is: for `throw diskFullAt(err, dir)`. */
export function diskFullAt (err: unknown, where: string): unknown {
  return isDiskFull(err) && !(err instanceof DiskFullError) ? new DiskFullError(where, { cause: err }) : err
}

/** Is this an error of a full disk (or an exhausted quota)? Node's and LevelDB's wordings. */
export function isDiskFull (err: unknown): boolean {
  const e = err as { code?: string, message?: string, cause?: unknown } | undefined
  if (e === undefined || e === null) return false
  if (e.code === 'ENOSPC' || e.code === 'EDQUOT') return true
  if (/no space left on device|ENOSPC|disk quota exceeded/i.test(e.message ?? '')) return true
  return e.cause !== undefined && e.cause !== err && isDiskFull(e.cause)
}

export class BlockNotFoundError extends CairnError {
  static override readonly code = 'BLOCK_NOT_FOUND'
  override readonly name = 'BlockNotFoundError'
  constructor (readonly cid: string, options?: CairnErrorOptions) {
    super(`Block ${cid} is missing from the store. Run "cairn check" to see which snapshots are affected.`, { ...options, params: { cid } })
  }
}

export class CidMismatchError extends CairnError {
  static override readonly code = 'CID_MISMATCH'
  override readonly name = 'CidMismatchError'
  constructor (readonly cid: string, options?: CairnErrorOptions) {
    super(`Block data does not match its address ${cid}; it was refused and nothing was stored.`, { ...options, params: { cid } })
  }
}

export class CorruptBlockError extends CairnError {
  static override readonly code = 'BLOCK_CORRUPT'
  override readonly name = 'CorruptBlockError'
  constructor (readonly cid: string, detail: string, options?: CairnErrorOptions & { where?: string }) {
    super(`Block ${cid}${options?.where !== undefined ? ` of ${options.where}` : ''} is corrupt (${detail}). Run "cairn check --read-data"; a replica can supply a good copy ("cairn repair snapshots" keeps the rest restorable).`, { ...options, params: { cid, detail, ...(options?.where !== undefined ? { where: options.where } : {}) } })
  }
}

export class SnapshotNotFoundError extends CairnError {
  static override readonly code = 'SNAPSHOT_NOT_FOUND'
  override readonly name = 'SnapshotNotFoundError'
  constructor (ref: string, detail = '', options?: CairnErrorOptions) {
    super(`No snapshot matches "${ref}"${detail}. List them with "cairn snapshots".`, { ...options, params: { ref } })
  }
}

/** A snapshot record that cannot be read (missing, or its bytes no longer match its id). The other snapshots are unaffected. */
export class SnapshotDamagedError extends CairnError {
  static override readonly code = 'SNAPSHOT_DAMAGED'
  override readonly name = 'SnapshotDamagedError'
  constructor (readonly id: string, reason: string, options?: CairnErrorOptions) {
    super(`Snapshot ${id} cannot be read: ${reason}. The other snapshots are unaffected. Forget it with "cairn forget ${id.slice(0, 16)}", or fetch a good copy from a peer with "cairn repair snapshots --mesh-dir DIR".`, { ...options, params: { id, reason } })
  }
}

export class PathNotFoundError extends CairnError {
  static override readonly code = 'PATH_NOT_FOUND'
  override readonly name = 'PathNotFoundError'
  constructor (path: string, where: string, options?: CairnErrorOptions) {
    super(`${path} does not exist ${where}.`, { ...options, params: { path, where } })
  }
}

/**
 * Some entries of a restore could not be restored (blocks missing or damaged); everything else
 * was. `failed` lists them; a rerun (any conflict mode) writes what is readable by then.
 */
export class RestoreIncompleteError extends CairnError {
  static override readonly code = 'RESTORE_INCOMPLETE'
  override readonly name = 'RestoreIncompleteError'
  constructor (readonly failed: Array<{ path: string, error: string }>, options?: CairnErrorOptions) {
    super(`${failed.length} ${failed.length === 1 ? 'entry' : 'entries'} could not be restored, the rest was: ${failed.slice(0, 3).map(f => `${f.path}: ${f.error}`).join('; ')}${failed.length > 3 ? '; …' : ''}`, { ...options, params: { failed: failed.length } })
  }
}

export class InvalidOptionError extends CairnError {
  static override readonly code = 'OPTION_INVALID'
  override readonly name = 'InvalidOptionError'
  constructor (message: string, options?: CairnErrorOptions) {
    super(message, options)
  }
}

export class LastSnapshotError extends CairnError {
  static override readonly code = 'LAST_SNAPSHOT'
  override readonly name = 'LastSnapshotError'
  constructor (task: string, options?: CairnErrorOptions) {
    super(`Refusing to remove the last restorable snapshot of task "${task}".`, { ...options, params: { task } })
  }
}

export class KeySlotError extends CairnError {
  static override readonly code = 'KEY_SLOT_REFUSED'
  override readonly name = 'KeySlotError'
  constructor (message: string, options?: CairnErrorOptions) {
    super(message, options)
  }
}

export class ReadOnlyStoreError extends CairnError {
  static override readonly code = 'READ_ONLY_STORE'
  override readonly name = 'ReadOnlyStoreError'
  constructor (what: string, options?: CairnErrorOptions) {
    super(`This view of the stores only reads; ${what} was refused and nothing was stored.`, { ...options, params: { what } })
  }
}

/**
 * Refused on a mesh replica (F13), which holds other sites' data: prune on a store that holds
 * other stores' snapshots, and any change (backup, forget, remove, prune) through a repository
 * opened over a replica the mesh holds (`openRepositoryOver`).
 */
export class SharedReplicaError extends CairnError {
  static override readonly code = 'SHARED_REPLICA'
  override readonly name = 'SharedReplicaError'
  constructor (what: { foreign: number } | { action: string }) {
    super('foreign' in what
      ? `This store also holds ${what.foreign} snapshot${what.foreign === 1 ? '' : 's'} of other stores (it is a mesh replica); pruning with one store's key would delete their data, so nothing was removed. Prune at the site that backs up.`
      : `This is a DR copy of another site's backups in this node's mesh replica, which holds other sites' data too; ${what.action} here is refused and nothing was changed. Do it at the site that backs up.`, { params: what })
  }
}

/** A bandwidth schedule (F12) that cannot be applied. */
export class InvalidScheduleError extends CairnError {
  static override readonly code = 'BANDWIDTH_SCHEDULE_INVALID'
  override readonly name = 'InvalidScheduleError'
  constructor (message: string) {
    super(`${message}; windows look like {"from":"08:00","to":"18:00","mibps":10,"days":[1,2,3,4,5]}`, { params: { detail: message } })
  }
}

/**
 * A restore target that is not storage (a kernel view such as /proc, /sys or /dev), or a folder
 * on the way that would lead the restore outside its target. Nothing was written there.
 */
export class RestoreTargetRefusedError extends CairnError {
  static override readonly code = 'RESTORE_TARGET_REFUSED'
  override readonly name = 'RestoreTargetRefusedError'
  constructor (path: string, why: string, options?: CairnErrorOptions) {
    super(`Cannot restore to ${path}: ${why}. Nothing was written there; choose a folder on a real file system.`, { ...options, params: { path, why } })
  }
}

/** A data-path worker thread failed or exited; the operation stops, and what it wrote is kept for the next run. */
export class WorkerFailedError extends CairnError {
  static override readonly code = 'WORKER_FAILED'
  override readonly name = 'WorkerFailedError'
  constructor (detail: string, options?: CairnErrorOptions) {
    super(`A data-path worker failed: ${detail}. What was written is kept; run the command again.`, { ...options, params: { detail } })
  }
}


/** A disk image's source or target is mounted (read-write for a source), or is a mounted file system's device. */
export class DeviceInUseError extends CairnError {
  static override readonly code = 'DEVICE_IN_USE'
  override readonly name = 'DeviceInUseError'
  constructor (device: string, why: string, options?: CairnErrorOptions) {
    super(`${device} ${why}. Nothing was read or written.`, { ...options, params: { device, why } })
  }
}

/** A disk image restore target smaller than the image. */
export class ImageTargetTooSmallError extends CairnError {
  static override readonly code = 'IMAGE_TARGET_TOO_SMALL'
  override readonly name = 'ImageTargetTooSmallError'
  constructor (target: string, size: number, need: number, options?: CairnErrorOptions) {
    super(`${target} holds ${size} bytes; the image needs ${need}. Nothing was written; choose a device or image file of at least that size.`, { ...options, params: { target, size, need } })
  }
}

/** The device or image file of a disk image backup shrank, went away or failed to read while it was read. */
export class ImageSourceVanishedError extends CairnError {
  static override readonly code = 'IMAGE_SOURCE_VANISHED'
  override readonly name = 'ImageSourceVanishedError'
  constructor (source: string, at: number, size: number, why: string, options?: CairnErrorOptions) {
    super(`${source} ${why} at byte ${at} of the ${size} it had when the backup began: it vanished, shrank or failed during the backup. No snapshot was recorded; the store holds what it held (blocks already written are unreferenced until a prune).`, { ...options, params: { source, at, size, why } })
  }
}

/** A restored disk image read back with a checksum other than the one recorded at backup. */
export class ImageVerifyFailedError extends CairnError {
  static override readonly code = 'IMAGE_VERIFY_FAILED'
  override readonly name = 'ImageVerifyFailedError'
  constructor (target: string, options?: CairnErrorOptions) {
    super(`${target} does not read back as the image that was backed up (SHA-256 differs): the device may be failing, or another program wrote to it during the restore. Restore again or to another device.`, { ...options, params: { target } })
  }
}

/** A snapshot that is not a disk image was given to an image restore (or an image to a file restore). */
export class NotADiskImageError extends CairnError {
  static override readonly code = 'NOT_A_DISK_IMAGE'
  override readonly name = 'NotADiskImageError'
  constructor (snapshot: string, options?: CairnErrorOptions) {
    super(`Snapshot ${snapshot} is not a disk image; restore it with "cairn restore".`, { ...options, params: { snapshot } })
  }
}
