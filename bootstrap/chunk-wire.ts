// Byte format of the chunk-exchange protocol /cairn/chunks/1.0.0 (doc/mesh.md, "Wire protocol").
// Every message is one frame (frame.ts: u32 big-endian length, then the body):
//
//   body = version:u8 (=1) | type:u8 | request id:u32 | payload
//
// Requests (sender → receiver)          Replies (same request id)
//   0x01 HAVE  n:u16 (cidlen:u8 cid)×n    0x81 HAVE_REPLY n:u16 bitmap:ceil(n/8) (bit i = i-th CID present, LSB first)
//   0x02 PUT   cidlen:u8 cid bytes…       0x82 ACK status:u8
//   0x03 GET   cidlen:u8 cid              0x83 BLOCK status:u8 bytes… (bytes only when status is OK)
//   0x04 FLUSH                            0x82 ACK
//   0x05 ROOTS                            0x85 ROOTS_REPLY n:u16 (cidlen:u8 cid)×n
//   0x06 ADD_ROOT cidlen:u8 cid           0x82 ACK
//   0x07 PUT_BATCH n:u16 (cidlen:u8 cid size:u32)×n blocks…   0x87 BATCH_ACK n:u16 status:u8×n
//        (the blocks' bytes one after the other, in the order of the index before them)
//   0x08 ADD_ROOT_FROM cidlen:u8 cid originlen:u8 origin        0x82 ACK
//        (origin: the PeerId, base58btc in UTF-8, of the site whose backup the root is)
//   0x09 OFFER_ROOT cidlen:u8 root cidlen:u8 head                  0x82 ACK (QUOTA: the replica's quota for the origin is full)
//   0x0A ADD_ROOT_SIGNED cidlen:u8 root cidlen:u8 head lock:u32   0x82 ACK
//        (head: the block of the root's signed manifest head; lock: days, 0xFFFFFFFF = forever)
//   0x0B RELEASE cidlen:u8 release                                 0x82 ACK
//        (release: the block of a release signed by the root's origin)
//   0x0C ADMIN_RELEASE release bytes…                              0x82 ACK
//        (an administrator's release, its bytes inline: stored only once the replica has checked it)
//
// CIDs are binary CIDv1 (raw codec, sha2-256), the only kind of block a store holds.
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { ProtocolError } from './errors.ts'
import { Uint8ArrayList } from 'uint8arraylist'
// A block CID on the wire: CIDv1, raw, sha2-256 multihash of 32 bytes.
import { BLOCK_CID_LENGTH as BLOCK_CID_BYTES } from '../chunkstore/index.ts'

/** A lock of this many days, asked on the wire, means "forever". */
export const LOCK_FOREVER = 0xFFFFFFFF

export const CHUNK_PROTOCOL = '/cairn/chunks/1.0.0'
export const WIRE_VERSION = 1
/** Largest sealed block that crosses the wire (a 1 MiB chunk sealed is far below it). */
export const MAX_BLOCK_BYTES = 16 * 1024 * 1024
/** Largest frame body: a PUT (or a PUT_BATCH of one) of the largest block plus its header. */
export const MAX_FRAME_BYTES = MAX_BLOCK_BYTES + 256
/** Longest origin of an ADD_ROOT_FROM (a PeerId string is 52 characters for Ed25519 keys). */
export const MAX_ORIGIN_BYTES = 128
/** An administrator's release (JSON with a certificate and a signature) is at most this long. */
export const MAX_ADMIN_RELEASE_BYTES = 64 * 1024
/** CIDs per HAVE or ROOTS message. */
export const MAX_BATCH = 4096
const RAW_CODE = 0x55
const HEADER = 6

export const MsgType = {
  HAVE: 0x01, PUT: 0x02, GET: 0x03, FLUSH: 0x04, ROOTS: 0x05, ADD_ROOT: 0x06, PUT_BATCH: 0x07, ADD_ROOT_FROM: 0x08, OFFER_ROOT: 0x09, ADD_ROOT_SIGNED: 0x0A, RELEASE: 0x0B, ADMIN_RELEASE: 0x0C,
  HAVE_REPLY: 0x81, ACK: 0x82, BLOCK: 0x83, ROOTS_REPLY: 0x85, BATCH_ACK: 0x87
} as const

export const Status = {
  OK: 0, CID_MISMATCH: 1, NOT_FOUND: 2, TOO_LARGE: 3, MALFORMED: 4, STORE_ERROR: 5, REFUSED: 6, QUOTA: 7, INCOMPLETE: 8, BAD_SIGNATURE: 9
} as const
export type StatusCode = typeof Status[keyof typeof Status]
export const statusName = (s: number): string => Object.entries(Status).find(([, v]) => v === s)?.[0] ?? `STATUS_${s}`

