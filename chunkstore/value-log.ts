import { closeSync, constants, existsSync, fdatasync, read, write, fdatasyncSync, ftruncateSync, fstatSync, mkdirSync, openSync, readdirSync, readSync, unlinkSync, writeSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import type { BlockLocation } from './block-store.ts'
import { ReadOnlyStoreError, StoreCorruptError } from './errors.ts'
import { InternalError } from '../crypto/index.ts'

/**
 * The value log: sealed blocks appended to segment files (the WiscKey idea — values out of
 * the LSM tree, only their locations in LevelDB). Segment format v1 (doc/design.md):
 *
 *   segment = "CAIRNSG1" record*
 *   record  = u32le n | u8 cidLen | cid | u8 idLen | id | block      (n = bytes after the u32)
 *
 * A record carries its CID (and, when known, its chunk id) so the index can be rebuilt from
 * the segments alone. Segments are only ever appended to, and a process never appends to a
 * segment an earlier process wrote: a crash can leave a torn tail only in the newest one.
 */
export const SEGMENT_MAGIC = Buffer.from('CAIRNSG1')
/** A segment is closed and the next one started once it holds this many bytes. */
export const TARGET_SEGMENT = 64 << 20
const WRITE_BUFFER = 4 << 20
/** Bytes of full write buffers handed to libuv's pool and not yet written; past it, writes wait in place. */
const MAX_WRITING = 32 << 20
/** Direct I/O moves whole pages: file offsets, lengths and memory are multiples of this. */
const PAGE = 4096

export interface ValueLogInit {
  /**
   * Write full buffers on libuv's pool instead of the calling thread (the main thread's log:
   * the event loop keeps serving the network). Reads see those bytes at once; `sync` waits
   * for them. Worker threads keep writing in place: the main thread reads what they report.
   */
  asyncWrites?: boolean
  /**
   * Write segments with O_DIRECT: bytes go from the log's own page-aligned buffers to the
   * disk without passing through the page cache. A backup store's writes are rarely read back
   * soon, so they would only push the host's working set out of the cache; and new page-cache
   * pages cost far more CPU than the copy (on the 2-core VM here, 0.2–2.3 s of system time per
   * GiB buffered against 0.04 s direct: doc/design.md). Where the file system refuses O_DIRECT
   * (tmpfs, some FUSE), the log writes through the cache as before. `CAIRN_DIRECT_IO=0` turns it off.
   */
  directWrites?: boolean
  /** Opens a new segment for direct writes (a test replaces it to play a file system that refuses O_DIRECT). */
  openDirect?: (path: string) => number
  /** Never write, cut or remove a segment (read-only commands: not a byte of the store changes). */
  readOnly?: boolean
}

const openDirect = (path: string): number => openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DIRECT, 0o644)

interface DirectReader { segment: number, fd: number, users: number }

/** A full buffer being written on the pool: reads of its range are served from memory until it lands. */
interface Writing { segment: number, offset: number, bytes: Buffer, fd?: number, failed?: boolean }

export interface ScannedRecord {
  cid: Uint8Array
  id?: Uint8Array
  location: BlockLocation
}

/** What `scan` found in a segment: its good records, where the last ends, and the ranges between that held none. */
export interface SegmentScan {
  records: ScannedRecord[]
  end: number
  size: number
  damaged: Array<{ offset: number, length: number }>
}

/** Every Cairn record's header has these bytes at offset 4: CID length 36, then CIDv1, raw, sha2-256, 32 bytes. */
const RECORD_MARK = Buffer.from([36, 0x01, 0x55, 0x12, 0x20])

