import { ClassicLevel } from 'classic-level'
import { CID } from 'multiformats/cid'
import { BLOCK_CID_LENGTH, newLocatedBlocks, type BlockLocation, type BlockStore, type LocatedBlocks, type RootOrigin, type WholeSegment } from './block-store.ts'
import { cidOf, matchesCid } from './codec.ts'
import { existsSync } from 'node:fs'
import { unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { BlockNotFoundError, CidMismatchError, CorruptBlockError, DiskFullError, diskFullAt, IndexDamagedError, isDiskFull, ReadOnlyStoreError, StoreInUseError } from './errors.ts'
import { Epochs } from './epochs.ts'
import { IdFilter } from './id-filter.ts'
import { throwIfAborted, type AbortOptions } from '../crypto/index.ts'
import { verifyLevelDb } from './leveldb-files.ts'
import { readInDiskOrder, READING } from './disk-order-reads.ts'
import { privateIndexCopy, type IndexCopy } from './index-copy.ts'
import { bytesOf, decodeLoc, DIRTY_KEY, FILTER_KEY, indexEntries, keyOf, parseOrigin, PREFIX, prefixed, segKey, type Key } from './index-layout.ts'
import { committedLengthProblems, indexUnflushed, segmentsHoldData } from './index-recovery.ts'
import { syncData, ValueLog } from './value-log.ts'
import { checkSegmentFile } from './segment-check.ts'
import { RootUseIndex, type OriginUse, type RootUse, type UsedBlock } from './root-use.ts'

/**
 * A root's retention at a replica (doc/mesh.md "Locks"): the CID of its manifest head, the lock
 * fixed at receipt (ISO time, or "forever"; it never moves earlier), and `dropping` once GC has
 * begun to free it (a GC killed meanwhile finishes it next time); `adminRelease`: the CID of an
 * administrator's release that ended its lock early.
 */
/** A root's lock at a replica (`'l'`); `record`: the CID of the replica's signed copy of it (bootstrap/lock-record.ts), which `repair index` reads back. */
export interface RootRetention { head: string, origin: string, received: string, lockedUntil: string, dropping?: true, adminRelease?: string, record?: string }

/**
 * The node's own block store: sealed blocks in the value log, their locations and the
 * chunk-id index in LevelDB (its layout: index-layout.ts; doc/design.md, "Index"). Opening
 * checks the index against the segments and indexes what a crash left unindexed
 * (index-recovery.ts); a read-only open works on a private copy of the index (index-copy.ts);
 * bulk reads go in disk order (disk-order-reads.ts).
 *
 * Ordering rule: segment data is fdatasync'ed before the batch that indexes it is written,
 * so the index never points at bytes that are not on disk. Those batches are not synced
 * themselves (a synced batch costs ~40 us per entry here): an entry an OS crash loses points
 * at synced data that the recovery scan indexes again. The snapshot root is written synced,
 * which makes every earlier write durable too.
 */
const { block: B, chunkId: I, snapshot: S, forget: T, pages: P, late: M, intent: R, retention: L, release: Q } = PREFIX
const FLUSH_BYTES = 256 << 20
const FLUSH_ENTRIES = 32768
/** Absent CIDs remembered at most (a few HAVE batches' worth). */
const MAX_ABSENT = 1 << 16

export interface LocalBlockStoreOptions {
  /** Change no byte of the store (see `open`). */
  readOnly?: boolean
  /**
   * An index whose committed lengths the segments do not reach, or (with `verifyTables`) whose
   * tables fail their checksums: refuse (default), or open and report it in `damage` (check).
   */
  inconsistent?: 'refuse' | 'report'
  /** Check every index table against its checksums too, not only CURRENT, the MANIFEST and the logs (check). */
  verifyTables?: boolean
}

/** Written but not yet indexed. Keys and values are latin1 strings of the raw bytes: far fewer heap objects than typed arrays. */
interface Pending { locs: Map<Key, BlockLocation>, ids: Map<Key, Key>, ends: Map<number, number> }
const emptyPending = (): Pending => ({ locs: new Map(), ids: new Map(), ends: new Map() })

export class LocalBlockStore implements BlockStore {
  private pending = emptyPending()
  private flushing = emptyPending()
  private unflushed = 0
  private flushChain: Promise<void> = Promise.resolve()
  /** CIDs a running backup reused or wrote while a prune is marking; the prune keeps them. */
  protected: Set<Key> | undefined
  /**
   * Tree nodes a backup reused from its parent snapshot without reading them while a prune
   * runs: the prune keeps everything below them (see `keepTree`).
   */
  protectedTrees: TreeRef[] | undefined
  /** Who is using the store now, for prune (epochs.ts). */
  readonly epochs = new Epochs()
  /** The prune running now: a second one waits for it. */
  private pruning: Promise<unknown> = Promise.resolve()
  /** Closed while prune drops index entries, so no lookup can hand out a CID being removed. */
  private gate: Promise<void> | undefined
  private lookupsRunning = 0
  /** Backups writing now: their threads may hold segments not yet indexed, which prune must leave alone. */
  writers = 0
  private lookupsDrained: (() => void) | undefined
  /**
   * CIDs a lookup found absent, each dropped as soon as anything writes it (every write goes
   * through `pending`): the PUTs that follow a HAVE need no second lookup of the same CIDs.
   */
  private readonly absent = new Set<Key>()
  /** Flushes completed: a lookup that overlapped one may have missed what it indexed. */
  private flushes = 0
  /** Page-aligned buffers of `getMany`'s transient reads, kept for the next. */
  private readonly readBuffers: Buffer[] = []

  /** Damage the open found and kept (read-only, or not a torn tail): ranges of segments with no intact record. */
  readonly damage: string[] = []

  private readonly use: RootUseIndex
  private constructor (readonly db: ClassicLevel<Buffer, Buffer>, readonly log: ValueLog, private filter: IdFilter, private readonly view?: IndexCopy) {
    this.use = new RootUseIndex(db)
  }

  /** Opened read-only: nothing of the store is ever written. */
  get readOnly (): boolean { return this.view !== undefined }

  private mustWrite (): void {
    if (this.view !== undefined) throw new ReadOnlyStoreError('changing the index')
  }

  /**
   * Opens the store whose index is `indexDir` and segments `segmentDir`. A missing index is
   * created only while the segments hold no block: over segments with data it is an
   * IndexDamagedError (an empty index would make the store look empty and prune delete it
   * all), as is an index LevelDB cannot open or one whose committed lengths the segments do
   * not reach. `readOnly` opens a private copy of the index (hard links where the file system
   * allows; LevelDB writes on every open) and never writes, cuts or removes a segment, so no
   * byte of the store changes; blocks a crash left unindexed are indexed in the copy only.
   */
  static async open (indexDir: string, segmentDir: string, options: LocalBlockStoreOptions = {}): Promise<LocalBlockStore> {
    const readOnly = options.readOnly === true
    const storeDir = dirname(indexDir)
    const hasIndex = existsSync(join(indexDir, 'CURRENT'))
    if (!hasIndex && segmentsHoldData(segmentDir)) {
      throw new IndexDamagedError(storeDir, existsSync(indexDir) ? 'is incomplete (its CURRENT file is missing) while the segments hold blocks' : 'is missing while the segments hold blocks')
    }
    // LevelDB drops a log record that fails its checksum without a word: look first.
    const problems = hasIndex ? verifyLevelDb(indexDir, { tablesToo: options.verifyTables === true }) : []
    // Never read through a damaged table, not even for check: LevelDB can abort the process on one.
    if (problems.length > 0) throw new IndexDamagedError(storeDir, `is damaged (${problems.join('; ')})`)
    const view = readOnly ? privateIndexCopy(indexDir, hasIndex) : undefined
    const db = new ClassicLevel<Buffer, Buffer>(view?.dir ?? indexDir, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
    try {
      try {
        await db.open({ createIfMissing: !hasIndex })
      } catch (err) {
        const cause = (err as { cause?: { code?: string, message?: string } }).cause
        if (cause?.code === 'LEVEL_LOCKED' || /lock/i.test(cause?.message ?? '')) throw new StoreInUseError(storeDir, { cause: err })
        if (isDiskFull(err)) throw new DiskFullError(view !== undefined ? `${view.dir} (a private copy of the index for a read-only command)` : indexDir, { cause: err })
        throw new IndexDamagedError(storeDir, `cannot be opened (${cause?.message ?? (err as Error).message})`, { cause: err })
      }
      const log = new ValueLog(segmentDir, undefined, { asyncWrites: true, directWrites: true, readOnly })
      if (readOnly) {
        // No dedup happens here: the id filter is neither loaded nor rebuilt.
        const store = new LocalBlockStore(db, log, IdFilter.create(0), view)
        await store.checkCommitted(options.inconsistent)
        await store.recover()
        return store
      }
      const dirty = await db.get(DIRTY_KEY)
      const saved = await db.get(FILTER_KEY)
      const filter = dirty === undefined && saved !== undefined ? IdFilter.decode(saved) : undefined
      // Mark the filter stale until a clean close: after a crash it is rebuilt from the index.
      // No sync needed: LevelDB's log is ordered, so any later index entry that survives a
      // crash implies this marker did; blocks the recovery scan re-indexes enter the filter.
      await db.put(DIRTY_KEY, Buffer.alloc(0))
      const store = new LocalBlockStore(db, log, filter ?? IdFilter.create(0))
      await store.checkCommitted(options.inconsistent)
      if (filter === undefined) await store.rebuildFilter()
      await store.recover()
      return store
    } catch (err) {
      if (db.status === 'open') await db.close().catch(() => {})
      view?.remove()
      throw diskFullAt(err, indexDir)
    }
  }

  /**
   * Every segment the index holds a committed length for must exist and be at least that long;
   * otherwise the index points at bytes that are gone (a segment deleted or cut short), and a
   * backup would dedup against blocks that no longer exist. `inconsistent: 'report'` (check)
   * opens anyway and lists the finding in `damage`.
   */
  private async checkCommitted (mode: 'refuse' | 'report' = 'refuse'): Promise<void> {
    const problems = await committedLengthProblems(this.db, this.log)
    if (problems.length > 0 && mode === 'refuse') throw new IndexDamagedError(dirname(this.log.dir), `does not match the segments: ${problems[0]}`)
    this.damage.push(...problems)
  }

  private async rebuildFilter (capacity = 0): Promise<void> {
    let n = 0
    for await (const _ of this.db.keys({ gt: Buffer.of(I), lt: Buffer.of(I + 1) })) n++
    const filter = IdFilter.create(Math.max(capacity, n * 2))
    for await (const key of this.db.keys({ gt: Buffer.of(I), lt: Buffer.of(I + 1) })) filter.add(key.subarray(1))
    for (const p of [this.pending, this.flushing]) for (const id of p.ids.keys()) filter.add(bytesOf(id))
    this.filter = filter
  }

  /** Indexes what a crash left unindexed (index-recovery.ts); damage found is listed in `damage`. */
  private async recover (): Promise<void> {
    this.damage.push(...await indexUnflushed(this.db, this.log, this.filter, this.view !== undefined))
  }

  private locate (cid: Uint8Array): BlockLocation | undefined {
    const k = keyOf(cid)
    return this.pending.locs.get(k) ?? this.flushing.locs.get(k)
  }

  async location (cid: CID): Promise<BlockLocation | undefined> {
    const pending = this.locate(cid.bytes)
    if (pending !== undefined) return pending
    const v = await this.db.get(prefixed(B, cid.bytes))
    return v === undefined ? undefined : decodeLoc(v)
  }

  async locations (cids: Uint8Array[]): Promise<Array<BlockLocation | undefined>> {
    return await this.locationsOf(cids, cids.map(keyOf))
  }

  /** `locations` with each CID's key already made (`keys[i]` = keyOf(cids[i])). */
  private async locationsOf (cids: Uint8Array[], keys: Key[]): Promise<Array<BlockLocation | undefined>> {
    const out: Array<BlockLocation | undefined> = keys.map(k => this.pending.locs.get(k) ?? this.flushing.locs.get(k))
    const missing: number[] = []
    for (let i = 0; i < keys.length; i++) if (out[i] === undefined && !this.absent.has(keys[i])) missing.push(i)
    if (missing.length > 0) {
      const flushes = this.flushes
      const vals = await this.db.getMany(missing.map(i => prefixed(B, cids[i])))
      if (this.absent.size > MAX_ABSENT) this.absent.clear()
      missing.forEach((i, j) => {
        const v = vals[j]
        if (v !== undefined) out[i] = decodeLoc(v)
        // Remembered only when no flush indexed anything meanwhile and no write is pending for it.
        else if (this.flushes === flushes && this.locate(cids[i]) === undefined) this.absent.add(keys[i])
      })
    }
    return out
  }

  async has (cid: CID, options?: AbortOptions): Promise<boolean> {
    throwIfAborted(options?.signal, READING)
    return (await this.location(cid)) !== undefined
  }

  async hasMany (cids: CID[], options?: AbortOptions): Promise<boolean[]> {
    throwIfAborted(options?.signal, READING)
    const found = (await this.locations(cids.map(c => c.bytes))).map(l => l !== undefined)
    // A peer told "have" will not send the block: a sweep running now keeps it (prune.ts).
    if (this.protected !== undefined) found.forEach((f, i) => { if (f) this.protected!.add(keyOf(cids[i].bytes)) })
    return found
  }

  async sizes (cids: CID[], options?: AbortOptions): Promise<Array<number | undefined>> {
    throwIfAborted(options?.signal, READING)
    return (await this.locations(cids.map(c => c.bytes))).map(l => l?.length)
  }

  async get (cid: CID, options: AbortOptions & { verify?: boolean } = {}): Promise<Uint8Array> {
    throwIfAborted(options.signal, READING)
    const lease = this.epochs.enter('read')
    try { return await this.getNow(cid, options) } finally { lease.leave() }
  }

  private async getNow (cid: CID, options: { verify?: boolean }): Promise<Uint8Array> {
    const loc = await this.location(cid)
    if (loc === undefined) throw new BlockNotFoundError(cid.toString())
    return this.read(cid, loc, options.verify === true)
  }

  read (cid: CID, loc: BlockLocation, verify: boolean): Buffer {
    let bytes: Buffer
    try {
      bytes = this.log.read(loc)
    } catch (err) {
      throw new CorruptBlockError(cid.toString(), (err as Error).message, { cause: err })
    }
    if (verify && !matchesCid(cid, bytes)) throw new CorruptBlockError(cid.toString(), 'its bytes no longer match its address')
    this.protected?.add(keyOf(cid.bytes))
    return bytes
  }

  /**
   * Blocks in the order they lie in the segments, not the order asked: one index lookup for
   * all of them, then read as `readLocated` reads. Yields each block with its position in
   * `cids`. Throws BlockNotFoundError for a CID not stored. With `transient`, a block's bytes
   * are valid only until the caller asks for the next one: the large reads then go into
   * buffers the store reuses (O_DIRECT where it can), which spares the memory of every read
   * for a caller that copies each block at once (replication).
   */
  async * getMany (cids: CID[], options: AbortOptions & { transient?: boolean } = {}): AsyncGenerator<{ index: number, bytes: Uint8Array }> {
    throwIfAborted(options.signal, READING)
    const lease = this.epochs.enter('read')
    try { yield * this.getManyNow(cids, options) } finally { lease.leave() }
  }

  private async * getManyNow (cids: CID[], options: AbortOptions & { transient?: boolean }): AsyncGenerator<{ index: number, bytes: Uint8Array }> {
    const locs = await this.locations(cids.map(c => c.bytes))
    const packed = newLocatedBlocks(cids.length)
    packed.count = cids.length
    locs.forEach((loc, i) => {
      if (loc === undefined || cids[i].bytes.length !== BLOCK_CID_LENGTH) throw new BlockNotFoundError(cids[i].toString())
      packed.cids.set(cids[i].bytes, i * BLOCK_CID_LENGTH)
      packed.lengths[i] = loc.length
      packed.segments[i] = loc.segment
      packed.offsets[i] = loc.offset
    })
    yield * this.readPacked(packed, options.transient === true, options.signal)
  }

  /**
   * Every indexed block (and every one written but not yet indexed), packed in batches of
   * `batch` in index order, with its location: bulk replication reads the ones a peer lacks
   * with `readLocated`, in disk order, with no second lookup and no object per block.
   */
  async * located (batch: number, options?: AbortOptions): AsyncIterable<LocatedBlocks> {
    const lease = this.epochs.enter('read')
    try { yield * this.locatedNow(batch, options) } finally { lease.leave() }
  }

  private async * locatedNow (batch: number, options?: AbortOptions): AsyncIterable<LocatedBlocks> {
    const it = this.db.iterator({ gt: Buffer.of(B), lt: Buffer.of(B + 1) })
    const pack = (entries: Array<[Buffer, BlockLocation | Buffer]>): LocatedBlocks => {
      const out = newLocatedBlocks(entries.length)
      for (const [cid, value] of entries) {
        if (cid.length !== BLOCK_CID_LENGTH) continue // not a block CID: never replicated
        const i = out.count++
        out.cids.set(cid, i * BLOCK_CID_LENGTH)
        if (value instanceof Uint8Array) {
          out.lengths[i] = value.readUInt32LE(4)
          out.segments[i] = value.readUInt32LE(0)
          out.offsets[i] = Number(value.readBigUInt64LE(8))
        } else {
          out.lengths[i] = value.length
          out.segments[i] = value.segment
          out.offsets[i] = value.offset
        }
      }
      return out
    }
    // The next batch is read (on libuv's pool) while the caller works on this one.
    let next: Promise<Array<[Buffer, Buffer]>> | undefined
    try {
      for (;;) {
        throwIfAborted(options?.signal, READING)
        const entries = await (next ?? it.nextv(batch))
        next = undefined
        if (entries.length === 0) break
        next = it.nextv(batch)
        yield pack(entries.map(([k, v]) => [k.subarray(1), v]))
      }
    } finally {
      await next?.catch(() => {})
      await it.close()
    }
    const pending = [...this.pending.locs, ...this.flushing.locs]
    for (let i = 0; i < pending.length; i += batch) yield pack(pending.slice(i, i + batch).map(([k, loc]) => [bytesOf(k), loc]))
  }

  /** The file of a segment `located` named (BlockStore.segmentFile). */
  segmentFile (segment: number): string { return this.log.path(segment) }

  /** The blocks of `blocks` (built from `located` batches), in the order they lie on disk; bytes transient (see getMany). */
  async * readLocated (blocks: LocatedBlocks, options?: AbortOptions): AsyncIterable<{ index: number, bytes: Uint8Array }> {
    yield * this.readPacked(blocks, true, options?.signal)
  }

  /** The blocks of `b` in disk order (disk-order-reads.ts); each one read is protected while a prune runs. */
  private async * readPacked (b: LocatedBlocks, transient: boolean, signal?: AbortSignal): AsyncGenerator<{ index: number, bytes: Uint8Array }> {
    yield * readInDiskOrder({ log: this.log, buffers: this.readBuffers, onRead: cid => { if (this.protected !== undefined) this.protected.add(keyOf(cid)) } }, b, transient, signal)
  }

  async put (cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<void> {
    const [refused] = await this.putMany([{ cid, bytes }], options)
    if (refused !== undefined) throw refused
  }

  /**
   * Stores several blocks, each under the `put` contract, with one index lookup for all.
   * Resolves with one entry per block: undefined when it is stored (or was already), else the
   * CidMismatchError that refused it; nothing of a refused block is written.
   */
  async putMany (blocks: ReadonlyArray<{ cid: CID, bytes: Uint8Array }>, options?: AbortOptions): Promise<Array<CidMismatchError | undefined>> {
    throwIfAborted(options?.signal, 'Storing blocks')
    const out = blocks.map(b => matchesCid(b.cid, b.bytes) ? undefined : new CidMismatchError(b.cid.toString()))
    const good = blocks.filter((_, i) => out[i] === undefined)
    const cids = good.map(b => b.cid.bytes)
    const keys = cids.map(keyOf)
    const locs = await this.locationsOf(cids, keys)
    for (let i = 0; i < good.length; i++) {
      const loc = locs[i]
      if (loc === undefined) {
        this.appendKeyed(keys[i], cids[i], undefined, good[i].bytes)
        continue
      }
      let intact = false
      try { intact = matchesCid(good[i].cid, this.log.read(loc)) } catch {}
      // A copy that no longer matches its CID is replaced (repair, F14): the good bytes are
      // appended and the index moves to them at the next flush.
      if (!intact) this.replace(cids[i], good[i].bytes)
    }
    return out
  }

  /**
   * A whole segment (BlockStore.takeSegment; a restore from an archive's segment packs) becomes
   * a segment file of this store as its bytes lie — the order its backup wrote them — instead of
   * block by block: `copyTo` writes it under a new segment number, each entry not present yet is
   * checked against its CID in the copy (segment-check.ts) and indexed at the next flush, which
   * syncs the file first. Unindexed, the file is still a segment: a crash before that flush
   * leaves records that the next open indexes (each checked) or a torn tail it cuts.
   */
  async takeSegment (segment: WholeSegment, options?: AbortOptions): Promise<Array<CidMismatchError | undefined>> {
    this.mustWrite()
    throwIfAborted(options?.signal, 'Storing a segment')
    const { entries } = segment
    const cids = entries.map(e => e.cid)
    const keys = cids.map(keyOf)
    const seg = this.log.newSegment()
    const path = this.log.path(seg)
    await segment.copyTo(path, options)
    const locs = await this.locationsOf(cids, keys)
    const fresh = entries.map((e, i) => locs[i] === undefined && e.cid.length === BLOCK_CID_LENGTH)
    const ok = await checkSegmentFile(path, entries.filter((_, i) => fresh[i]), options)
    const out: Array<CidMismatchError | undefined> = []
    let taken = 0
    entries.forEach((e, i) => {
      if (!fresh[i]) { out.push(undefined); return }
      if (!ok[taken++]) { out.push(new CidMismatchError(CID.decode(e.cid).toString())); return }
      this.recordWrittenKeyed(keys[i], undefined, { segment: seg, offset: e.offset, length: e.length })
      out.push(undefined)
    })
    if (this.pending.ends.has(seg)) this.pending.ends.set(seg, Math.max(this.pending.ends.get(seg)!, segment.length))
    else await unlink(path) // nothing in it was wanted: no segment of this store
    return out
  }

  private replace (cid: Uint8Array, bytes: Uint8Array): void {
    const k = keyOf(cid)
    this.pending.locs.delete(k)
    this.flushing.locs.delete(k)
    this.move(cid, undefined, bytes)
  }

  /** Chunk id → CID for each id (undefined when unknown), pending writes included. */
  async lookupIds (ids: Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    while (this.gate !== undefined) await this.gate
    this.lookupsRunning++
    try {
      return await this.lookupIdsNow(ids)
    } finally {
      if (--this.lookupsRunning === 0) this.lookupsDrained?.()
    }
  }

  private async lookupIdsNow (ids: Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    const out = ids.map(id => { const k = keyOf(id); const c = this.pending.ids.get(k) ?? this.flushing.ids.get(k); return c === undefined ? undefined : new Uint8Array(bytesOf(c)) })
    const missing = out.flatMap((c, i) => c === undefined && this.filter.mightHave(ids[i]) ? [i] : [])
    if (missing.length > 0) {
      const vals = await this.db.getMany(missing.map(i => prefixed(I, ids[i])))
      missing.forEach((i, j) => { const v = vals[j]; if (v !== undefined) out[i] = new Uint8Array(v) })
    }
    if (this.protected !== undefined) for (const c of out) if (c !== undefined) this.protected.add(keyOf(c))
    return out
  }

  /** Appends a sealed block whose chunk id is known; the caller decided it is new. */
  append (cid: Uint8Array, id: Uint8Array | undefined, bytes: Uint8Array): void {
    this.appendKeyed(keyOf(cid), cid, id, bytes)
  }

  private appendKeyed (k: Key, cid: Uint8Array, id: Uint8Array | undefined, bytes: Uint8Array): void {
    if (this.pending.locs.has(k) || this.flushing.locs.has(k)) return
    this.recordWrittenKeyed(k, id, this.log.append(cid, id, bytes))
  }

  /**
   * Indexes (at the next flush) a block another thread appended to a segment of its own;
   * its bytes must already be written (not necessarily synced) to the file.
   */
  recordWritten (cid: Uint8Array, id: Uint8Array | undefined, loc: BlockLocation): void {
    const k = keyOf(cid)
    if (this.pending.locs.has(k) || this.flushing.locs.has(k)) return
    this.recordWrittenKeyed(k, id, loc)
  }

  private recordWrittenKeyed (k: Key, id: Uint8Array | undefined, loc: BlockLocation): void {
    this.pending.locs.set(k, loc)
    this.absent.delete(k)
    if (id !== undefined) { this.pending.ids.set(keyOf(id), k); this.filter.add(id) }
    const end = loc.offset + loc.length
    if ((this.pending.ends.get(loc.segment) ?? 0) < end) this.pending.ends.set(loc.segment, end)
    this.protected?.add(k)
    this.unflushed += loc.length
    // Not awaited here: a failure (a full disk) stays in the flush chain, and the next awaited flush throws it.
    if (this.unflushed >= FLUSH_BYTES || this.pending.locs.size >= FLUSH_ENTRIES) this.flush().catch(() => {})
  }

  /** The shared segment-number counter, for worker threads that write segments. */
  get segmentCounter (): Int32Array { return this.log.counter }

  /** Re-appends a live block during prune's rewrite; its index entry moves at the next flush. */
  move (cid: Uint8Array, id: Uint8Array | undefined, bytes: Uint8Array): void {
    const loc = this.log.append(cid, id, bytes)
    const k = keyOf(cid)
    this.pending.locs.set(k, loc)
    this.absent.delete(k)
    const end = loc.offset + loc.length
    if ((this.pending.ends.get(loc.segment) ?? 0) < end) this.pending.ends.set(loc.segment, end)
    this.unflushed += bytes.length
  }

  /** Stores a block (and its id) unless its id is already indexed. Returns the CID either way. */
  async putSealed (id: Uint8Array, bytes: Uint8Array, cid: CID = cidOf(bytes)): Promise<CID> {
    const [known] = await this.lookupIds([id])
    if (known !== undefined) return CID.decode(known)
    this.append(cid.bytes, id, bytes)
    return cid
  }

  async flush (options?: AbortOptions): Promise<void> {
    throwIfAborted(options?.signal, 'A flush')
    // Each flush runs after the one before, whether that one failed or not (its failure is its caller's).
    this.flushChain = this.flushChain.catch(() => {}).then(async () => await this.flushNow())
    try {
      await this.flushChain
    } catch (err) {
      throw diskFullAt(err, dirname(this.log.dir))
    }
  }

  private async flushNow (): Promise<void> {
    if (this.pending.locs.size === 0 && this.pending.ids.size === 0) return
    this.flushing = this.pending
    this.pending = emptyPending()
    this.unflushed = 0
    try {
      await this.writeFlushing()
    } catch (err) {
      // Not indexed after all (a full disk, say): back into pending, for the next flush to try again.
      const failed = this.flushing
      this.flushing = emptyPending()
      for (const [k, v] of failed.locs) if (!this.pending.locs.has(k)) this.pending.locs.set(k, v)
      for (const [k, v] of failed.ids) if (!this.pending.ids.has(k)) this.pending.ids.set(k, v)
      for (const [k, v] of failed.ends) this.pending.ends.set(k, Math.max(v, this.pending.ends.get(k) ?? 0))
      throw err
    }
    this.flushes++
    this.flushing = emptyPending()
  }

  private async writeFlushing (): Promise<void> {
    await this.log.sync()
    const own = this.log.tail?.segment
    const others = [...this.flushing.ends.keys()].filter(seg => seg !== own)
    await Promise.all(others.map(async seg => { await syncData(this.log.fd(seg)) }))
    if (others.length > 0) await this.log.syncFolder()
    const ops: Array<{ type: 'put', key: Buffer, value: Buffer }> = []
    for (const [cid, loc] of this.flushing.locs) ops.push({ type: 'put', ...indexEntries.block(bytesOf(cid), loc) })
    for (const [id, cid] of this.flushing.ids) ops.push({ type: 'put', ...indexEntries.chunkId(bytesOf(id), bytesOf(cid)) })
    for (const [seg, end] of this.flushing.ends) ops.push({ type: 'put', ...indexEntries.segment(seg, end) })
    await this.db.batch(ops)
  }

  async * cids (options?: AbortOptions): AsyncIterable<CID> {
    for await (const key of this.db.keys({ gt: Buffer.of(B), lt: Buffer.of(B + 1) })) {
      throwIfAborted(options?.signal, READING)
      yield CID.decode(key.subarray(1))
    }
    for (const cid of this.pending.locs.keys()) {
      throwIfAborted(options?.signal, READING)
      yield CID.decode(bytesOf(cid))
    }
  }

  /** Every indexed block with its location (for prune and check). */
  async * entries (): AsyncIterable<{ cid: Uint8Array, loc: BlockLocation }> {
    for await (const [key, value] of this.db.iterator({ gt: Buffer.of(B), lt: Buffer.of(B + 1) })) yield { cid: key.subarray(1), loc: decodeLoc(value) }
  }

  async snapshotRoots (options?: AbortOptions): Promise<CID[]> {
    throwIfAborted(options?.signal, READING)
    return await this.cidsUnder(S)
  }

  private async cidsUnder (prefix: number): Promise<CID[]> {
    const out: CID[] = []
    for await (const key of this.db.keys({ gt: Buffer.of(prefix), lt: Buffer.of(prefix + 1) })) out.push(CID.decode(key.subarray(1)))
    return out
  }

  async addSnapshotRoot (cid: CID, origin?: RootOrigin, options?: AbortOptions): Promise<void> {
    throwIfAborted(options?.signal, 'Listing a snapshot root')
    this.mustWrite()
    await this.flush()
    const key = prefixed(S, cid.bytes)
    if (origin !== undefined && await this.db.get(key) !== undefined) return
    await this.db.put(key, origin === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(origin)), { sync: true })
  }

  async snapshotRootOrigins (options?: AbortOptions): Promise<Array<{ cid: CID, origin?: RootOrigin }>> {
    throwIfAborted(options?.signal, READING)
    const out: Array<{ cid: CID, origin?: RootOrigin }> = []
    for await (const [key, value] of this.db.iterator({ gt: Buffer.of(S), lt: Buffer.of(S + 1) })) {
      out.push({ cid: CID.decode(key.subarray(1)), origin: value.length === 0 ? undefined : parseOrigin(value) })
    }
    return out
  }

  /** Forget records (doc/design.md): sealed lists of forgotten snapshots, kept so that `repair index` does not bring them back. */
  async forgetRecords (): Promise<CID[]> {
    return await this.cidsUnder(T)
  }

  async addForgetRecord (cid: CID): Promise<void> {
    this.mustWrite()
    await this.flush()
    await this.db.put(prefixed(T, cid.bytes), Buffer.alloc(0), { sync: true })
  }

  /**
   * Unlists a snapshot root. A root backed up here also loses its manifest pages' listing and
   * leaves a release intent (`'r'`): the mesh node tells the replicas that hold it (doc/mesh.md
   * "Retention at replicas"). Only a forget writes intents, so a store that lost its index
   * releases nothing.
   */
  async removeSnapshotRoot (cid: CID, time = new Date().toISOString()): Promise<void> {
    this.mustWrite()
    const key = prefixed(S, cid.bytes)
    const value = await this.db.get(key)
    if (value === undefined) return
    const ops: Array<{ type: 'del', key: Buffer } | { type: 'put', key: Buffer, value: Buffer }> = [{ type: 'del', key }]
    if (value.length === 0) ops.push({ type: 'del', key: prefixed(P, cid.bytes) }, { type: 'del', key: prefixed(M, cid.bytes) }, { type: 'put', key: prefixed(R, cid.bytes), value: Buffer.from(time) })
    await this.db.batch(ops, { sync: true })
  }

  /**
   * Lists a snapshot's manifest pages (manifest.ts), after flushing them. `late`: the snapshot
   * is older than its manifest (`'m'`), so replicas may list it without one: the mesh node
   * sends them its head (doc/mesh.md "Manifest pages").
   */
  async setManifestPages (root: CID, pages: CID[], options: { late?: boolean } = {}): Promise<void> {
    this.mustWrite()
    await this.flush()
    const ops = [{ type: 'put' as const, key: prefixed(P, root.bytes), value: Buffer.concat(pages.map(p => p.bytes)) }]
    if (options.late === true) ops.push({ type: 'put', key: prefixed(M, root.bytes), value: Buffer.alloc(0) })
    await this.db.batch(ops, { sync: true })
  }

  /** Snapshots backed up here whose manifest was written after them (`setManifestPages` with `late`). */
  async lateManifests (): Promise<CID[]> {
    const out: CID[] = []
    for await (const key of this.db.keys({ gt: Buffer.of(M), lt: Buffer.of(M + 1) })) out.push(CID.decode(key.subarray(1)))
    return out
  }

  /** The manifest pages listed for a snapshot backed up here; undefined for one made before manifests (or received). */
  async manifestPages (root: CID): Promise<CID[] | undefined> {
    const v = await this.db.get(prefixed(P, root.bytes))
    if (v === undefined) return undefined
    const out: CID[] = []
    for (let at = 0; at + BLOCK_CID_LENGTH <= v.length; at += BLOCK_CID_LENGTH) out.push(CID.decode(v.subarray(at, at + BLOCK_CID_LENGTH)))
    return out
  }

  /** Snapshots backed up here and forgotten since, with the time of the forget: what the mesh node releases. */
  async releaseIntents (): Promise<Array<{ root: CID, time: string }>> {
    const out: Array<{ root: CID, time: string }> = []
    for await (const [key, value] of this.db.iterator({ gt: Buffer.of(R), lt: Buffer.of(R + 1) })) out.push({ root: CID.decode(key.subarray(1)), time: value.toString() })
    return out
  }

  /** At a replica: each listed root's manifest head and lock (doc/mesh.md "Locks"). */
  async retentions (): Promise<Array<{ root: CID, retention: RootRetention }>> {
    const out: Array<{ root: CID, retention: RootRetention }> = []
    for await (const [key, value] of this.db.iterator({ gt: Buffer.of(L), lt: Buffer.of(L + 1) })) out.push({ root: CID.decode(key.subarray(1)), retention: JSON.parse(value.toString()) })
    return out
  }

  async retention (root: CID): Promise<RootRetention | undefined> {
    const v = await this.db.get(prefixed(L, root.bytes))
    return v === undefined ? undefined : JSON.parse(v.toString())
  }

  async setRetention (root: CID, retention: RootRetention): Promise<void> {
    this.mustWrite()
    await this.db.put(prefixed(L, root.bytes), Buffer.from(JSON.stringify(retention)), { sync: true })
  }

  /** At a replica: whether `root` is counted in its origin's held blocks, and its own totals (root-use.ts). */
  async rootUse (root: CID): Promise<RootUse | undefined> { return await this.use.root(root) }
  /** At a replica: which of `roots` are counted. */
  async rootsCounted (roots: CID[]): Promise<boolean[]> { return await this.use.counted(roots) }
  /** At a replica: the distinct blocks the counted roots of `origin` name, and their bytes. */
  async originUse (origin: string): Promise<OriginUse> { return await this.use.origin(origin) }
  /** At a replica: how many counted roots of `origin` name each block. */
  async useCounts (origin: string, cids: Uint8Array[]): Promise<number[]> { return await this.use.counts(origin, cids) }

  /** At a replica: counts part `index` of `of` of a listed root of `origin` naming `blocks`, if it is the next (root-use.ts); false if not. */
  async countRootPart (root: CID, origin: string, index: number, of: number, blocks: UsedBlock[]): Promise<boolean> {
    this.mustWrite()
    return await this.use.add(root, origin, index, of, blocks)
  }

  /** At a replica: uncounts part `index` of a root GC is dropping, if it is the last counted; false if not. */
  async uncountRootPart (root: CID, index: number, blocks: UsedBlock[]): Promise<boolean> {
    this.mustWrite()
    return await this.use.remove(root, index, blocks)
  }

  /** At a replica: the release received for each root (kept after the root is dropped, so it is forwarded still). */
  async releases (): Promise<Array<{ root: CID, release: CID }>> {
    const out: Array<{ root: CID, release: CID }> = []
    for await (const [key, value] of this.db.iterator({ gt: Buffer.of(Q), lt: Buffer.of(Q + 1) })) out.push({ root: CID.decode(key.subarray(1)), release: CID.decode(value) })
    return out
  }

  /** Records the release of a root, after flushing its block; a root keeps its first release. */
  async addRelease (root: CID, release: CID): Promise<void> {
    this.mustWrite()
    await this.flush()
    const key = prefixed(Q, root.bytes)
    if (await this.db.get(key) !== undefined) return
    await this.db.put(key, Buffer.from(release.bytes), { sync: true })
  }

  /** At a replica: unlists a dropped root and its retention (its release stays). */
  async dropSnapshotRoot (root: CID): Promise<void> {
    this.mustWrite()
    await this.db.batch([{ type: 'del', key: prefixed(S, root.bytes) }, { type: 'del', key: prefixed(L, root.bytes) }], { sync: true })
  }

  /**
   * A backup reuses the tree below `ref` from its parent snapshot without reading it. While a
   * prune runs, that tree is kept whole; waits while the prune drops index entries, so a
   * reuse is either seen by the prune or happens after it.
   */
  async keepTree (ref: TreeRef & { inline?: unknown }): Promise<void> {
    while (this.gate !== undefined) await this.gate
    if (this.protected === undefined) return
    this.protected.add(keyOf(ref.cid.bytes))
    // A small file kept inline in its directory's entry is one data block: nothing below it.
    if (ref.inline === undefined) this.protectedTrees?.push(ref)
  }

  /** Runs `fn` after every prune started before it has ended (prunes one at a time). */
  async onePrune<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.pruning.then(fn, fn)
    this.pruning = run.catch(() => {})
    return await run
  }

  /**
   * Drops index entries of removed blocks (and chunk ids that point at them). `lastLook`
   * runs first with lookups and tree reuse held (the prune's last mark); `dead` then loses
   * every protected block.
   */
  async forgetBlocks (dead: Set<Key>, lastLook?: () => Promise<void>): Promise<void> {
    this.mustWrite()
    let open!: () => void
    this.gate = new Promise(resolve => { open = resolve })
    try {
      if (this.lookupsRunning > 0) await new Promise<void>(resolve => { this.lookupsDrained = resolve })
      this.lookupsDrained = undefined
      await lastLook?.()
      for (const k of this.protected ?? []) dead.delete(k)
      await this.dropIndexEntries(dead)
    } finally {
      this.gate = undefined
      open()
    }
  }

  /**
   * Drops the dedup entries (chunk id → CID) of these blocks, and nothing else: a backup then
   * stores such a chunk again instead of pointing at a damaged copy.
   */
  async forgetChunkIds (cids: Set<Key>): Promise<void> {
    this.mustWrite()
    if (cids.size === 0) return
    const ops: Array<{ type: 'del', key: Buffer }> = []
    for await (const [key, value] of this.db.iterator({ gt: Buffer.of(I), lt: Buffer.of(I + 1) })) {
      if (cids.has(keyOf(value))) ops.push({ type: 'del', key })
    }
    await this.db.batch(ops, { sync: true })
    for (const p of [this.pending, this.flushing]) for (const [id, cid] of p.ids) if (cids.has(cid)) p.ids.delete(id)
  }

  private async dropIndexEntries (dead: Set<Key>): Promise<void> {
    const ops: Array<{ type: 'del', key: Buffer }> = []
    for (const k of dead) ops.push({ type: 'del', key: prefixed(B, Buffer.from(k, 'latin1')) })
    for await (const [key, value] of this.db.iterator({ gt: Buffer.of(I), lt: Buffer.of(I + 1) })) {
      if (dead.has(keyOf(value))) ops.push({ type: 'del', key })
    }
    await this.db.batch(ops, { sync: true })
  }

  async dropSegment (segment: number): Promise<void> {
    this.mustWrite()
    await this.db.del(segKey(segment), { sync: true })
    this.log.remove(segment)
  }

  async close (): Promise<void> {
    if (this.view !== undefined) {
      await this.db.close()
      this.log.close()
      this.view.remove()
      return
    }
    try {
      await this.flush()
      await this.log.settle()
      this.log.close()
      if (this.filter.full) await this.rebuildFilter(this.filter.size * 4)
      await this.db.batch([{ type: 'put', key: FILTER_KEY, value: this.filter.encode() }, { type: 'del', key: DIRTY_KEY }], { sync: true })
    } catch (err) {
      // The index stays marked dirty: the next open rebuilds the filter and rescans the segments.
      await this.db.close().catch(() => {})
      throw diskFullAt(err, dirname(this.log.dir))
    }
    await this.db.close()
  }
}

/** A tree node by CID and chunk id (what it takes to open it). */
export interface TreeRef { cid: CID, id: Uint8Array }
