import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, fstatSync, mkdirSync, openSync, readdirSync, readSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { BlockLocation } from './block-store.ts'
import { StoreCorruptError } from './errors.ts'

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
const TARGET_SEGMENT = 64 << 20
const WRITE_BUFFER = 4 << 20

export interface ScannedRecord {
  cid: Uint8Array
  id?: Uint8Array
  location: BlockLocation
}

export class ValueLog {
  private readonly fds = new Map<number, number>()
  /** Shared with the worker threads, which write segments of their own (Atomics, no round trip). */
  readonly counter: Int32Array
  private current = -1
  private currentSize = 0
  private written = 0
  private buffer = Buffer.allocUnsafe(WRITE_BUFFER)
  private buffered = 0
  private readonly dirty = new Set<number>()
  private newFiles = false
  private rotateNext = false

  constructor (readonly dir: string, counter?: Int32Array) {
    mkdirSync(dir, { recursive: true })
    if (counter === undefined) {
      const nums = this.segments()
      counter = new Int32Array(new SharedArrayBuffer(4))
      counter[0] = nums.length === 0 ? 1 : nums[nums.length - 1] + 1
    }
    this.counter = counter
  }

  segments (): number[] {
    return readdirSync(this.dir).filter(n => /^\d{8}\.seg$/.test(n)).map(n => parseInt(n, 10)).sort((a, b) => a - b)
  }

  path (segment: number): string {
    return join(this.dir, `${String(segment).padStart(8, '0')}.seg`)
  }

  /** Appends a block; the location is valid at once for `read`, durable after `sync`. */
  append (cid: Uint8Array, id: Uint8Array | undefined, block: Uint8Array): BlockLocation {
    if (this.current < 0 || this.rotateNext || this.currentSize >= TARGET_SEGMENT) this.rotate()
    const idLen = id?.length ?? 0
    const header = 4 + 1 + cid.length + 1 + idLen
    const n = header - 4 + block.length
    const hdr = Buffer.allocUnsafe(header)
    hdr.writeUInt32LE(n, 0)
    hdr[4] = cid.length
    hdr.set(cid, 5)
    hdr[5 + cid.length] = idLen
    if (id !== undefined) hdr.set(id, 6 + cid.length)
    const location = { segment: this.current, offset: this.currentSize + header, length: block.length }
    this.write(hdr)
    this.write(block)
    this.currentSize += header + block.length
    return location
  }

  private write (bytes: Uint8Array): void {
    if (this.buffered + bytes.length > this.buffer.length) this.drain()
    if (bytes.length >= this.buffer.length) {
      writeAll(this.fd(this.current), bytes)
      this.written += bytes.length
    } else {
      this.buffer.set(bytes, this.buffered)
      this.buffered += bytes.length
    }
  }

  /** Writes buffered records to the file (not yet synced): readers in any thread now see them. */
  drain (): void {
    if (this.buffered === 0) return
    writeAll(this.fd(this.current), this.buffer.subarray(0, this.buffered))
    this.written += this.buffered
    this.buffered = 0
  }

  private rotate (): void {
    this.drain()
    this.rotateNext = false
    this.current = Atomics.add(this.counter, 0, 1)
    const fd = openSync(this.path(this.current), 'wx+')
    this.fds.set(this.current, fd)
    writeAll(fd, SEGMENT_MAGIC)
    this.currentSize = SEGMENT_MAGIC.length
    this.written = this.currentSize
    this.dirty.add(this.current)
    this.newFiles = true
  }

  /** Length of the current segment as it will be once synced (for the committed-length index). */
  get tail (): { segment: number, length: number } | undefined {
    return this.current < 0 ? undefined : { segment: this.current, length: this.currentSize }
  }

  /** Puts everything appended so far on disk (data, then the folder entry of new segments). */
  async sync (): Promise<void> {
    this.drain()
    for (const seg of this.dirty) fdatasyncSync(this.fd(seg))
    this.dirty.clear()
    if (this.current >= 0) this.dirty.add(this.current)
    if (this.newFiles) {
      this.syncFolder()
      this.newFiles = false
    }
  }

  /** Makes new segment files' folder entries durable. */
  syncFolder (): void {
    const d = openSync(this.dir, 'r')
    try { fsyncSync(d) } finally { closeSync(d) }
  }

  read (loc: BlockLocation): Buffer {
    if (loc.segment === this.current && loc.offset + loc.length > this.written) this.drain()
    const out = Buffer.allocUnsafe(loc.length)
    const fd = this.fd(loc.segment)
    let got = 0
    while (got < loc.length) {
      const n = readSync(fd, out, got, loc.length - got, loc.offset + got)
      if (n === 0) throw new StoreCorruptError(`Segment ${loc.segment} ends before a block it should hold (offset ${loc.offset}).`)
      got += n
    }
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
   * Reads records from `from` onwards; stops at the first torn or malformed record and
   * reports where the good part ends.
   */
  scan (segment: number, from: number): { records: ScannedRecord[], end: number } {
    const fd = this.fd(segment)
    const size = fstatSync(fd).size
    const records: ScannedRecord[] = []
    let pos = Math.max(from, SEGMENT_MAGIC.length)
    if (from < SEGMENT_MAGIC.length) {
      const magic = Buffer.alloc(8)
      if (size < 8 || readSync(fd, magic, 0, 8, 0) !== 8 || !magic.equals(SEGMENT_MAGIC)) return { records, end: 0 }
    }
    const head = Buffer.allocUnsafe(4 + 1 + 255 + 1 + 255)
    while (pos + 6 <= size) {
      const got = readSync(fd, head, 0, Math.min(head.length, size - pos), pos)
      if (got < 6) break
      const n = head.readUInt32LE(0)
      const cidLen = head[4]
      if (got < 6 + cidLen) break
      const idLen = head[5 + cidLen]
      const header = 6 + cidLen + idLen
      if (got < header || n < header - 4 || pos + 4 + n > size) break
      records.push({
        cid: Uint8Array.from(head.subarray(5, 5 + cidLen)),
        id: idLen > 0 ? Uint8Array.from(head.subarray(6 + cidLen, header)) : undefined,
        location: { segment, offset: pos + header, length: n - (header - 4) }
      })
      pos += 4 + n
    }
    return { records, end: pos }
  }

  /** Cuts a torn tail (the cached descriptors are read-only, so this opens one for writing). */
  truncate (segment: number, length: number): void {
    const fd = openSync(this.path(segment), 'r+')
    try {
      ftruncateSync(fd, length)
      fdatasyncSync(fd)
    } finally {
      closeSync(fd)
    }
  }

  remove (segment: number): void {
    if (segment === this.current) throw new Error('cannot remove the segment being written')
    const fd = this.fds.get(segment)
    if (fd !== undefined) { closeSync(fd); this.fds.delete(segment) }
    unlinkSync(this.path(segment))
  }

  /** Starts a new segment for what follows (so a rewrite never mixes with older data). */
  seal (): void {
    this.drain()
    this.rotateNext = true
  }

  close (): void {
    this.drain()
    for (const fd of this.fds.values()) closeSync(fd)
    this.fds.clear()
  }
}

function writeAll (fd: number, bytes: Uint8Array): void {
  let off = 0
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off)
}