export class ValueLog {
  private readonly fds = new Map<number, number>()
  /** Shared with the worker threads, which write segments of their own (Atomics, no round trip). */
  readonly counter: Int32Array
  private current = -1
  private currentSize = 0
  /** Where the buffered bytes go in the current segment: everything before is written or being written. */
  private written = 0
  private buffer: Buffer
  private buffered = 0
  /** Bytes at the start of the buffer that are in the file already (direct I/O keeps a drained partial page to write it whole again). */
  private inFile = 0
  /** Direct I/O for this log: asked for, and not refused by the file system. */
  private direct: boolean
  /** The current segment's O_DIRECT descriptor, and older ones until their writes have landed (reads use `fds`). */
  private readonly writeFds = new Map<number, number>()
  /** Each record's header is made here, then copied into the buffer (no allocation per block). */
  private readonly header = Buffer.allocUnsafe(4 + 1 + 255 + 1 + 255)
  private readonly scanHead = Buffer.allocUnsafe(4 + 1 + 255 + 1 + 255)
  private directReads: boolean
  private readonly directReaders = new Map<number, DirectReader>()
  private readonly dirty = new Set<number>()
  private newFiles = false
  private rotateNext = false
  private readonly writing = new Set<Writing>()
  /** Buffers whose write landed, kept for reuse: fresh memory costs a page fault per 4 KiB on first touch. */
  private spare: Buffer[] = []
  private writingBytes = 0
  private landed: Promise<void> = Promise.resolve()
  private writeFailure: Error | undefined

  constructor (readonly dir: string, counter?: Int32Array, private readonly init: ValueLogInit = {}) {
    if (init.readOnly !== true) mkdirSync(dir, { recursive: true })
    this.direct = init.directWrites === true && process.env.CAIRN_DIRECT_IO !== '0' && constants.O_DIRECT !== undefined
    this.directReads = process.env.CAIRN_DIRECT_IO !== '0' && constants.O_DIRECT !== undefined
    this.buffer = this.newBuffer()
    if (counter === undefined) {
      const nums = this.segments()
      counter = new Int32Array(new SharedArrayBuffer(4))
      counter[0] = nums.length === 0 ? 1 : nums[nums.length - 1] + 1
    }
    this.counter = counter
  }

  /** Writes go around the page cache (O_DIRECT): asked for, and taken by the file system. */
  get directIO (): boolean {
    return this.direct
  }

  segments (): number[] {
    if (!existsSync(this.dir)) return []
    return readdirSync(this.dir).filter(n => /^\d{8}\.seg$/.test(n)).map(n => parseInt(n, 10)).sort((a, b) => a - b)
  }

  path (segment: number): string {
    return join(this.dir, `${String(segment).padStart(8, '0')}.seg`)
  }

  /** Appends a block; the location is valid at once for `read`, durable after `sync`. */
  append (cid: Uint8Array, id: Uint8Array | undefined, block: Uint8Array): BlockLocation {
    if (this.init.readOnly === true) throw new ReadOnlyStoreError('writing a block')
    if (this.current < 0 || this.rotateNext || this.currentSize >= TARGET_SEGMENT) this.rotate()
    const idLen = id?.length ?? 0
    const header = 4 + 1 + cid.length + 1 + idLen
    const n = header - 4 + block.length
    const hdr = this.header.subarray(0, header)
    hdr.writeUInt32LE(n, 0)
    hdr[4] = cid.length
    hdr.set(cid, 5)
    hdr[5 + cid.length] = idLen
    if (id !== undefined) hdr.set(id, 6 + cid.length)
    const location = { segment: this.current, offset: this.currentSize + header, length: block.length }
    const buffered = this.buffered
    const written = this.written
    try {
      this.write(hdr)
      this.write(block)
    } catch (err) {
      // A write failed (a full disk): take the record back out. If nothing reached the file
      // meanwhile, the buffer is as before; else what did is a torn tail of this segment (the
      // next open cuts it) and the next record starts a new segment.
      if (this.written === written) this.buffered = buffered
      else { this.buffered = 0; this.inFile = 0; this.rotateNext = true }
      throw err
    }
    this.currentSize += header + block.length
    return location
  }

  private write (bytes: Uint8Array): void {
    if (this.direct) {
      // Whole buffers only: every write but a drain's is a full, aligned buffer.
      for (let off = 0; off < bytes.length;) {
        if (this.buffered === this.buffer.length) this.handOff()
        const n = Math.min(bytes.length - off, this.buffer.length - this.buffered)
        this.buffer.set(bytes.subarray(off, off + n), this.buffered)
        this.buffered += n
        off += n
      }
      return
    }
    if (this.buffered + bytes.length > this.buffer.length) this.handOff()
    if (bytes.length >= this.buffer.length) {
      writeAll(this.fd(this.current), bytes, this.written)
      this.written += bytes.length
    } else {
      this.buffer.set(bytes, this.buffered)
      this.buffered += bytes.length
    }
  }