export type Message =
  | { type: typeof MsgType.HAVE, id: number, cids: CID[] }
  | { type: typeof MsgType.PUT, id: number, cid: CID, bytes: Uint8Array }
  | { type: typeof MsgType.GET, id: number, cid: CID }
  | { type: typeof MsgType.FLUSH, id: number }
  | { type: typeof MsgType.ROOTS, id: number }
  | { type: typeof MsgType.ADD_ROOT, id: number, cid: CID }
  | { type: typeof MsgType.ADD_ROOT_FROM, id: number, cid: CID, origin: string }
  | { type: typeof MsgType.ADD_ROOT_SIGNED, id: number, cid: CID, head: CID, lockDays: number }
  | { type: typeof MsgType.RELEASE, id: number, cid: CID }
  | { type: typeof MsgType.ADMIN_RELEASE, id: number, bytes: Uint8Array }
  | { type: typeof MsgType.OFFER_ROOT, id: number, cid: CID, head: CID }
  | { type: typeof MsgType.PUT_BATCH, id: number, blocks: Array<{ cid: CID, bytes: Uint8Array }> }
  | { type: typeof MsgType.HAVE_REPLY, id: number, have: boolean[] }
  | { type: typeof MsgType.ACK, id: number, status: number }
  | { type: typeof MsgType.BLOCK, id: number, status: number, bytes?: Uint8Array }
  | { type: typeof MsgType.ROOTS_REPLY, id: number, cids: CID[] }
  | { type: typeof MsgType.BATCH_ACK, id: number, statuses: number[] }

/** True for CIDv1 raw sha2-256: the only address a sealed block may have. */
export function isBlockCid (cid: CID): boolean {
  return cid.version === 1 && cid.code === RAW_CODE && cid.multihash.code === sha256.code && cid.multihash.size === 32
}

/** Encodes a message body. The bytes of PUT, PUT_BATCH and BLOCK blocks are returned as further parts, to be sent without a copy. */
export function encodeMessage (m: Message): Uint8Array[] {
  const cidsLength = (list: CID[]): number => {
    if (list.length > MAX_BATCH) throw new ProtocolError(`at most ${MAX_BATCH} CIDs per message`)
    return 2 + list.reduce((n, c) => n + 1 + c.bytes.length, 0)
  }
  let size = HEADER
  let tail: Uint8Array | undefined
  let origin: Uint8Array | undefined
  switch (m.type) {
    case MsgType.HAVE: case MsgType.ROOTS_REPLY: size += cidsLength(m.cids); break
    case MsgType.PUT: size += 1 + m.cid.bytes.length; tail = m.bytes; break
    case MsgType.GET: case MsgType.ADD_ROOT: case MsgType.RELEASE: size += 1 + m.cid.bytes.length; break
    case MsgType.ADD_ROOT_SIGNED: size += 1 + m.cid.bytes.length + 1 + m.head.bytes.length + 4; break
    case MsgType.OFFER_ROOT: size += 1 + m.cid.bytes.length + 1 + m.head.bytes.length; break
    case MsgType.ADD_ROOT_FROM:
      origin = new TextEncoder().encode(m.origin)
      if (origin.length === 0 || origin.length > MAX_ORIGIN_BYTES) throw new ProtocolError(`an origin is 1 to ${MAX_ORIGIN_BYTES} bytes`)
      size += 1 + m.cid.bytes.length + 1 + origin.length
      break
    case MsgType.FLUSH: case MsgType.ROOTS: break
    case MsgType.HAVE_REPLY: size += 2 + Math.ceil(m.have.length / 8); break
    case MsgType.ACK: size += 1; break
    case MsgType.BLOCK: size += 1; tail = m.bytes; break
    case MsgType.ADMIN_RELEASE:
      if (m.bytes.length === 0 || m.bytes.length > MAX_ADMIN_RELEASE_BYTES) throw new ProtocolError(`an administrator's release is 1 to ${MAX_ADMIN_RELEASE_BYTES} bytes`)
      tail = m.bytes
      break
    case MsgType.PUT_BATCH:
      if (m.blocks.length === 0 || m.blocks.length > MAX_BATCH) throw new ProtocolError(`a PUT_BATCH holds 1 to ${MAX_BATCH} blocks`)
      size += 2 + m.blocks.reduce((n, b) => n + 1 + b.cid.bytes.length + 4, 0)
      break
    case MsgType.BATCH_ACK: size += 2 + m.statuses.length; break
  }
  const head = new Uint8Array(size)
  const view = new DataView(head.buffer)
  head[0] = WIRE_VERSION
  head[1] = m.type
  view.setUint32(2, m.id >>> 0)
  let at = HEADER
  const cid = (c: CID): void => { head[at++] = c.bytes.length; head.set(c.bytes, at); at += c.bytes.length }
  const cids = (list: CID[]): void => { view.setUint16(at, list.length); at += 2; list.forEach(cid) }
  switch (m.type) {
    case MsgType.HAVE: case MsgType.ROOTS_REPLY: cids(m.cids); break
    case MsgType.PUT: case MsgType.GET: case MsgType.ADD_ROOT: case MsgType.RELEASE: cid(m.cid); break
    case MsgType.ADD_ROOT_SIGNED: cid(m.cid); cid(m.head); view.setUint32(at, m.lockDays >>> 0); break
    case MsgType.OFFER_ROOT: cid(m.cid); cid(m.head); break
    case MsgType.ADD_ROOT_FROM: cid(m.cid); head[at++] = origin!.length; head.set(origin!, at); break
    case MsgType.HAVE_REPLY:
      view.setUint16(at, m.have.length); at += 2
      m.have.forEach((h, i) => { if (h) head[at + (i >> 3)] |= 1 << (i & 7) })
      break
    case MsgType.ACK: case MsgType.BLOCK: head[at] = m.status; break
    case MsgType.PUT_BATCH:
      view.setUint16(at, m.blocks.length); at += 2
      for (const b of m.blocks) { cid(b.cid); view.setUint32(at, b.bytes.length); at += 4 }
      return [head, ...m.blocks.map(b => b.bytes)]
    case MsgType.BATCH_ACK:
      view.setUint16(at, m.statuses.length); at += 2
      head.set(m.statuses, at)
      break
  }
  return tail === undefined ? [head] : [head, tail]
}

