import { CID } from 'multiformats/cid'
import { CidMismatchError } from './errors.ts'
import { throwIfAborted, type AbortOptions } from '../crypto/index.ts'

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
 * The storage seam: a place that holds sealed (encrypted) blocks addressed by CIDv1(raw,
 * sha2-256) of their bytes. It knows nothing about keys: a replica or an archive device that
 * cannot decrypt can still hold and verify blocks. Implementations: LocalBlockStore (segments
 * plus a LevelDB index), the union view (union-block-store.ts), the in-memory and
 * fault-injecting stores of testing/, and every archive device. Each runs the conformance
 * suite (testing/block-store-suite.ts); doc/design.md "The storage seam" says how a store on
 * object storage plugs in.
 *
 * Who relies on what:
 * - replication (bootstrap/) and the holder protocol: all of it, the bulk pairs when present;
 * - archive, verify of an archive and restore from an archive: has/hasMany, get, put/putMany,
 *   flush, cids, snapshot roots — and, where both sides have them, `located` and `segmentFile`
 *   (a whole segment copied as it lies), and `wholeSegments`/`takeSegment` (the way back) — so
 *   any implementation can be a source or a target;
 * - backup, restore, check and prune of a site's own store run on LocalBlockStore itself: its
 *   workers write and read segment files by location, which no other store has (see
 *   doc/design.md for what a second backend of that kind would implement).
 *
 * Contract:
 * - `put` MUST verify that sha2-256(bytes) equals the CID's digest and throw
 *   `CidMismatchError` otherwise, storing nothing. Putting a block that is already present is
 *   a no-op, except that a present copy that no longer matches its CID is replaced (repair).
 * - Durability: a block is durable (on the medium, findable after a restart) once the promise
 *   of a `flush()` that follows its `put` resolves; so is a snapshot root. After a crash,
 *   blocks put but not yet flushed may be missing, never corrupt or half there, and nothing
 *   flushed before is lost.
 * - Ordering: a block is visible to `has`, `get`, `sizes` and `cids` of the same store object
 *   as soon as its `put` resolves (before `flush`). A snapshot root is added only after the
 *   blocks of its tree were put; `addSnapshotRoot` does not check this.
 * - `get` MUST throw `BlockNotFoundError` for an absent block and `CorruptBlockError` when
 *   `verify` is set and the bytes held no longer match the CID; without `verify` it may
 *   return such bytes (callers that decrypt find out anyway).
 * - `hasMany` and `sizes` answer in the order asked; `cids` lists each block once, in no
 *   particular order, blocks put during the listing or not.
 * - Errors: the conditions above have their classes (chunkstore/errors.ts); a store that
 *   cannot reach its medium, is full or is read-only throws one CairnError naming the place
 *   and what to do, and what it held before stays as it was.
 * - Every call takes `{ signal }` (AbortOptions): once it is aborted the call throws
 *   OperationAbortedError, an iteration at its next block. What was put before stays, durable
 *   or absent as `flush` says; a `flush` under way is not cut short.
 */
