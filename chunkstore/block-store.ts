import type { CID } from 'multiformats/cid'

/**
 * Where a sealed block lives in the value log: segment number, byte offset of the block's
 * ciphertext inside that segment file, and its length.
 */
export interface BlockLocation {
  segment: number
  offset: number
  length: number
}

/**
 * A store of sealed (encrypted) blocks addressed by CIDv1(raw, sha2-256) of their bytes.
 * It knows nothing about keys: a replica that cannot decrypt can still hold and verify
 * blocks. This is the interface the mesh layer (bootstrap/) builds on.
 *
 * Contract:
 * - `put` MUST verify that sha2-256(bytes) equals the CID's digest and throw
 *   `CidMismatchError` otherwise, storing nothing. Putting a block that is already present is
 *   a no-op. A block is durable (on disk, indexed) once the promise of `flush()` that follows
 *   it resolves; after a crash, blocks written but not yet flushed may be missing, never corrupt.
 * - `get` MUST throw `BlockNotFoundError` for an absent block and `CorruptBlockError` when
 *   `verify` is set and the bytes on disk no longer match the CID.
 * - `hasMany` answers in the order asked.
 */
export interface BlockStore {
  has: (cid: CID) => Promise<boolean>
  hasMany: (cids: CID[]) => Promise<boolean[]>
  get: (cid: CID, options?: { verify?: boolean }) => Promise<Uint8Array>
  /** Stored length of each block (undefined when absent), in the order asked, without reading the blocks. */
  sizes: (cids: CID[]) => Promise<Array<number | undefined>>
  put: (cid: CID, bytes: Uint8Array) => Promise<void>
  /** Makes every block put so far durable: segment data is synced before the index that points to it. */
  flush: () => Promise<void>
  /** Every stored block's CID, in no particular order. */
  cids: () => AsyncIterable<CID>
  /** CIDs of snapshot records (roots of restorable backups), so replicas can list them. */
  snapshotRoots: () => Promise<CID[]>
  addSnapshotRoot: (cid: CID) => Promise<void>
}