/**
 * Decodes a frame body; throws ProtocolError for anything that does not follow the format
 * exactly. A body given as a list (as the frame reader holds it) is not joined for a PUT_BATCH:
 * each block is a view of the bytes received, copied only when it spans two of them.
 */
export function decodeMessage (frame: Uint8Array | Uint8ArrayList): Message {
  let body: Uint8Array
  let length: number
  let slice: (from: number, to: number) => Uint8Array
  if (frame instanceof Uint8Array) {
    body = frame
    length = frame.length
    slice = (from, to) => frame.subarray(from, to)
  } else {
    length = frame.byteLength
    const batch = length >= HEADER + 2 && frame.get(1) === MsgType.PUT_BATCH
    // A PUT_BATCH's index is joined (block CIDs make it n × 41 bytes), its blocks are not.
    body = batch ? frame.subarray(0, Math.min(length, HEADER + 2 + frame.getUint16(HEADER) * PUT_BATCH_ENTRY)) : frame.subarray()
    slice = (from, to) => frame.subarray(from, to)
  }
  if (length < HEADER) throw new ProtocolError(`a message of ${length} bytes is shorter than its header`)
  if (body[0] !== WIRE_VERSION) throw new ProtocolError(`wire version ${body[0]} is not supported (this node speaks ${WIRE_VERSION})`)
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength)
  const type = body[1]
  const id = view.getUint32(2)
  let at = HEADER
  const need = (n: number): void => { if (at + n > body.length) throw new ProtocolError(`message type 0x${type.toString(16)} is truncated`) }
  const u8 = (): number => { need(1); return body[at++] }
  const u16 = (): number => { need(2); const v = view.getUint16(at); at += 2; return v }
  const cid = (): CID => {
    const len = u8()
    need(len)
    let c: CID
    try {
      c = CID.decode(body.subarray(at, at + len))
    } catch (err) {
      throw new ProtocolError('a CID does not decode', { cause: err })
    }
    at += len
    if (!isBlockCid(c)) throw new ProtocolError(`CID ${c.toString()} is not CIDv1 raw sha2-256`)
    return c
  }
  const cids = (): CID[] => {
    const n = u16()
    if (n > MAX_BATCH) throw new ProtocolError(`${n} CIDs in one message exceed the limit of ${MAX_BATCH}`)
    return Array.from({ length: n }, cid)
  }
  const end = (): void => { if (at !== length) throw new ProtocolError(`message type 0x${type.toString(16)} has ${length - at} trailing bytes`) }
  let m: Message
  switch (type) {
    case MsgType.HAVE: m = { type, id, cids: cids() }; end(); break
    case MsgType.PUT: {
      const c = cid()
      const bytes = body.subarray(at)
      if (bytes.length > MAX_BLOCK_BYTES) throw new ProtocolError(`a block of ${bytes.length} bytes exceeds ${MAX_BLOCK_BYTES}`)
      m = { type, id, cid: c, bytes }
      break
    }
    case MsgType.GET: m = { type, id, cid: cid() }; end(); break
    case MsgType.ADMIN_RELEASE: {
      const bytes = body.subarray(at)
      if (bytes.length === 0 || bytes.length > MAX_ADMIN_RELEASE_BYTES) throw new ProtocolError(`an administrator's release of ${bytes.length} bytes is outside 1 to ${MAX_ADMIN_RELEASE_BYTES}`)
      m = { type, id, bytes }
      break
    }
    case MsgType.ADD_ROOT: m = { type, id, cid: cid() }; end(); break
    case MsgType.RELEASE: m = { type, id, cid: cid() }; end(); break
    case MsgType.OFFER_ROOT: { const root = cid(); m = { type, id, cid: root, head: cid() }; end(); break }
    case MsgType.ADD_ROOT_SIGNED: {
      const root = cid()
      const head = cid()
      need(4)
      const lockDays = view.getUint32(at)
      at += 4
      m = { type, id, cid: root, head, lockDays }; end()
      break
    }
    case MsgType.ADD_ROOT_FROM: {
      const c = cid()
      const len = u8()
      if (len === 0 || len > MAX_ORIGIN_BYTES) throw new ProtocolError(`an origin of ${len} bytes is outside 1 to ${MAX_ORIGIN_BYTES}`)
      need(len)
      let origin: string
      try {
        origin = new TextDecoder('utf-8', { fatal: true }).decode(body.subarray(at, at + len))
      } catch (err) {
        throw new ProtocolError('an origin is not UTF-8', { cause: err })
      }
      at += len
      m = { type, id, cid: c, origin }; end()
      break
    }
    case MsgType.FLUSH: m = { type, id }; end(); break
    case MsgType.ROOTS: m = { type, id }; end(); break
    case MsgType.HAVE_REPLY: {
      const n = u16()
      if (n > MAX_BATCH) throw new ProtocolError(`${n} answers exceed the limit of ${MAX_BATCH}`)
      need(Math.ceil(n / 8))
      const have = Array.from({ length: n }, (_, i) => (body[at + (i >> 3)] & (1 << (i & 7))) !== 0)
      at += Math.ceil(n / 8)
      m = { type, id, have }; end()
      break
    }
    case MsgType.ACK: m = { type, id, status: u8() }; end(); break
    case MsgType.BLOCK: {
      const status = u8()
      m = status === Status.OK ? { type, id, status, bytes: body.subarray(at) } : { type, id, status }
      if (status !== Status.OK) end()
      break
    }
    case MsgType.ROOTS_REPLY: m = { type, id, cids: cids() }; end(); break
    case MsgType.PUT_BATCH: {
      const n = u16()
      if (n === 0 || n > MAX_BATCH) throw new ProtocolError(`a PUT_BATCH of ${n} blocks is outside 1 to ${MAX_BATCH}`)
      const index = Array.from({ length: n }, () => {
        const c = cid()
        need(4)
        const size = view.getUint32(at)
        at += 4
        if (size > MAX_BLOCK_BYTES) throw new ProtocolError(`a block of ${size} bytes exceeds ${MAX_BLOCK_BYTES}`)
        return { c, size }
      })
      const blocks = index.map(({ c, size }) => {
        if (at + size > length) throw new ProtocolError('message type 0x7 is truncated')
        const bytes = slice(at, at + size)
        at += size
        return { cid: c, bytes }
      })
      end()
      m = { type, id, blocks }
      break
    }
    case MsgType.BATCH_ACK: {
      const n = u16()
      if (n > MAX_BATCH) throw new ProtocolError(`${n} answers exceed the limit of ${MAX_BATCH}`)
      need(n)
      m = { type, id, statuses: Array.from(body.subarray(at, at + n)) }
      at += n
      end()
      break
    }
    default: throw new ProtocolError(`unknown message type 0x${type.toString(16)}`)
  }
  return m
}