export interface BlockStore {
  has: (cid: CID, options?: AbortOptions) => Promise<boolean>
  hasMany: (cids: CID[], options?: AbortOptions) => Promise<boolean[]>
  get: (cid: CID, options?: AbortOptions & { verify?: boolean }) => Promise<Uint8Array>
  /** Stored length of each block (undefined when absent), in the order asked, without reading the blocks. */
  sizes: (cids: CID[], options?: AbortOptions) => Promise<Array<number | undefined>>
  put: (cid: CID, bytes: Uint8Array, options?: AbortOptions) => Promise<void>
  /**
   * The blocks of `cids` in an order the store reads fastest, each with its position in `cids`.
   * With `transient`, the bytes of a block may be reused once the caller asks for the next one.
   */
  getMany?: (cids: CID[], options?: AbortOptions & { transient?: boolean }) => AsyncIterable<{ index: number, bytes: Uint8Array }>
  /**
   * Optional bulk replication pair: every stored block packed in batches of about `batch`,
   * and the bytes of chosen ones (any LocatedBlocks built from those batches) in the order the
   * store reads fastest, each with its position, valid until the caller asks for the next.
   * `locatedBlocks` and `readLocatedBlocks` below build them from the rest for other stores.
   */
  located?: (batch: number, options?: AbortOptions) => AsyncIterable<LocatedBlocks>
  readLocated?: (blocks: LocatedBlocks, options?: AbortOptions) => AsyncIterable<{ index: number, bytes: Uint8Array }>
  /**
   * Optional, with `located`: the file of one segment named by `LocatedBlocks.segments`, so a
   * copy that wants every block in it can take its bytes as they lie (an archive's whole-segment
   * copy, node/archive/block-copy.ts) instead of block by block. Segments are append-only: the
   * bytes up to the end of any located block never change; a prune may delete the file (a copy
   * then finds it gone and takes those blocks one by one).
   */
  segmentFile?: (segment: number) => string
  /**
   * Optional pair for a restore from an archive (issue 16): the whole store segments this store
   * holds as they lay in the store they came from (an archive device's segment packs), in the
   * order they were archived; and `takeSegment` on a store that can take one as a segment file of
   * its own. `takeSegment` keeps `put`'s promise: each entry's bytes in the copy are checked
   * against its CID before it is indexed, and the entries that do not match are refused (one
   * entry per block: undefined when stored or present already, else the CidMismatchError) and
   * left to be put one by one. Durable, like `put`, at the next `flush`.
   */
  wholeSegments?: (options?: AbortOptions) => AsyncIterable<WholeSegment>
  takeSegment?: (segment: WholeSegment, options?: AbortOptions) => Promise<Array<Error | undefined>>
  /** `put` for each block; one entry per block: undefined when stored (or already present), else the error that refused it. */
  putMany?: (blocks: ReadonlyArray<{ cid: CID, bytes: Uint8Array }>, options?: AbortOptions) => Promise<Array<Error | undefined>>
  /** Makes every block put so far durable: segment data is synced before the index that points to it. */
  flush: (options?: AbortOptions) => Promise<void>
  /** Every stored block's CID, in no particular order. */
  cids: (options?: AbortOptions) => AsyncIterable<CID>
  /** CIDs of snapshot records (roots of restorable backups), so replicas can list them. */
  snapshotRoots: (options?: AbortOptions) => Promise<CID[]>
  /**
   * Lists a snapshot root. `origin` is given for a root another site sent (none: a backup made
   * into this store); a root listed already keeps the origin it was first listed with.
   */
  addSnapshotRoot: (cid: CID, origin?: RootOrigin, options?: AbortOptions) => Promise<void>
  /** Optional: every snapshot root with its origin (undefined: a backup made into this store). */
  snapshotRootOrigins?: (options?: AbortOptions) => Promise<Array<{ cid: CID, origin?: RootOrigin }>>
}

/**
 * Where a snapshot root held here came from: `site`, the PeerId of the site whose backup it is
 * (as the member that sent it said: not authenticated, doc/mesh.md), and when it arrived here.
 */
export interface RootOrigin {
  site: string
  received: string
}

/**
 * Stored blocks packed for bulk replication, without an object per block: `count` binary
 * CIDs of 36 bytes each (CIDv1 raw sha2-256), their lengths, and where each lies in the
 * store's own terms (segment and offset for a local store), which only that store's
 * `readLocated` reads. `stores` names the store of each block in a view over several.
 */
export interface LocatedBlocks {
  count: number
  cids: Uint8Array
  lengths: Uint32Array
  segments: Uint32Array
  offsets: Float64Array
  stores?: Uint16Array
}

export const BLOCK_CID_LENGTH = 36

/**
 * A store segment held whole (`BlockStore.wholeSegments`): its first `length` bytes, the blocks
 * in it (binary CID, offset of the block's bytes, length) and a way to write those bytes to a
 * new file, which `copyTo` creates (a kernel copy where the bytes are a local file already).
 */
export interface WholeSegment {
  length: number
  entries: ReadonlyArray<{ cid: Uint8Array, offset: number, length: number }>
  copyTo: (path: string, options?: AbortOptions) => Promise<void>
}

/** Room for `n` located blocks (count 0: the filler sets it). */
export function newLocatedBlocks (n: number): LocatedBlocks {
  return { count: 0, cids: new Uint8Array(n * BLOCK_CID_LENGTH), lengths: new Uint32Array(n), segments: new Uint32Array(n), offsets: new Float64Array(n) }
}

/** A growing LocatedBlocks: entries picked from batches, kept for one round of reads. */
export class LocatedList implements LocatedBlocks {
  count = 0
  cids = new Uint8Array(0)
  lengths = new Uint32Array(0)
  segments = new Uint32Array(0)
  offsets = new Float64Array(0)
  stores: Uint16Array | undefined = undefined