  /** Writes buffered records to the file (not yet synced): readers in any thread now see them. */
  drain (): void {
    if (this.buffered === this.inFile) return
    if (!this.direct) {
      writeAll(this.fd(this.current), this.buffer.subarray(0, this.buffered), this.written)
      this.written += this.buffered
      this.buffered = 0
      return
    }
    // Whole pages: the last one padded with zeros (cut again at rotation and close), and kept
    // in the buffer so that the next write, which completes it, starts on a page boundary.
    const end = roundUp(this.buffered)
    this.buffer.fill(0, this.buffered, end)
    writeAll(this.writeFd(), this.buffer.subarray(0, end), this.written)
    const keep = this.buffered % PAGE
    const from = this.buffered - keep
    if (keep > 0) this.buffer.copyWithin(0, from, this.buffered)
    this.written += from
    this.buffered = keep
    this.inFile = keep
  }

  /** A full buffer: written on the pool when allowed and not too much is on its way already, else in place. */
  private handOff (): void {
    if (this.init.asyncWrites !== true || this.writingBytes >= MAX_WRITING || this.buffered === 0) {
      if (!this.direct || this.buffered === 0) { this.drain(); return }
      writeAll(this.writeFd(), this.buffer.subarray(0, this.buffered), this.written)
      this.written += this.buffered
      this.buffered = 0
      this.inFile = 0
      return
    }
    const w: Writing = { segment: this.current, offset: this.written, bytes: this.buffer.subarray(0, this.buffered) }
    w.fd = this.direct ? this.writeFd() : this.fd(w.segment)
    this.writing.add(w)
    this.writingBytes += w.bytes.length
    this.written += this.buffered
    const full = this.buffer
    this.buffer = this.spare.pop() ?? this.newBuffer()
    this.buffered = 0
    this.inFile = 0
    const done = writeAllAsync(w.fd, w.bytes, w.offset).then(() => {
      this.writing.delete(w)
      this.writingBytes -= w.bytes.length
      this.spare.push(full)
    }, (err) => {
      // Kept in `writing`, so reads stay right; `sync` reports the failure (nothing gets
      // indexed) and writes it again at the next sync (a full disk may have room by then).
      w.failed = true
      this.writeFailure ??= err
    })
    this.landed = Promise.all([this.landed, done]).then(() => {})
  }

  private newBuffer (): Buffer {
    return this.direct ? alignedBuffer(WRITE_BUFFER) : Buffer.allocUnsafe(WRITE_BUFFER)
  }

  private writeFd (): number {
    const fd = this.writeFds.get(this.current)
    if (fd === undefined) throw new InternalError(`segment ${this.current} has no descriptor for direct writes`)
    return fd
  }

  /** Waits until every buffer handed to the pool is written (or failed). */
  async settle (): Promise<void> {
    let seen: Promise<void> | undefined
    while (seen !== this.landed) {
      seen = this.landed
      await seen
    }
  }

  /** Copies into `out` (which holds `loc`) the parts of it still only in buffers on their way to the file. */
  private overlay (loc: BlockLocation, pending: Writing[], out: Buffer): void {
    for (const w of pending) {
      const from = Math.max(loc.offset, w.offset)
      const to = Math.min(loc.offset + loc.length, w.offset + w.bytes.length)
      w.bytes.copy(out, from - loc.offset, from - w.offset, to - w.offset)
    }
  }

  private writingWithin (loc: BlockLocation): Writing[] {
    if (this.writing.size === 0) return []
    return [...this.writing].filter(w => w.segment === loc.segment && w.offset < loc.offset + loc.length && loc.offset < w.offset + w.bytes.length)
  }

  private rotate (): void {
    // Until a new segment is open, the next append tries again (a full disk may refuse it).
    this.rotateNext = true
    this.drain()
    this.cutPadding()
    this.buffered = 0
    this.inFile = 0
    this.current = Atomics.add(this.counter, 0, 1)
    const path = this.path(this.current)
    if (this.direct) {
      try {
        this.writeFds.set(this.current, (this.init.openDirect ?? openDirect)(path))
        this.buffer.set(SEGMENT_MAGIC, 0)
        this.buffered = SEGMENT_MAGIC.length
        this.currentSize = this.written = 0
        this.drain() // the first page: also the test that this file system takes direct writes
      } catch (err: any) {
        if (err?.code !== 'EINVAL') throw err
        // No O_DIRECT here: this segment and the rest go through the page cache.
        const fd = this.writeFds.get(this.current)
        if (fd !== undefined) { closeSync(fd); this.writeFds.delete(this.current) }
        unlinkSync(path)
        this.direct = false
        this.buffered = 0
        this.inFile = 0
      }
    }
    if (!this.direct) {
      const fd = openSync(path, 'wx+')
      this.fds.set(this.current, fd)
      writeAll(fd, SEGMENT_MAGIC, 0)
      this.written = SEGMENT_MAGIC.length
    }
    this.currentSize = SEGMENT_MAGIC.length
    this.dirty.add(this.current)
    this.newFiles = true
    this.rotateNext = false
  }

