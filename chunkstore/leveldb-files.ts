import { closeSync, existsSync, fstatSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs'
import { join } from 'node:path'
import { StoreCorruptError } from './errors.ts'

/**
 * Checks the files of a LevelDB database (the store's index) against their own checksums,
 * reading only: LevelDB itself verifies nothing on a read unless asked, and the binding does
 * not ask, so a flipped bit in a table could otherwise pass unseen. The formats are LevelDB's
 * (1.x, documented in its doc/log_format.md and doc/table_format.md):
 *
 *   CURRENT   "MANIFEST-NNNNNN\n"
 *   log       32 KiB blocks of records: masked crc32c(type || data) u32le | length u16le | type u8 | data
 *             (MANIFEST-* and NNNNNN.log are logs)
 *   table     data blocks, meta blocks, metaindex block, index block, footer (48 B, ending in the
 *             magic 0xdb4775248b80fb57); each block is followed by type (0 raw, 1 snappy) and a
 *             masked crc32c of block || type; index entries hold varint64 offset | varint64 size
 *
 * Returns one line per problem, naming the file; an empty list means every byte that carries a
 * checksum matches it. `tablesToo: false` checks only CURRENT, the MANIFEST and the logs
 * (small; done at every open), not the tables (done by `cairn check`).
 */
export function verifyLevelDb (dir: string, options: { tablesToo?: boolean } = {}): string[] {
  const problems: string[] = []
  const current = join(dir, 'CURRENT')
  if (!existsSync(current)) return ['CURRENT is missing']
  const text = readFileSync(current, 'latin1')
  const m = /^(MANIFEST-\d+)\n$/.exec(text)
  if (m === null) problems.push('CURRENT does not name a MANIFEST file')
  else if (!existsSync(join(dir, m[1]))) problems.push(`CURRENT names ${m[1]}, which is missing`)
  // Only the tables the MANIFEST lists: a compaction cut short by a close leaves a partial
  // table that LevelDB never reads and deletes at its next open.
  const live = options.tablesToo !== false && m !== null && problems.length === 0 ? liveTables(join(dir, m[1])) : undefined
  for (const name of readdirSync(dir).sort()) {
    const isLog = /^MANIFEST-\d+$/.test(name) || /^\d+\.log$/.test(name)
    const isTable = /^\d+\.(ldb|sst)$/.test(name) && (live === undefined || live.has(Number(name.split('.')[0])))
    if (!isLog && !(isTable && options.tablesToo !== false)) continue
    try {
      const p = isLog ? checkLog(join(dir, name)) : checkTable(join(dir, name))
      if (p !== undefined) problems.push(`${name}: ${p}`)
    } catch (err) {
      problems.push(`${name}: ${(err as Error).message}`)
    }
  }
  return problems
}

const LOG_BLOCK = 32768
const LOG_HEADER = 7

/** The first bad record of a log file, if any. A record cut short by the end of the file is a torn tail (a crash while writing), not damage. */
function checkLog (path: string): string | undefined {
  const data = readFileSync(path)
  for (let block = 0; block < data.length; block += LOG_BLOCK) {
    const end = Math.min(block + LOG_BLOCK, data.length)
    let pos = block
    while (end - pos >= LOG_HEADER) {
      const length = data.readUInt16LE(pos + 4)
      const type = data[pos + 6]
      if (type === 0 && length === 0 && data.readUInt32LE(pos) === 0) break // zeros: the rest of the block is padding
      if (pos + LOG_HEADER + length > end) {
        if (end === data.length) return undefined // torn tail
        return `record at offset ${pos} runs past its block`
      }
      if (type < 1 || type > 4) return `record at offset ${pos} has an unknown type ${type}`
      const crc = unmask(data.readUInt32LE(pos))
      if (crc32c(data.subarray(pos + 6, pos + LOG_HEADER + length)) !== crc) return `record at offset ${pos} fails its checksum`
      pos += LOG_HEADER + length
    }
  }
  return undefined
}

/**
 * The table numbers the MANIFEST's version edits leave live (LevelDB's version_edit.cc: tag
 * varint32, then per tag 1 comparator (length-prefixed), 2/3/4/9 log, next file, last sequence,
 * previous log (varint64), 5 compaction pointer (level, length-prefixed key), 6 deleted file
 * (level, number), 7 new file (level, number, size, smallest and largest keys)). Undefined when
 * the MANIFEST cannot be read so: then every table is checked.
 */
function liveTables (manifest: string): Set<number> | undefined {
  try {
    const live = new Set<number>()
    for (const edit of logRecords(readFileSync(manifest))) {
      let pos = 0
      const skipBytes = (): void => { const [n, a] = varint(edit, pos); pos = a + n }
      const next = (): number => { const [v, a] = varint(edit, pos); pos = a; return v }
      while (pos < edit.length) {
        const tag = next()
        if (tag === 1) skipBytes()
        else if (tag === 2 || tag === 3 || tag === 4 || tag === 9) next()
        else if (tag === 5) { next(); skipBytes() }
        else if (tag === 6) { next(); live.delete(next()) }
        else if (tag === 7) { next(); live.add(next()); next(); skipBytes(); skipBytes() }
        else return undefined
      }
      if (pos !== edit.length) return undefined
    }
    return live
  } catch {
    return undefined
  }
}

/** The records of a LevelDB log, fragments joined (types 1 full, 2 first, 3 middle, 4 last); a torn tail ends it. */
function * logRecords (data: Buffer): Generator<Buffer> {
  let parts: Buffer[] = []
  for (let block = 0; block < data.length; block += LOG_BLOCK) {
    const end = Math.min(block + LOG_BLOCK, data.length)
    let pos = block
    while (end - pos >= LOG_HEADER) {
      const length = data.readUInt16LE(pos + 4)
      const type = data[pos + 6]
      if (type === 0 || pos + LOG_HEADER + length > end) break
      const body = data.subarray(pos + LOG_HEADER, pos + LOG_HEADER + length)
      if (type === 1) yield body
      else if (type === 2) parts = [body]
      else if (type === 3) parts.push(body)
      else if (type === 4) { parts.push(body); yield Buffer.concat(parts); parts = [] }
      pos += LOG_HEADER + length
    }
  }
}

const TABLE_MAGIC = 0xdb4775248b80fb57n
const FOOTER = 48

interface Handle { offset: number, size: number }

/** The first bad block of a table file, if any: footer, index, metaindex and every block they point to. */
function checkTable (path: string): string | undefined {
  const fd = openSync(path, 'r')
  try {
    const size = fstatSync(fd).size
    if (size < FOOTER) return `${size} bytes, shorter than a table's footer`
    const footer = readAt(fd, size - FOOTER, FOOTER)
    if (footer.readBigUInt64LE(40) !== TABLE_MAGIC) return 'the footer does not end in the table magic'
    let pos = 0
    const handle = (): Handle => {
      const [offset, a] = varint(footer, pos); const [sz, b] = varint(footer, a); pos = b
      return { offset, size: sz }
    }
    const metaindex = handle()
    const index = handle()
    if (footer.subarray(pos, 40).some(b => b !== 0)) return "the footer's padding is not zero"
    const seen: string[] = []
    const block = (h: Handle, what: string): Buffer | undefined => {
      if (h.offset + h.size + 5 > size - FOOTER) { seen.push(`${what} at offset ${h.offset} lies past the end of the file`); return undefined }
      const raw = readAt(fd, h.offset, h.size + 5)
      const type = raw[h.size]
      if (crc32c(raw.subarray(0, h.size + 1)) !== unmask(raw.readUInt32LE(h.size + 1))) { seen.push(`${what} at offset ${h.offset} fails its checksum`); return undefined }
      if (type === 0) return raw.subarray(0, h.size)
      if (type === 1) return snappyDecompress(raw.subarray(0, h.size))
      seen.push(`${what} at offset ${h.offset} has an unknown compression ${type}`)
      return undefined
    }
    for (const [what, h] of [['metaindex block', metaindex], ['index block', index]] as const) {
      const contents = block(h, what)
      if (contents === undefined) continue
      for (const value of blockValues(contents)) {
        const [offset, a] = varint(value, 0); const [sz] = varint(value, a)
        block({ offset, size: sz }, what === 'index block' ? 'data block' : 'meta block')
        if (seen.length > 0) break
      }
    }
    return seen[0]
  } finally {
    closeSync(fd)
  }
}

/** The values of a block's entries (keys are prefix-compressed; only the values are needed here). */
function * blockValues (b: Buffer): Generator<Buffer> {
  if (b.length < 4) throw new StoreCorruptError('a block shorter than its restart count')
  const restarts = b.readUInt32LE(b.length - 4)
  const limit = b.length - 4 * (restarts + 1)
  if (limit < 0) throw new StoreCorruptError('a block whose restart array does not fit')
  for (let pos = 0; pos < limit;) {
    const [, a] = varint(b, pos); const [nonShared, c] = varint(b, a); const [valueLength, d] = varint(b, c)
    const start = d + nonShared
    if (start + valueLength > limit) throw new StoreCorruptError('a block entry runs past its block')
    yield b.subarray(start, start + valueLength)
    pos = start + valueLength
  }
}

function readAt (fd: number, position: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length)
  let got = 0
  while (got < length) {
    const n = readSync(fd, out, got, length - got, position + got)
    if (n === 0) throw new StoreCorruptError(`ends at ${position + got}, before ${length} bytes at offset ${position} could be read`)
    got += n
  }
  return out
}

