import { ClassicLevel } from 'classic-level'
import { CID } from 'multiformats/cid'
import { BLOCK_CID_LENGTH, newLocatedBlocks, type BlockLocation, type BlockStore, type LocatedBlocks, type RootOrigin } from './block-store.ts'
import { cidOf, matchesCid } from './codec.ts'
import { copyFileSync, existsSync, linkSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { BlockNotFoundError, CidMismatchError, CorruptBlockError, DiskFullError, IndexDamagedError, isDiskFull, ReadOnlyStoreError, StoreInUseError } from './errors.ts'
import { Epochs } from './epochs.ts'
import { IdFilter } from './id-filter.ts'
import { verifyLevelDb } from './leveldb-files.ts'
import { alignedBuffer, alignedRoom, syncData, ValueLog } from './value-log.ts'

/**
 * The node's own block store: sealed blocks in the value log, their locations and the
 * chunk-id index in LevelDB. Index layout v1 (doc/design.md, "Index"):
 *
 *   'b' cid      → u32le segment | u32le length | u64le offset   block location
 *   'i' id       → cid                                          dedup index (chunk id → CID)
 *   's' cid      → '' | JSON RootOrigin                         snapshot record roots ('' = backed up here)
 *   't' cid      → ''                                           forget records (snapshots forgotten; kept by prune)
 *   'g' u32be n  → u64le length                                 committed length of segment n
 *   'F'          → id filter (IdFilter format)                  written at a clean close
 *   'D'          → ''                                           present while open: the filter may be stale
 *
 * Ordering rule: segment data is fdatasync'ed before the batch that indexes it is written,
 * so the index never points at bytes that are not on disk. Those batches are not synced
 * themselves (a synced batch costs ~40 us per entry here): an entry an OS crash loses points
 * at synced data that the recovery scan indexes again. The snapshot root is written synced,
 * which makes every earlier write durable too.
 */
const B = 0x62; const I = 0x69; const S = 0x73; const G = 0x67; const T = 0x74
const FILTER_KEY = Buffer.from('F'); const DIRTY_KEY = Buffer.from('D')
const FLUSH_BYTES = 256 << 20
const FLUSH_ENTRIES = 32768
/** getMany reads neighbouring blocks together up to this many bytes (a larger block is one span). */
const SPAN_BYTES = 4 << 20
/** … and skips at most this many unwanted bytes between two of them. */
const SPAN_GAP = 16 << 10
/** Reads at least this long go to libuv's pool; shorter ones are done on the spot. */
const ASYNC_READ = 64 << 10
/** Bytes (and reads) getMany has in flight ahead of its caller. */
const AHEAD_BYTES = 8 << 20
const MAX_AHEAD = 16
/** Absent CIDs remembered at most (a few HAVE batches' worth). */
const MAX_ABSENT = 1 << 16

type Key = string
const keyOf = (b: Uint8Array): Key => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1')
const prefixed = (p: number, b: Uint8Array): Buffer => { const k = Buffer.allocUnsafe(b.length + 1); k[0] = p; k.set(b, 1); return k }

function encodeLoc (l: BlockLocation): Buffer {
  const v = Buffer.allocUnsafe(16)
  v.writeUInt32LE(l.segment, 0); v.writeUInt32LE(l.length, 4); v.writeBigUInt64LE(BigInt(l.offset), 8)
  return v
}
function decodeLoc (v: Buffer): BlockLocation {
  return { segment: v.readUInt32LE(0), length: v.readUInt32LE(4), offset: Number(v.readBigUInt64LE(8)) }
}
function segKey (n: number): Buffer { const k = Buffer.allocUnsafe(5); k[0] = G; k.writeUInt32BE(n, 1); return k }

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

/** A private copy of the index for a read-only open, removed at close. */
interface IndexCopy { dir: string, remove: () => void }

/**
 * Copies the index into a fresh folder under the OS temp dir: hard links where it is the same
 * file system (LevelDB never writes into a file it already wrote, so the store's files stay as
 * they are; LOCK is the same file too, so the lock still keeps writers out), else copies.
 */
function privateIndexCopy (indexDir: string, hasIndex: boolean): IndexCopy {
  removeStaleCopies()
  const dir = mkdtempSync(join(tmpdir(), `${VIEW_PREFIX}${process.pid}-`))
  const remove = (): void => { rmSync(dir, { recursive: true, force: true }) }
  try {
    if (hasIndex) {
      for (const name of readdirSync(indexDir)) {
        if (name === 'LOG' || name === 'LOG.old') continue
        const from = join(indexDir, name)
        try { linkSync(from, join(dir, name)) } catch { copyFileSync(from, join(dir, name)) }
      }
    }
  } catch (err) {
    remove()
    if (isDiskFull(err)) throw new DiskFullError(`${tmpdir()} (a private copy of the index for a read-only command)`, { cause: err })
    throw err
  }
  return { dir, remove }
}

const VIEW_PREFIX = 'cairn-index-view-'

/**
 * Removes the private index copies of read-only commands that were killed (their process is
 * gone): they hold hard links to index files the store may since have dropped, so they would
 * keep that space in use.
 */
function removeStaleCopies (): void {
  let names: string[]
  try { names = readdirSync(tmpdir()) } catch { return }
  for (const name of names) {
    const m = new RegExp(`^${VIEW_PREFIX}(\\d+)-`).exec(name)
    if (m === null || Number(m[1]) === process.pid) continue
    try { process.kill(Number(m[1]), 0); continue } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'ESRCH') continue }
    rmSync(join(tmpdir(), name), { recursive: true, force: true })
  }
}