  /** Direct I/O wrote the current segment's last page whole: cut the file back to what it holds. */
  private cutPadding (): void {
    const fd = this.writeFds.get(this.current)
    if (fd !== undefined && this.inFile > 0) ftruncateSync(fd, this.currentSize)
  }

  /** Closes the direct-write descriptors of earlier segments (only once nothing is being written through them). */
  private closeOldWriteFds (): void {
    if (this.writing.size > 0) return
    for (const [seg, fd] of this.writeFds) if (seg !== this.current) { closeSync(fd); this.writeFds.delete(seg) }
  }

  /** Length of the current segment as it will be once synced (for the committed-length index). */
  get tail (): { segment: number, length: number } | undefined {
    return this.current < 0 ? undefined : { segment: this.current, length: this.currentSize }
  }

  /**
   * Puts everything appended so far on disk (data, then the folder entry of new segments).
   * The flushes run on libuv's pool: appends may go on meanwhile, and the next sync covers them.
   */
  async sync (): Promise<void> {
    this.drain()
    // Only the buffers handed off so far: appends that go on meanwhile belong to the next sync.
    await this.landed
    await this.retryFailedWrites()
    if (this.writeFailure !== undefined) throw this.writeFailure
    this.closeOldWriteFds()
    const segments = [...this.dirty]
    const newFiles = this.newFiles
    this.dirty.clear()
    if (this.current >= 0) this.dirty.add(this.current)
    this.newFiles = false
    try {
      await Promise.all(segments.map(async seg => { await syncData(this.fd(seg)) }))
      if (newFiles) await this.syncFolder()
    } catch (err) {
      // Not durable after all: the next sync tries these again.
      for (const seg of segments) this.dirty.add(seg)
      this.newFiles ||= newFiles
      throw err
    }
  }

  /** Writes again the buffers whose write failed; the failure is cleared once all have landed. */
  private async retryFailedWrites (): Promise<void> {
    if (this.writeFailure === undefined) return
    for (const w of this.writing) {
      if (w.failed !== true) continue
      try {
        await writeAllAsync(w.fd!, w.bytes, w.offset)
      } catch (err) {
        this.writeFailure = err as Error
        return
      }
      w.failed = false
      this.writing.delete(w)
      this.writingBytes -= w.bytes.length
    }
    this.writeFailure = undefined
  }

  /** Makes new segment files' folder entries durable. */
  async syncFolder (): Promise<void> {
    const d = await open(this.dir, 'r')
    try { await d.sync() } finally { await d.close() }
  }

  read (loc: BlockLocation): Buffer {
    const { out, fd, pending } = this.startRead(loc, Buffer.allocUnsafe(loc.length))
    let got = 0
    for (let n = -1; got < loc.length && n !== 0; got += n) n = readSync(fd, out, got, loc.length - got, loc.offset + got)
    return this.finishRead(loc, out, got, pending)
  }

  /**
   * Reads `length` bytes at `offset` of a segment (one block or a run of neighbouring ones)
   * on a thread of libuv's pool, so the event loop keeps serving the network meanwhile.
   */
  async readRange (loc: BlockLocation): Promise<Buffer> {
    return await this.readOnPool(loc, Buffer.allocUnsafeSlow(loc.length))
  }

  /** Reads `loc` into `out` (exactly its length) through the page cache, on libuv's pool. */
  private async readOnPool (loc: BlockLocation, into: Buffer): Promise<Buffer> {
    const { out, fd, pending } = this.startRead(loc, into)
    let got = 0
    for (let n = -1; got < loc.length && n !== 0; got += n) n = await readAt(fd, out, got, loc.length - got, loc.offset + got)
    return this.finishRead(loc, out, got, pending)
  }

