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
 * - `getMany` and `putMany` are optional fast paths for many blocks at once (replication);
 *   `readBlocks` and `storeBlocks` below use them when a store has them, else `get`/`put`.
 */
export interface BlockStore {
  has: (cid: CID) => Promise<boolean>
  hasMany: (cids: CID[]) => Promise<boolean[]>
  get: (cid: CID, options?: { verify?: boolean }) => Promise<Uint8Array>
  /** Stored length of each block (undefined when absent), in the order asked, without reading the blocks. */
  sizes: (cids: CID[]) => Promise<Array<number | undefined>>
  put: (cid: CID, bytes: Uint8Array) => Promise<void>
  /** The blocks of `cids` in an order the store reads fastest, each with its position in `cids`. */
  getMany?: (cids: CID[]) => AsyncIterable<{ index: number, bytes: Uint8Array }>
  /** `put` for each block; one entry per block: undefined when stored (or already present), else the error that refused it. */
  putMany?: (blocks: ReadonlyArray<{ cid: CID, bytes: Uint8Array }>) => Promise<Array<Error | undefined>>
  /** Makes every block put so far durable: segment data is synced before the index that points to it. */
  flush: () => Promise<void>
  /** Every stored block's CID, in no particular order. */
  cids: () => AsyncIterable<CID>
  /** CIDs of snapshot records (roots of restorable backups), so replicas can list them. */
  snapshotRoots: () => Promise<CID[]>
  addSnapshotRoot: (cid: CID) => Promise<void>
}

/** `store.getMany`, or `get` block by block for a store without it. */
export async function * readBlocks (store: BlockStore, cids: CID[]): AsyncIterable<{ index: number, bytes: Uint8Array }> {
  if (store.getMany !== undefined) {
    yield * store.getMany(cids)
    return
  }
  for (let index = 0; index < cids.length; index++) yield { index, bytes: await store.get(cids[index]) }
}

/** `store.putMany`, or `put` block by block for a store without it (a refusal is returned, other errors thrown). */
export async function storeBlocks (store: BlockStore, blocks: ReadonlyArray<{ cid: CID, bytes: Uint8Array }>): Promise<Array<Error | undefined>> {
  if (store.putMany !== undefined) return await store.putMany(blocks)
  const out: Array<Error | undefined> = []
  for (const { cid, bytes } of blocks) {
    try {
      await store.put(cid, bytes)
      out.push(undefined)
    } catch (err: any) {
      if (err?.name !== 'CidMismatchError') throw err
      out.push(err)
    }
  }
  return out
}