const PUT_BATCH_ENTRY = 1 + BLOCK_CID_BYTES + 4

/** A whole HAVE frame (length prefix included) for `count` packed 36-byte block CIDs: no CID object per block. */
export function haveFrame (id: number, cids: Uint8Array, count: number): Uint8Array {
  if (count > MAX_BATCH) throw new ProtocolError(`at most ${MAX_BATCH} CIDs per message`)
  const buf = Buffer.allocUnsafe(4 + HEADER + 2 + count * (1 + BLOCK_CID_BYTES))
  buf.writeUInt32BE(buf.length - 4, 0)
  buf[4] = WIRE_VERSION
  buf[5] = MsgType.HAVE
  buf.writeUInt32BE(id >>> 0, 6)
  buf.writeUInt16BE(count, 10)
  for (let i = 0, at = 12; i < count; i++, at += 1 + BLOCK_CID_BYTES) {
    buf[at] = BLOCK_CID_BYTES
    buf.set(cids.subarray(i * BLOCK_CID_BYTES, (i + 1) * BLOCK_CID_BYTES), at + 1)
  }
  return buf
}

/**
 * Builds one PUT_BATCH frame (length prefix included) in a single buffer: each block is
 * copied in as it is added — so the caller may reuse its read buffers at once — and the index
 * is written in front of the blocks at the end, into room kept for it. Same bytes as
 * `encodeFrame(...encodeMessage({ type: PUT_BATCH, … }))`, without a part per block for the
 * layers below to handle one by one.
 */