  /**
   * `readRange` into a buffer the caller reuses (from `alignedBuffer`, at least
   * `alignedRoom(loc.length)` long), with O_DIRECT where the file system takes it: a bulk
   * read (replication) then neither fills the page cache nor pays for its pages. Returns the
   * view of `loc` in `into`, valid until the caller reuses the buffer.
   */
  async readRangeInto (loc: BlockLocation, into: Buffer): Promise<Buffer> {
    const from = loc.offset - loc.offset % PAGE
    const to = roundUp(loc.offset + loc.length)
    if (to - from > into.length) throw new RangeError(`a buffer of ${into.length} bytes cannot take a read of ${loc.length} at ${loc.offset}`)
    const direct = this.directReader(loc.segment)
    if (direct === undefined) return await this.readOnPool(loc, into.subarray(0, loc.length))
    try {
      const { out, pending } = this.startRead(loc, into.subarray(loc.offset - from, loc.offset - from + loc.length))
      let got = 0
      for (;;) {
        const want = to - from - got
        const n = await readAt(direct.fd, into, got, want, from + got)
        got += n
        // Short: the end of the file (a read past it at an unaligned offset would be refused).
        if (n < want || got === to - from) break
      }
      return this.finishRead(loc, out, Math.max(0, Math.min(loc.length, got - (loc.offset - from))), pending)
    } finally {
      this.releaseDirectReader(direct)
    }
  }

  /** An O_DIRECT descriptor for reading `segment` (one kept open, the newest used); undefined where direct I/O is off or refused. */
  private directReader (segment: number): DirectReader | undefined {
    if (!this.directReads) return undefined
    let r = this.directReaders.get(segment)
    if (r === undefined) {
      try {
        r = { segment, fd: openSync(this.path(segment), constants.O_RDONLY | constants.O_DIRECT), users: 0 }
      } catch (err: any) {
        if (err?.code !== 'EINVAL') throw err
        this.directReads = false
        return undefined
      }
      this.directReaders.set(segment, r)
    }
    r.users++
    for (const [seg, other] of this.directReaders) if (seg !== segment && other.users === 0) { closeSync(other.fd); this.directReaders.delete(seg) }
    return r
  }

  private releaseDirectReader (r: DirectReader): void {
    r.users--
    if (r.users === 0 && this.directReaders.get(r.segment) !== r) closeSync(r.fd)
  }

  /** Before a read: buffered bytes go to the file; buffers on their way are noted (a buffer that lands meanwhile leaves `writing`, but its bytes are in hand). */
  private startRead (loc: BlockLocation, out: Buffer): { out: Buffer, fd: number, pending: Writing[] } {
    if (loc.segment === this.current && loc.offset + loc.length > this.written + this.inFile) this.drain()
    return { out, fd: this.fd(loc.segment), pending: this.writingWithin(loc) }
  }

  /** After a read of `got` bytes: the bytes still on their way are laid over; short only if they do not cover the rest. */
  private finishRead (loc: BlockLocation, out: Buffer, got: number, pending: Writing[]): Buffer {
    this.overlay(loc, pending, out)
    if (got < loc.length && !covered(loc, got, pending)) throw shortSegment(loc)
    return out
  }

  fd (segment: number): number {
    let fd = this.fds.get(segment)
    if (fd === undefined) {
      fd = openSync(this.path(segment), 'r')
      this.fds.set(segment, fd)
    }
    return fd
  }

  size (segment: number): number {
    return fstatSync(this.fd(segment)).size
  }

