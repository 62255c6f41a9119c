// The byte formats of an archive device (doc/design.md "Archive pack, version 1" and "Archive
// catalogue, version 1"). Open by design: a pack can be read block by block without Cairn's
// index, and the catalogue of a pack can be rebuilt from the pack alone.
import { createHash } from 'node:crypto'
import { BLOCK_CID_LENGTH, SEGMENT_MAGIC } from '../../chunkstore/index.ts'
import { ArchiveFormatError } from './errors.ts'

export const PACK_MAGIC = Buffer.from('CAIRNPK1')
export const CATALOGUE_MAGIC = Buffer.from('CAIRNCT1')
/** Before each block in a pack: its binary CID and its length (u32, big-endian). */
export const RECORD_HEADER = BLOCK_CID_LENGTH + 4
const ENTRY = BLOCK_CID_LENGTH + 8 + 4

export interface CatalogueEntry { cid: Uint8Array, offset: number, length: number }
export interface Catalogue {
  /** Later catalogues win for a CID listed twice (a repaired block). */
  seq: number
  /** The pack's length in bytes: a shorter pack was cut off. */
  packLength: number
  entries: CatalogueEntry[]
}

/** A pack: magic, then per block its header and bytes; `offset` of an entry is where its bytes start. */
export function encodePack (blocks: ReadonlyArray<{ cid: Uint8Array, bytes: Uint8Array }>): { pack: Buffer, entries: CatalogueEntry[] } {
  const size = PACK_MAGIC.length + blocks.reduce((n, b) => n + RECORD_HEADER + b.bytes.length, 0)
  const pack = Buffer.allocUnsafe(size)
  PACK_MAGIC.copy(pack, 0)
  let at = PACK_MAGIC.length
  const entries: CatalogueEntry[] = []
  for (const b of blocks) {
    pack.set(b.cid, at)
    pack.writeUInt32BE(b.bytes.length, at + BLOCK_CID_LENGTH)
    at += RECORD_HEADER
    pack.set(b.bytes, at)
    entries.push({ cid: b.cid, offset: at, length: b.bytes.length })
    at += b.bytes.length
  }
  return { pack, entries }
}

/**
 * A pack built as blocks arrive: each block is copied once, straight into the pack's buffer
 * (sized for `capacity` bytes of blocks, grown when one does not fit), and `view` gives its bytes
 * back until the pack is written.
 */
export class PackBuilder {
  private buf: Buffer
  private at = PACK_MAGIC.length
  readonly entries: CatalogueEntry[] = []

  /** `reuse`: the buffer of a pack written before, if it is large enough (no new 16 MiB for every pack). */
  constructor (capacity: number, reuse?: Buffer) {
    this.buf = reuse !== undefined && reuse.length >= PACK_MAGIC.length + capacity ? reuse : Buffer.allocUnsafe(PACK_MAGIC.length + capacity)
    PACK_MAGIC.copy(this.buf, 0)
  }

  /** The whole buffer, for the next builder once this pack is written and no view of it is used. */
  get buffer (): Buffer { return this.buf }

  get size (): number { return this.at }
  get blocks (): number { return this.entries.length }

  /** Whether a block of `length` bytes fits without growing the buffer (a copy of all of it). */
  fits (length: number): boolean { return this.at + RECORD_HEADER + length <= this.buf.length }

  /** Appends one block; returns its entry. */
  add (cid: Uint8Array, bytes: Uint8Array): CatalogueEntry {
    const need = this.at + RECORD_HEADER + bytes.length
    if (need > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2))
      this.buf.copy(grown, 0, 0, this.at)
      this.buf = grown
    }
    this.buf.set(cid, this.at)
    this.buf.writeUInt32BE(bytes.length, this.at + BLOCK_CID_LENGTH)
    this.buf.set(bytes, this.at + RECORD_HEADER)
    const e = { cid: new Uint8Array(cid), offset: this.at + RECORD_HEADER, length: bytes.length }
    this.entries.push(e)
    this.at = need
    return e
  }

  /** The bytes of a block added (a view, valid while this builder lives). */
  view (e: CatalogueEntry): Uint8Array { return this.buf.subarray(e.offset, e.offset + e.length) }

  /** The pack's bytes so far. */
  bytes (): Buffer { return this.buf.subarray(0, this.at) }
}

/**
 * The entries of a whole pack, read from its records; throws on a cut-off or foreign pack. A
 * pack that is a store segment copied whole lists every record with a block CID, also those its
 * catalogue left out (dead blocks of the store's).
 */