  /** Adds entry `i` of `from`. */
  push (from: LocatedBlocks, i: number): void {
    if (this.count === this.lengths.length) this.grow(Math.max(1024, this.count * 2), from.stores !== undefined)
    const n = this.count++
    this.cids.set(from.cids.subarray(i * BLOCK_CID_LENGTH, (i + 1) * BLOCK_CID_LENGTH), n * BLOCK_CID_LENGTH)
    this.lengths[n] = from.lengths[i]
    this.segments[n] = from.segments[i]
    this.offsets[n] = from.offsets[i]
    if (from.stores !== undefined) (this.stores ??= new Uint16Array(this.lengths.length))[n] = from.stores[i]
  }

  private grow (size: number, withStores: boolean): void {
    const cids = new Uint8Array(size * BLOCK_CID_LENGTH); cids.set(this.cids); this.cids = cids
    const lengths = new Uint32Array(size); lengths.set(this.lengths); this.lengths = lengths
    const segments = new Uint32Array(size); segments.set(this.segments); this.segments = segments
    const offsets = new Float64Array(size); offsets.set(this.offsets); this.offsets = offsets
    if (withStores || this.stores !== undefined) { const st = new Uint16Array(size); if (this.stores !== undefined) st.set(this.stores); this.stores = st }
  }

  /** The binary CID of entry `i` (a view). */
  cid (i: number): Uint8Array {
    return this.cids.subarray(i * BLOCK_CID_LENGTH, (i + 1) * BLOCK_CID_LENGTH)
  }
}

/** `store.located`, or the same built from `cids` and `sizes` (offsets are then just positions). */
export async function * locatedBlocks (store: BlockStore, batch = 4096, options?: AbortOptions): AsyncIterable<LocatedBlocks> {
  if (store.located !== undefined && store.readLocated !== undefined) {
    yield * store.located(batch, options)
    return
  }
  let cids: CID[] = []
  let position = 0
  const pack = async (): Promise<LocatedBlocks> => {
    const sizes = await store.sizes(cids, options)
    const out = newLocatedBlocks(cids.length)
    out.count = cids.length
    cids.forEach((c, i) => { out.cids.set(c.bytes, i * BLOCK_CID_LENGTH); out.lengths[i] = sizes[i] ?? 0; out.offsets[i] = position++ })
    cids = []
    return out
  }
  for await (const cid of store.cids(options)) {
    if (cid.bytes.length !== BLOCK_CID_LENGTH) continue
    cids.push(cid)
    if (cids.length === batch) yield await pack()
  }
  if (cids.length > 0) yield await pack()
}

/** `store.readLocated`, or `readBlocks` over the same CIDs. Bytes are transient (see getMany). */
export async function * readLocatedBlocks (store: BlockStore, blocks: LocatedBlocks, options?: AbortOptions): AsyncIterable<{ index: number, bytes: Uint8Array }> {
  if (store.located !== undefined && store.readLocated !== undefined) {
    yield * store.readLocated(blocks, options)
    return
  }
  const cids = Array.from({ length: blocks.count }, (_, i) => CID.decode(blocks.cids.subarray(i * BLOCK_CID_LENGTH, (i + 1) * BLOCK_CID_LENGTH)))
  yield * readBlocks(store, cids, { ...options, transient: true })
}

/** `store.getMany`, or `get` block by block for a store without it (`transient`: see getMany). */
export async function * readBlocks (store: BlockStore, cids: CID[], options: AbortOptions & { transient?: boolean } = {}): AsyncIterable<{ index: number, bytes: Uint8Array }> {
  if (store.getMany !== undefined) {
    yield * store.getMany(cids, options)
    return
  }
  for (let index = 0; index < cids.length; index++) yield { index, bytes: await store.get(cids[index], { signal: options.signal }) }
}

/** `store.putMany`, or `put` block by block for a store without it (a refusal is returned, other errors thrown). */
export async function storeBlocks (store: BlockStore, blocks: ReadonlyArray<{ cid: CID, bytes: Uint8Array }>, options?: AbortOptions): Promise<Array<Error | undefined>> {
  if (store.putMany !== undefined) return await store.putMany(blocks, options)
  const out: Array<Error | undefined> = []
  for (const { cid, bytes } of blocks) {
    throwIfAborted(options?.signal, 'Storing blocks')
    try {
      await store.put(cid, bytes, options)
      out.push(undefined)
    } catch (err) {
      if (!(err instanceof CidMismatchError)) throw err
      out.push(err)
    }
  }
  return out
}