/** Does any segment hold more than its header? */
function segmentsHoldData (segmentDir: string): boolean {
  if (!existsSync(segmentDir)) return false
  return readdirSync(segmentDir).some(n => /^\d{8}\.seg$/.test(n) && statSync(join(segmentDir, n)).size > 8)
}

/** Written but not yet indexed. Keys and values are latin1 strings of the raw bytes: far fewer heap objects than typed arrays. */
interface Pending { locs: Map<Key, BlockLocation>, ids: Map<Key, Key>, ends: Map<number, number> }
const bytesOf = (k: Key): Buffer => Buffer.from(k, 'latin1')
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

  private constructor (readonly db: ClassicLevel<Buffer, Buffer>, readonly log: ValueLog, private filter: IdFilter, private readonly view?: IndexCopy) {}

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
      if (isDiskFull(err) && !(err instanceof DiskFullError)) throw new DiskFullError(indexDir, { cause: err })
      throw err
    }
  }

  /**
   * Every segment the index holds a committed length for must exist and be at least that long;
   * otherwise the index points at bytes that are gone (a segment deleted or cut short), and a
   * backup would dedup against blocks that no longer exist. `inconsistent: 'report'` (check)
   * opens anyway and lists the finding in `damage`.
   */
  private async checkCommitted (mode: 'refuse' | 'report' = 'refuse'): Promise<void> {
    const present = new Set(this.log.segments())
    for await (const [key, value] of this.db.iterator({ gt: Buffer.of(G), lt: Buffer.of(G + 1) })) {
      const seg = key.readUInt32BE(1)
      const committed = Number(value.readBigUInt64LE(0))
      const size = present.has(seg) ? this.log.size(seg) : -1
      if (size >= committed) continue
      const problem = size < 0 ? `segment ${seg} is missing` : `segment ${seg} is ${size} bytes, shorter than the ${committed} the index says it holds`
      if (mode === 'refuse') throw new IndexDamagedError(dirname(this.log.dir), `does not match the segments: ${problem}`)
      this.damage.push(problem)
    }
  }

  private async rebuildFilter (capacity = 0): Promise<void> {
    let n = 0
    for await (const _ of this.db.keys({ gt: Buffer.of(I), lt: Buffer.of(I + 1) })) n++
    const filter = IdFilter.create(Math.max(capacity, n * 2))
    for await (const key of this.db.keys({ gt: Buffer.of(I), lt: Buffer.of(I + 1) })) filter.add(key.subarray(1))
    for (const p of [this.pending, this.flushing]) for (const id of p.ids.keys()) filter.add(bytesOf(id))
    this.filter = filter
  }

  /**
   * Indexes blocks a crashed process wrote after its last flush (each checked against its
   * CID), so the next backup reuses what was already written. Damage does not end the scan:
   * every intact record after a bad one is indexed too. Only a torn tail — bytes after the
   * last intact record with no intact record in them — is cut, and never in a read-only open.
   */
  private async recover (): Promise<void> {
    const readOnly = this.view !== undefined
    for (const seg of this.log.segments()) {
      const committed = await this.db.get(segKey(seg))
      const from = committed === undefined ? 0 : Number(committed.readBigUInt64LE(0))
      if (committed !== undefined && this.log.size(seg) <= from) continue
      const scan = this.log.scan(seg, from, r => matchesCid(CID.decode(r.cid), this.log.read(r.location)))
      const ops: Array<{ type: 'put', key: Buffer, value: Buffer }> = []
      for (const r of scan.records) {
        ops.push({ type: 'put', key: prefixed(B, r.cid), value: encodeLoc(r.location) })
        if (r.id !== undefined) { ops.push({ type: 'put', key: prefixed(I, r.id), value: Buffer.from(r.cid) }); this.filter.add(r.id) }
      }
      const tail = scan.damaged.at(-1)
      const torn = tail !== undefined && tail.offset + tail.length === scan.size ? tail : undefined
      for (const d of scan.damaged) if (d !== torn) this.damage.push(`segment ${seg}: ${d.length} bytes at offset ${d.offset} hold no intact record`)
      if (!readOnly && scan.records.length === 0 && from === 0 && this.log.isBlank(seg)) {
        this.log.remove(seg) // nothing but zeros (or nothing): a crash before its first write
        continue
      }
      const cut = torn !== undefined && !readOnly
      if (cut) this.log.truncate(seg, torn.offset)
      const good = cut ? torn.offset : scan.size
      const len = Buffer.alloc(8); len.writeBigUInt64LE(BigInt(good))
      ops.push({ type: 'put', key: segKey(seg), value: len })
      await this.db.batch(ops, { sync: !readOnly })
    }
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

  async has (cid: CID): Promise<boolean> {
    return (await this.location(cid)) !== undefined
  }

  async hasMany (cids: CID[]): Promise<boolean[]> {
    return (await this.locations(cids.map(c => c.bytes))).map(l => l !== undefined)
  }

  async sizes (cids: CID[]): Promise<Array<number | undefined>> {
    return (await this.locations(cids.map(c => c.bytes))).map(l => l?.length)
  }

  async get (cid: CID, options: { verify?: boolean } = {}): Promise<Uint8Array> {
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
  async * getMany (cids: CID[], options: { transient?: boolean } = {}): AsyncGenerator<{ index: number, bytes: Uint8Array }> {
    const lease = this.epochs.enter('read')
    try { yield * this.getManyNow(cids, options) } finally { lease.leave() }
  }

  private async * getManyNow (cids: CID[], options: { transient?: boolean }): AsyncGenerator<{ index: number, bytes: Uint8Array }> {
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
    yield * this.readPacked(packed, options.transient === true)
  }

  /**
   * Every indexed block (and every one written but not yet indexed), packed in batches of
   * `batch` in index order, with its location: bulk replication reads the ones a peer lacks
   * with `readLocated`, in disk order, with no second lookup and no object per block.
   */
  async * located (batch: number): AsyncIterable<LocatedBlocks> {
    const lease = this.epochs.enter('read')
    try { yield * this.locatedNow(batch) } finally { lease.leave() }
  }

  private async * locatedNow (batch: number): AsyncIterable<LocatedBlocks> {
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
    try {
      for (;;) {
        const entries = await it.nextv(batch)
        if (entries.length === 0) break
        yield pack(entries.map(([k, v]) => [k.subarray(1), v]))
      }
    } finally {
      await it.close()
    }
    const pending = [...this.pending.locs, ...this.flushing.locs]
    for (let i = 0; i < pending.length; i += batch) yield pack(pending.slice(i, i + batch).map(([k, loc]) => [bytesOf(k), loc]))
  }

  /** The blocks of `blocks` (built from `located` batches), in the order they lie on disk; bytes transient (see getMany). */
  async * readLocated (blocks: LocatedBlocks): AsyncIterable<{ index: number, bytes: Uint8Array }> {
    yield * this.readPacked(blocks, true)
  }

  /**
   * Sorted by segment and offset, neighbours merged into reads of up to SPAN_BYTES (skipping at
   * most SPAN_GAP between two). Large reads run on libuv's pool, several at once and up to
   * AHEAD_BYTES ahead of the caller, so the event loop keeps serving the network; small ones
   * are read at once (a thread hop costs more than the copy). Spans are planned as they are
   * read, so no object per block outlives its read.
   */
  private async * readPacked (b: LocatedBlocks, transient: boolean): AsyncGenerator<{ index: number, bytes: Uint8Array }> {
    const order = new Uint32Array(b.count)
    for (let i = 0; i < b.count; i++) order[i] = i
    order.sort((x, y) => (b.segments[x] - b.segments[y]) || (b.offsets[x] - b.offsets[y]))
    const cidAt = (i: number): Uint8Array => b.cids.subarray(i * BLOCK_CID_LENGTH, (i + 1) * BLOCK_CID_LENGTH)
    let planned = 0
    // The next read: blocks order[from..to) of one segment, from `offset`, `length` bytes.
    const plan = (): Span | undefined => {
      if (planned >= order.length) return undefined
      const first = order[planned]
      const segment = b.segments[first]
      const offset = b.offsets[first]
      let end = offset + b.lengths[first]
      let to = planned + 1
      for (; to < order.length; to++) {
        const i = order[to]
        const at = b.offsets[i]
        if (b.segments[i] !== segment || at < end || at - end > SPAN_GAP || at + b.lengths[i] - offset > SPAN_BYTES) break
        end = at + b.lengths[i]
      }
      const span = { range: { segment, offset, length: end - offset }, from: planned, to }
      planned = to
      return span
    }
    const readSpan = async (span: Span): Promise<{ bytes: Buffer, buffer?: Buffer }> => {
      const { range } = span
      let buffer: Buffer | undefined
      try {
        if (range.length < ASYNC_READ) return { bytes: this.log.read(range) }
        if (!transient || alignedRoom(range.length) > alignedRoom(SPAN_BYTES)) return { bytes: await this.log.readRange(range) }
        buffer = this.readBuffers.pop() ?? alignedBuffer(alignedRoom(SPAN_BYTES))
        return { bytes: await this.log.readRangeInto(range, buffer), buffer }
      } catch (err) {
        if (buffer !== undefined) this.readBuffers.push(buffer)
        throw new CorruptBlockError(CID.decode(cidAt(order[span.from])).toString(), (err as Error).message, { cause: err })
      }
    }
    const reads: Array<{ span: Span, read: Promise<{ bytes: Buffer, buffer?: Buffer }> }> = []
    let aheadNow = 0
    try {
      for (;;) {
        while (reads.length === 0 || (aheadNow < AHEAD_BYTES && reads.length < MAX_AHEAD)) {
          const span = plan()
          if (span === undefined) break
          const read = readSpan(span)
          read.catch(() => {}) // awaited below; a failure while the caller is busy must not go unhandled
          reads.push({ span, read })
          aheadNow += span.range.length
        }
        const next = reads.shift()
        if (next === undefined) break
        const { bytes: buf, buffer } = await next.read
        aheadNow -= next.span.range.length
        const base = next.span.range.offset
        for (let k = next.span.from; k < next.span.to; k++) {
          const i = order[k]
          if (this.protected !== undefined) this.protected.add(keyOf(cidAt(i)))
          const at = b.offsets[i] - base
          yield { index: i, bytes: buf.subarray(at, at + b.lengths[i]) }
        }
        if (buffer !== undefined) this.readBuffers.push(buffer)
      }
    } finally {
      // Reads still on their way (the caller stopped early) give their buffers back when they land.
      for (const { read } of reads) void read.then(({ buffer }) => { if (buffer !== undefined) this.readBuffers.push(buffer) }, () => {})
    }
  }

  async put (cid: CID, bytes: Uint8Array): Promise<void> {
    const [refused] = await this.putMany([{ cid, bytes }])
    if (refused !== undefined) throw refused
  }

  /**
   * Stores several blocks, each under the `put` contract, with one index lookup for all.
   * Resolves with one entry per block: undefined when it is stored (or was already), else the
   * CidMismatchError that refused it; nothing of a refused block is written.
   */
  async putMany (blocks: ReadonlyArray<{ cid: CID, bytes: Uint8Array }>): Promise<Array<CidMismatchError | undefined>> {
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

  async flush (): Promise<void> {
    // Each flush runs after the one before, whether that one failed or not (its failure is its caller's).
    this.flushChain = this.flushChain.catch(() => {}).then(async () => await this.flushNow())
    try {
      await this.flushChain
    } catch (err) {
      if (isDiskFull(err) && !(err instanceof DiskFullError)) throw new DiskFullError(dirname(this.log.dir), { cause: err })
      throw err
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
    for (const [cid, loc] of this.flushing.locs) ops.push({ type: 'put', key: prefixed(B, bytesOf(cid)), value: encodeLoc(loc) })
    for (const [id, cid] of this.flushing.ids) ops.push({ type: 'put', key: prefixed(I, bytesOf(id)), value: bytesOf(cid) })
    for (const [seg, end] of this.flushing.ends) {
      const len = Buffer.alloc(8); len.writeBigUInt64LE(BigInt(end))
      ops.push({ type: 'put', key: segKey(seg), value: len })
    }
    await this.db.batch(ops)
  }

  async * cids (): AsyncIterable<CID> {
    for await (const key of this.db.keys({ gt: Buffer.of(B), lt: Buffer.of(B + 1) })) yield CID.decode(key.subarray(1))
    for (const cid of this.pending.locs.keys()) yield CID.decode(bytesOf(cid))
  }

  /** Every indexed block with its location (for prune and check). */
  async * entries (): AsyncIterable<{ cid: Uint8Array, loc: BlockLocation }> {
    for await (const [key, value] of this.db.iterator({ gt: Buffer.of(B), lt: Buffer.of(B + 1) })) yield { cid: key.subarray(1), loc: decodeLoc(value) }
  }

  async snapshotRoots (): Promise<CID[]> {
    return await this.cidsUnder(S)
  }

  private async cidsUnder (prefix: number): Promise<CID[]> {
    const out: CID[] = []
    for await (const key of this.db.keys({ gt: Buffer.of(prefix), lt: Buffer.of(prefix + 1) })) out.push(CID.decode(key.subarray(1)))
    return out
  }

  async addSnapshotRoot (cid: CID, origin?: RootOrigin): Promise<void> {
    this.mustWrite()
    await this.flush()
    const key = prefixed(S, cid.bytes)
    if (origin !== undefined && await this.db.get(key) !== undefined) return
    await this.db.put(key, origin === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(origin)), { sync: true })
  }

  async snapshotRootOrigins (): Promise<Array<{ cid: CID, origin?: RootOrigin }>> {
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

  async removeSnapshotRoot (cid: CID): Promise<void> {
    this.mustWrite()
    await this.db.del(prefixed(S, cid.bytes), { sync: true })
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
      if (isDiskFull(err) && !(err instanceof DiskFullError)) throw new DiskFullError(dirname(this.log.dir), { cause: err })
      throw err
    }
    await this.db.close()
  }
}

/** A tree node by CID and chunk id (what it takes to open it). */
export interface TreeRef { cid: CID, id: Uint8Array }

/** One read of `readPacked`: entries order[from..to) of the blocks, lying in `range`. */
interface Span { range: BlockLocation, from: number, to: number }

/** The index's keys and values, for `repair index` (index-rebuild.ts), which writes a whole index anew. */
export const indexEntries = {
  block: (cid: Uint8Array, loc: BlockLocation) => ({ key: prefixed(B, cid), value: encodeLoc(loc) }),
  chunkId: (id: Uint8Array, cid: Uint8Array) => ({ key: prefixed(I, id), value: Buffer.from(cid) }),
  snapshot: (cid: Uint8Array) => ({ key: prefixed(S, cid), value: Buffer.alloc(0) }),
  forget: (cid: Uint8Array) => ({ key: prefixed(T, cid), value: Buffer.alloc(0) }),
  segment: (n: number, length: number) => { const value = Buffer.alloc(8); value.writeBigUInt64LE(BigInt(length)); return { key: segKey(n), value } }
}

export { keyOf }
export type { Key }

/** A root's origin as stored; a value that does not parse is shown as an unknown site rather than failing the listing. */
function parseOrigin (value: Uint8Array): RootOrigin {
  try {
    const o = JSON.parse(Buffer.from(value).toString('utf8'))
    if (typeof o?.site === 'string' && typeof o?.received === 'string') return { site: o.site, received: o.received }
  } catch {}
  return { site: 'unknown', received: '' }
}