  /**
   * Reads records from `from` onwards. A record that is malformed, or that `intact` refuses
   * (its bytes no longer match its CID), does not end the scan: the scan looks for the next
   * record that parses and is intact, and goes on from there, so damage in the middle of a
   * segment costs only the damaged bytes. `end` is where the last good record ends; `damaged`
   * lists the byte ranges in between that held no good record (a torn tail is the last such
   * range, reaching the end of the file).
   */
  scan (segment: number, from: number, intact?: (r: ScannedRecord) => boolean): SegmentScan {
    const fd = this.fd(segment)
    const size = fstatSync(fd).size
    const records: ScannedRecord[] = []
    const damaged: Array<{ offset: number, length: number }> = []
    if (from < SEGMENT_MAGIC.length) {
      const magic = Buffer.alloc(8)
      if (size < 8 || readSync(fd, magic, 0, 8, 0) !== 8 || !magic.equals(SEGMENT_MAGIC)) {
        // No header: a segment a crash left before its first write (all zeros or empty), or one
        // whose header is damaged; records after it are still found.
        const first = size < 8 ? undefined : this.nextRecord(fd, segment, 1, size, intact)
        if (first === undefined) return { records, end: 0, size, damaged: size > 0 ? [{ offset: 0, length: size }] : [] }
        damaged.push({ offset: 0, length: first.location.offset - first.headerLength })
        from = first.location.offset - first.headerLength
      } else from = SEGMENT_MAGIC.length
    }
    let pos = from
    let end = from
    while (pos < size) {
      const r = this.recordAt(fd, segment, pos, size)
      if (r !== undefined && (intact === undefined || intact(r))) {
        records.push(r)
        pos = end = r.location.offset + r.location.length
        continue
      }
      const next = this.nextRecord(fd, segment, pos + 1, size, intact)
      const stop = next === undefined ? size : next.location.offset - next.headerLength
      damaged.push({ offset: pos, length: stop - pos })
      pos = stop
    }
    return { records, end, size, damaged }
  }

  /** The record whose header starts at `pos`, if its header is well formed and its bytes lie within the file. */
  private recordAt (fd: number, segment: number, pos: number, size: number): ScannedRecord & { headerLength: number } | undefined {
    if (pos + 6 > size) return undefined
    const head = this.scanHead
    const got = readSync(fd, head, 0, Math.min(head.length, size - pos), pos)
    if (got < 6) return undefined
    const n = head.readUInt32LE(0)
    const cidLen = head[4]
    if (cidLen === 0 || got < 6 + cidLen) return undefined
    const idLen = head[5 + cidLen]
    const header = 6 + cidLen + idLen
    if (got < header || n < header - 4 || pos + 4 + n > size) return undefined
    return {
      cid: Uint8Array.from(head.subarray(5, 5 + cidLen)),
      id: idLen > 0 ? Uint8Array.from(head.subarray(6 + cidLen, header)) : undefined,
      location: { segment, offset: pos + header, length: n - (header - 4) },
      headerLength: header
    }
  }

  /**
   * The first good record starting at or after `from`: found by the bytes every record's
   * header holds (a CID length of 36 and the CIDv1 raw sha2-256 prefix), then checked whole.
   */
  private nextRecord (fd: number, segment: number, from: number, size: number, intact?: (r: ScannedRecord) => boolean): ScannedRecord & { headerLength: number } | undefined {
    const window = Buffer.allocUnsafe(1 << 20)
    for (let base = Math.max(0, from + 4); base < size; base += window.length - RECORD_MARK.length) {
      const got = readSync(fd, window, 0, Math.min(window.length, size - base), base)
      for (let i = window.subarray(0, got).indexOf(RECORD_MARK); i >= 0; i = window.subarray(0, got).indexOf(RECORD_MARK, i + 1)) {
        const r = this.recordAt(fd, segment, base + i - 4, size)
        if (r !== undefined && (intact === undefined || intact(r))) return r
      }
      if (got < window.length) break
    }
    return undefined
  }

