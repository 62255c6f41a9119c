import type { AbortOptions } from '../../crypto/index.ts'

/**
 * What an archive device keeps its packs, catalogues and snapshot roots on: named, immutable
 * objects (restic's backend and kopia's blob storage are the model). A local folder, an S3
 * bucket and a tape set each implement it; the pack store (pack-block-store.ts) turns it into
 * a BlockStore.
 *
 * Contract:
 * - `write` stores the whole object under `name` or, on any failure, nothing under that name;
 *   once it resolves the object is durable. Names are `/`-separated, made of [A-Za-z0-9._-].
 * - `read` returns `length` bytes from `offset` (all of it by default) and throws
 *   ArchiveDamagedError when fewer are there; an absent name is ArchiveDamagedError too (a
 *   catalogue named it).
 * - `list` yields the names under a prefix, in no particular order.
 * - `write` with `retain: false` puts the object under no retention the device would set (S3
 *   Object Lock): it must stay deletable (a lock object, lock-objects.ts).
 * - `write` with `defer` (a medium that has `sync`) need only be durable once `sync` of that
 *   name resolves; until then the object reads back in this process but a crash may lose it or
 *   leave it cut off. `sync` makes the named objects, and their names, durable.
 * - `remove` (where the device can delete: not tape) deletes the object, an absent one being no
 *   error, and resolves 'removed'; or 'locked', touching nothing, when the device holds the object
 *   under a retention that has not ended (S3 Object Lock): it is never asked to delete one.
 * - `copyFile` (optional; a medium that can copy a local file faster than it can be read into
 *   memory and written, a folder) stores the first `length` bytes of the file at `path` under
 *   `name`, with `write`'s promises (`defer` included). Without it the pack store reads the
 *   bytes and calls `write`.
 * - `concurrency` (optional, default 1): how many `write` and `copyFile` calls may run at once. A
 *   folder takes several (the kernel copies, on libuv's pool); a tape set is one stream.
 * - `localPath` (optional; a folder) is the file an object is in, for a kernel copy out of the
 *   device (a restore's whole segments); the file is only read.
 * - Errors name the device (`device`): ArchiveDeviceUnavailableError when it cannot be reached,
 *   ArchiveDeviceFullError when it is full. Every call takes `{ signal }`.
 */
export interface ArchiveMedium {
  /** The device's name, as errors give it. */
  readonly device: string
  write: (name: string, bytes: Uint8Array, options?: AbortOptions & { defer?: boolean, retain?: false }) => Promise<void>
  sync?: (names: string[], options?: AbortOptions) => Promise<void>
  copyFile?: (name: string, path: string, length: number, options?: AbortOptions & { defer?: boolean }) => Promise<void>
  readonly concurrency?: number
  localPath?: (name: string) => string
  read: (name: string, options?: AbortOptions & { offset?: number, length?: number }) => Promise<Uint8Array>
  list: (prefix: string, options?: AbortOptions) => AsyncIterable<string>
  remove?: (name: string, options?: AbortOptions) => Promise<'removed' | 'locked'>
  /**
   * A medium that cannot delete one object but can reuse a whole volume (a tape cartridge): the
   * objects on each volume, and `recycle`, which makes a volume scratch again — every object on
   * it gone, the next write may start there.
   */
  volumes?: () => Map<string, string[]>
  recycle?: (volume: string, options?: AbortOptions) => Promise<void>
}