export function scanPack (pack: Uint8Array): CatalogueEntry[] {
  const b = Buffer.from(pack.buffer, pack.byteOffset, pack.byteLength)
  if (b.length >= SEGMENT_MAGIC.length && b.subarray(0, SEGMENT_MAGIC.length).equals(SEGMENT_MAGIC)) return scanSegment(b)
  if (b.length < PACK_MAGIC.length || !b.subarray(0, PACK_MAGIC.length).equals(PACK_MAGIC)) throw new ArchiveFormatError('not a Cairn pack (bad magic)')
  const out: CatalogueEntry[] = []
  let at = PACK_MAGIC.length
  while (at < b.length) {
    if (at + RECORD_HEADER > b.length) throw new ArchiveFormatError(`cut off inside a record header at byte ${at}`)
    const length = b.readUInt32BE(at + BLOCK_CID_LENGTH)
    if (at + RECORD_HEADER + length > b.length) throw new ArchiveFormatError(`cut off inside a block at byte ${at}`)
    out.push({ cid: new Uint8Array(b.subarray(at, at + BLOCK_CID_LENGTH)), offset: at + RECORD_HEADER, length })
    at += RECORD_HEADER + length
  }
  return out
}

/** The block records of a store segment (doc/design.md "Segment, version 1"): `u32le n | u8 cidLen | cid | u8 idLen | id | block`. */
function scanSegment (b: Buffer): CatalogueEntry[] {
  const out: CatalogueEntry[] = []
  let at = SEGMENT_MAGIC.length
  while (at < b.length) {
    const cidLen = at + 5 <= b.length ? b[at + 4] : 0
    const header = at + 6 + cidLen <= b.length ? 6 + cidLen + b[at + 5 + cidLen] : Infinity
    const n = at + 4 <= b.length ? b.readUInt32LE(at) : 0
    if (cidLen === 0 || header - 4 > n || at + 4 + n > b.length) throw new ArchiveFormatError(`cut off or damaged segment record at byte ${at}`)
    if (cidLen === BLOCK_CID_LENGTH) out.push({ cid: new Uint8Array(b.subarray(at + 5, at + 5 + cidLen)), offset: at + header, length: n + 4 - header })
    at += 4 + n
  }
  return out
}

/** magic | seq u64 | packLength u64 | count u32 | entries (CID 36 | offset u64 | length u32) | sha256 of all before. */
export function encodeCatalogue (c: Catalogue): Buffer {
  const head = CATALOGUE_MAGIC.length + 8 + 8 + 4
  const out = Buffer.allocUnsafe(head + c.entries.length * ENTRY + 32)
  CATALOGUE_MAGIC.copy(out, 0)
  out.writeBigUInt64BE(BigInt(c.seq), 8)
  out.writeBigUInt64BE(BigInt(c.packLength), 16)
  out.writeUInt32BE(c.entries.length, 24)
  let at = head
  for (const e of c.entries) {
    out.set(e.cid, at)
    out.writeBigUInt64BE(BigInt(e.offset), at + BLOCK_CID_LENGTH)
    out.writeUInt32BE(e.length, at + BLOCK_CID_LENGTH + 8)
    at += ENTRY
  }
  createHash('sha256').update(out.subarray(0, at)).digest().copy(out, at)
  return out
}

export function decodeCatalogue (bytes: Uint8Array): Catalogue {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const head = CATALOGUE_MAGIC.length + 8 + 8 + 4
  if (b.length < head + 32 || !b.subarray(0, CATALOGUE_MAGIC.length).equals(CATALOGUE_MAGIC)) throw new ArchiveFormatError('not a Cairn catalogue (bad magic or too short)')
  const count = b.readUInt32BE(24)
  if (b.length !== head + count * ENTRY + 32) throw new ArchiveFormatError(`length ${b.length} does not fit ${count} entries`)
  const end = head + count * ENTRY
  if (!createHash('sha256').update(b.subarray(0, end)).digest().equals(b.subarray(end))) throw new ArchiveFormatError('checksum mismatch')
  const entries: CatalogueEntry[] = []
  for (let at = head; at < end; at += ENTRY) {
    entries.push({ cid: new Uint8Array(b.subarray(at, at + BLOCK_CID_LENGTH)), offset: Number(b.readBigUInt64BE(at + BLOCK_CID_LENGTH)), length: b.readUInt32BE(at + BLOCK_CID_LENGTH + 8) })
  }
  return { seq: Number(b.readBigUInt64BE(8)), packLength: Number(b.readBigUInt64BE(16)), entries }
}