  /** Holds the segment nothing but zeros (or nothing at all)? */
  isBlank (segment: number): boolean {
    const fd = this.fd(segment)
    const size = fstatSync(fd).size
    const buf = Buffer.allocUnsafe(Math.min(size, 1 << 20))
    for (let pos = 0; pos < size;) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos)
      if (n === 0) break
      for (let i = 0; i < n; i++) if (buf[i] !== 0) return false
      pos += n
    }
    return true
  }

  /** Cuts a torn tail (the cached descriptors are read-only, so this opens one for writing). */
  truncate (segment: number, length: number): void {
    if (this.init.readOnly === true) throw new ReadOnlyStoreError('cutting a segment')
    const fd = openSync(this.path(segment), 'r+')
    try {
      ftruncateSync(fd, length)
      fdatasyncSync(fd)
    } finally {
      closeSync(fd)
    }
  }

  remove (segment: number): void {
    if (this.init.readOnly === true) throw new ReadOnlyStoreError('removing a segment')
    if (segment === this.current) throw new InternalError('cannot remove the segment being written')
    for (const fds of [this.fds, this.writeFds]) {
      const fd = fds.get(segment)
      if (fd !== undefined) { closeSync(fd); fds.delete(segment) }
    }
    const r = this.directReaders.get(segment)
    if (r !== undefined) { this.directReaders.delete(segment); if (r.users === 0) closeSync(r.fd) }
    unlinkSync(this.path(segment))
  }

  /**
   * A segment number no one has used, for a segment file written whole by someone else (a
   * segment taken from an archive, LocalBlockStore.takeSegment): never appended to by this log.
   */
  newSegment (): number {
    if (this.init.readOnly === true) throw new ReadOnlyStoreError('adding a segment')
    return Atomics.add(this.counter, 0, 1)
  }

  /** Starts a new segment for what follows (so a rewrite never mixes with older data). */
  seal (): void {
    this.drain()
    this.rotateNext = true
  }

  /** Closes every descriptor. With writes on the pool, call `settle()` first. */
  close (): void {
    this.drain()
    this.cutPadding()
    for (const fd of this.fds.values()) closeSync(fd)
    for (const fd of this.writeFds.values()) closeSync(fd)
    for (const r of this.directReaders.values()) closeSync(r.fd)
    this.fds.clear()
    this.writeFds.clear()
    this.directReaders.clear()
  }
}

const shortSegment = (loc: BlockLocation): StoreCorruptError =>
  new StoreCorruptError(`Segment ${loc.segment} ends before a block it should hold (offset ${loc.offset}).`)

/** fdatasync on a thread of libuv's pool. */
export async function syncData (fd: number): Promise<void> {
  await new Promise<void>((resolve, reject) => { fdatasync(fd, (err) => { if (err === null) resolve(); else reject(err) }) })
}

async function readAt (fd: number, buf: Buffer, at: number, length: number, position: number): Promise<number> {
  return await new Promise((resolve, reject) => { read(fd, buf, at, length, position, (err, n) => { if (err === null) resolve(n); else reject(err) }) })
}

/** The file ended `got` bytes into `loc`: fine only when buffers on their way to the file hold the rest. */
function covered (loc: BlockLocation, got: number, pending: Writing[]): boolean {
  let end = loc.offset + got
  for (const w of [...pending].sort((a, b) => a.offset - b.offset)) if (w.offset <= end) end = Math.max(end, w.offset + w.bytes.length)
  return end >= loc.offset + loc.length
}

const roundUp = (n: number): number => Math.ceil(n / PAGE) * PAGE

/**
 * Buffers whose memory starts on a page boundary, as O_DIRECT needs: carved from
 * WebAssembly memories (page-aligned by construction; Node gives no other way to ask for
 * alignment), 32 MiB at a time. Pages are touched only when used. Meant for buffers that are
 * kept and reused: a slab's memory is freed only when none of its buffers is referenced.
 */
const SLAB_BYTES = 32 << 20
// The lib settings of tsconfig leave out WebAssembly's types; this is all of it used here.
declare const WebAssembly: { Memory: new (d: { initial: number, maximum: number }) => { buffer: ArrayBuffer } }
let slab: { memory: ArrayBuffer, next: number } | undefined
const wasmMemory = (bytes: number): ArrayBuffer => new WebAssembly.Memory({ initial: bytes / 65536, maximum: bytes / 65536 }).buffer
export function alignedBuffer (size: number): Buffer {
  const bytes = Math.ceil(size / 65536) * 65536
  if (bytes > SLAB_BYTES / 2) return Buffer.from(wasmMemory(bytes), 0, size)
  if (slab === undefined || slab.next + bytes > slab.memory.byteLength) slab = { memory: wasmMemory(SLAB_BYTES), next: 0 }
  const buf = Buffer.from(slab.memory, slab.next, size)
  slab.next += bytes
  return buf
}

/** Room `readRangeInto` needs for a range of `length` bytes: the range widened to whole pages at both ends. */
export const alignedRoom = (length: number): number => length + 2 * PAGE

function writeAll (fd: number, bytes: Uint8Array, position: number): void {
  let off = 0
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off, position + off)
}

async function writeAllAsync (fd: number, bytes: Uint8Array, position: number): Promise<void> {
  let off = 0
  while (off < bytes.length) {
    off += await new Promise<number>((resolve, reject) => {
      write(fd, bytes, off, bytes.length - off, position + off, (err, n) => { if (err === null) resolve(n); else reject(err) })
    })
  }
}