export class PutBatchBuilder {
  readonly cids: Uint8Array[] = []
  private readonly sizes: number[] = []
  private buf: Buffer | undefined
  private readonly room: number
  private at = 0
  /** Block bytes added so far. */
  bytes = 0

  /** `reuse`: the buffer of an earlier builder with the same limits whose frame is no longer needed (`buffer`). */
  constructor (readonly maxBytes: number, readonly maxBlocks = MAX_BATCH, reuse?: Buffer) {
    if (maxBlocks < 1 || maxBlocks > MAX_BATCH) throw new ProtocolError(`a PUT_BATCH holds 1 to ${MAX_BATCH} blocks`)
    this.room = 4 + HEADER + 2 + maxBlocks * PUT_BATCH_ENTRY
    if (reuse !== undefined && reuse.length === this.room + maxBytes) this.buf = reuse
    this.at = this.room
  }

  /** The buffer behind the frame, for a later builder once the frame has been sent and acknowledged (undefined for an oversized lone block). */
  get buffer (): Buffer | undefined {
    return this.buf?.length === this.room + this.maxBytes ? this.buf : undefined
  }

  get count (): number { return this.cids.length }

  /** Whether a block of `size` bytes may join (the first always may, however large). */
  fits (size: number): boolean {
    return this.count === 0 || (this.count < this.maxBlocks && this.bytes + size <= this.maxBytes)
  }

  /** Copies in one block; `cid` is the binary CID (checked to be a block CID). */
  add (cid: Uint8Array, bytes: Uint8Array): void {
    if (cid.length !== BLOCK_CID_BYTES || cid[0] !== 1 || cid[1] !== RAW_CODE || cid[2] !== sha256.code || cid[3] !== 32) throw new ProtocolError('not a block CID (CIDv1 raw sha2-256)')
    if (bytes.length > MAX_BLOCK_BYTES) throw new ProtocolError(`a block of ${bytes.length} bytes exceeds ${MAX_BLOCK_BYTES}`)
    if (!this.fits(bytes.length)) throw new ProtocolError('the PUT_BATCH is full')
    if (this.buf === undefined || this.room + bytes.length > this.buf.length) {
      this.buf = Buffer.allocUnsafe(this.room + Math.max(this.maxBytes, bytes.length))
    }
    this.buf.set(bytes, this.at)
    this.at += bytes.length
    this.bytes += bytes.length
    this.cids.push(cid)
    this.sizes.push(bytes.length)
  }

  /** The whole frame with request id `id`. */
  frame (id: number): Uint8Array {
    const buf = this.buf
    const n = this.count
    if (buf === undefined || n === 0) throw new ProtocolError('a PUT_BATCH holds at least one block')
    const start = this.room - (4 + HEADER + 2 + n * PUT_BATCH_ENTRY)
    let at = start
    buf.writeUInt32BE(this.at - start - 4, at); at += 4
    buf[at++] = WIRE_VERSION
    buf[at++] = MsgType.PUT_BATCH
    buf.writeUInt32BE(id >>> 0, at); at += 4
    buf.writeUInt16BE(n, at); at += 2
    for (let i = 0; i < n; i++) {
      buf[at++] = BLOCK_CID_BYTES
      buf.set(this.cids[i], at); at += BLOCK_CID_BYTES
      buf.writeUInt32BE(this.sizes[i], at); at += 4
    }
    return buf.subarray(start, this.at)
  }
}