function varint (b: Buffer, pos: number): [number, number] {
  let v = 0
  for (let shift = 0; ; shift += 7) {
    if (pos >= b.length || shift > 63) throw new StoreCorruptError('a malformed number')
    const x = b[pos++]
    v += (x & 0x7f) * 2 ** shift
    if ((x & 0x80) === 0) return [v, pos]
  }
}

/** Snappy's raw format (LevelDB's block compression): a varint length, then literals and back-references. */
function snappyDecompress (src: Buffer): Buffer {
  let [length, pos] = varint(src, 0)
  const out = Buffer.alloc(length)
  let o = 0
  while (pos < src.length) {
    const tag = src[pos++]
    let len: number
    let offset: number
    switch (tag & 3) {
      case 0: {
        len = tag >> 2
        if (len >= 60) { const n = len - 59; len = src.readUIntLE(pos, n); pos += n }
        len += 1
        if (pos + len > src.length || o + len > length) throw new StoreCorruptError('a snappy literal runs past its end')
        src.copy(out, o, pos, pos + len)
        pos += len; o += len
        continue
      }
      case 1: len = ((tag >> 2) & 7) + 4; offset = ((tag >> 5) << 8) | src[pos]; pos += 1; break
      case 2: len = (tag >> 2) + 1; offset = src.readUInt16LE(pos); pos += 2; break
      default: len = (tag >> 2) + 1; offset = src.readUInt32LE(pos); pos += 4; break
    }
    if (offset === 0 || offset > o || o + len > length) throw new StoreCorruptError('a snappy copy points outside its output')
    for (let i = 0; i < len; i++, o++) out[o] = out[o - offset]
  }
  if (o !== length) throw new StoreCorruptError('snappy output shorter than its stated length')
  return out
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256)
  for (let i = 0; i < 256; i++) {
    let c = i
    for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
    t[i] = c >>> 0
  }
  return t
})()

/** CRC-32C (Castagnoli), as LevelDB computes it. */
export function crc32c (b: Uint8Array): number {
  let c = 0xffffffff
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

/** LevelDB stores its CRCs masked (rotated and offset), so that a CRC of data holding CRCs stays sound. */
function unmask (masked: number): number {
  const rot = (masked - 0xa282ead8) >>> 0
  return ((rot >>> 17) | (rot << 15)) >>> 0
}
