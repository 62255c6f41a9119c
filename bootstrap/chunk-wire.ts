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
//
// CIDs are binary CIDv1 (raw codec, sha2-256), the only kind of block a store holds.
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { ProtocolError } from './errors.ts'

export const CHUNK_PROTOCOL = '/cairn/chunks/1.0.0'
export const WIRE_VERSION = 1
/** Largest sealed block that crosses the wire (a 1 MiB chunk sealed is far below it). */
export const MAX_BLOCK_BYTES = 16 * 1024 * 1024
/** Largest frame body: a PUT (or a PUT_BATCH of one) of the largest block plus its header. */
export const MAX_FRAME_BYTES = MAX_BLOCK_BYTES + 256
/** CIDs per HAVE or ROOTS message. */
export const MAX_BATCH = 4096
const RAW_CODE = 0x55
const HEADER = 6

export const MsgType = {
  HAVE: 0x01, PUT: 0x02, GET: 0x03, FLUSH: 0x04, ROOTS: 0x05, ADD_ROOT: 0x06, PUT_BATCH: 0x07,
  HAVE_REPLY: 0x81, ACK: 0x82, BLOCK: 0x83, ROOTS_REPLY: 0x85, BATCH_ACK: 0x87
} as const

export const Status = {
  OK: 0, CID_MISMATCH: 1, NOT_FOUND: 2, TOO_LARGE: 3, MALFORMED: 4, STORE_ERROR: 5, REFUSED: 6
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
  switch (m.type) {
    case MsgType.HAVE: case MsgType.ROOTS_REPLY: size += cidsLength(m.cids); break
    case MsgType.PUT: size += 1 + m.cid.bytes.length; tail = m.bytes; break
    case MsgType.GET: case MsgType.ADD_ROOT: size += 1 + m.cid.bytes.length; break
    case MsgType.FLUSH: case MsgType.ROOTS: break
    case MsgType.HAVE_REPLY: size += 2 + Math.ceil(m.have.length / 8); break
    case MsgType.ACK: size += 1; break
    case MsgType.BLOCK: size += 1; tail = m.bytes; break
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
    case MsgType.PUT: case MsgType.GET: case MsgType.ADD_ROOT: cid(m.cid); break
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

/** Decodes a frame body; throws ProtocolError for anything that does not follow the format exactly. */
export function decodeMessage (body: Uint8Array): Message {
  if (body.length < HEADER) throw new ProtocolError(`a message of ${body.length} bytes is shorter than its header`)
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
  const end = (): void => { if (at !== body.length) throw new ProtocolError(`message type 0x${type.toString(16)} has ${body.length - at} trailing bytes`) }
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
    case MsgType.ADD_ROOT: m = { type, id, cid: cid() }; end(); break
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
        need(size)
        const bytes = body.subarray(at, at + size)
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

/** sha2-256 of `bytes` matches the CID's digest. */
export async function matchesCid (cid: CID, bytes: Uint8Array): Promise<boolean> {
  const digest = await sha256.digest(bytes)
  const want = cid.multihash.digest
  if (digest.digest.length !== want.length) return false
  for (let i = 0; i < want.length; i++) if (digest.digest[i] !== want[i]) return false
  return true
}

export async function blockCid (bytes: Uint8Array): Promise<CID> {
  return CID.createV1(RAW_CODE, await sha256.digest(bytes))
}
