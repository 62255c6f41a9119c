// Chunk boundaries for F1: FastCDC (Xia et al., USENIX ATC 2016; IEEE TPDS 2020) with
// normalised chunking, and a fixed-size cutter for `--chunker fixed:SIZE`.
//
// The hot loop stays in int32 arithmetic (`| 0`) on a Uint8Array and an Int32Array: a
// `>>> 0` (uint32) variant was measured to fall to a quarter of the speed once V8
// de-optimised it. Tests must not assert speed; measure it by hand when touching `scan`.
import { createHmac } from 'node:crypto'

/** Finds chunk boundaries. Stateless between calls: FastCDC resets its hash at every chunk start. */
export interface Cutter {
  readonly min: number
  readonly max: number
  /** Length of the next chunk starting at buf[start], looking at buf[start..end).
   *  Returns 0 when more data is needed (no cut found, fewer than `max` bytes available and !eof).
   *  At eof, returns at most end-start (the tail is one chunk even if shorter than min). Never returns 0 when end>start and eof.
   *  The result depends only on the bytes of the chunk, never on how much lies beyond it, so
   *  feeding data in pieces gives the same cuts as one buffer. Each call rescans from
   *  start+min, so callers should offer at least `max` bytes whenever they can. */
  next (buf: Uint8Array, start: number, end: number, eof: boolean): number
}

/** Sizes allowed by `--chunker fixed:SIZE`: 4 KiB, 128 KiB, 256 KiB, 512 KiB, 1 MiB. */
export const FIXED_SIZES: readonly number[] = Object.freeze([4 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20])

export const DEFAULT_CDC: { min: number, avg: number, max: number } = Object.freeze({ min: 256 << 10, avg: 1 << 20, max: 4 << 20 })

/** Bounds for FastCDC options. The ceiling exists because a chunk is held, compressed and sealed whole in memory. */
const MIN_CHUNK_FLOOR = 64
const MAX_CHUNK_CEILING = 64 << 20

const GEAR_LABEL = 'cairn/gear/v1'
const GEAR_SEED_MIN_BYTES = 16

/** 256 gear values derived from a secret seed (so chunk boundaries don't fingerprint content across stores). */
export function gearTable (seed: Uint8Array): Int32Array {
  if (!(seed instanceof Uint8Array) || seed.length < GEAR_SEED_MIN_BYTES) {
    throw new RangeError(`gear seed must be at least ${GEAR_SEED_MIN_BYTES} secret bytes`)
  }
  // HMAC-SHA256 keyed by the seed, in counter mode: block i = HMAC(seed, label || 0x00 || u32be(i)).
  // Each 32-byte block gives 8 big-endian int32 values; 32 blocks fill the table.
  const table = new Int32Array(256)
  const label = Buffer.from(GEAR_LABEL, 'utf8')
  const msg = Buffer.alloc(label.length + 5)
  label.copy(msg, 0)
  for (let block = 0; block < 32; block++) {
    msg.writeUInt32BE(block, label.length + 1)
    const digest = createHmac('sha256', seed).update(msg).digest()
    for (let j = 0; j < 8; j++) table[block * 8 + j] = digest.readInt32BE(j * 4)
  }
  return table
}

/**
 * A mask with `bits` one-bits spread evenly over the 32-bit hash, top bit included. With
 * `h = (h << 1) + gear[b]`, bit k of h depends on the last k+1 bytes, so spreading the bits
 * (as the paper's masks do) makes a cut depend on a wider window than packing them low.
 */
function spreadMask (bits: number): number {
  let mask = 0
  for (let k = 0; k < bits; k++) mask |= 1 << (31 - Math.floor(k * 32 / bits))
  return mask
}

function checkSize (name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < MIN_CHUNK_FLOOR || value > MAX_CHUNK_CEILING) {
    throw new RangeError(`FastCDC ${name} must be an integer from ${MIN_CHUNK_FLOOR} to ${MAX_CHUNK_CEILING} bytes, got ${String(value)}`)
  }
}

/**
 * The hot loop: hashes buf[hashFrom..limit) from h = 0 and returns the index of the first byte
 * at or after `checkFrom` whose hash has no 1-bit under `mask`, or `limit` when none does.
 * Kept small, with one shape of loop and all state in arguments, so that V8's first optimised
 * version has type feedback for every operation: a cold path without feedback de-optimises it
 * and the rest of a multi-megabyte scan then runs in the interpreter.
 */
function scan (buf: Uint8Array, gear: Int32Array, hashFrom: number, checkFrom: number, limit: number, mask: number): number {
  let h = 0
  let i = hashFrom
  for (; i < checkFrom; i++) h = ((h << 1) + gear[buf[i]]) | 0
  for (; i < limit; i++) {
    h = ((h << 1) + gear[buf[i]]) | 0
    if ((h & mask) === 0) return i
  }
  return limit
}

/** Bytes a hash value depends on: with `h << 1` in 32 bits, older bytes are shifted out. */
const HASH_WINDOW = 32

export function fastCdc (gear: Int32Array, options: { min: number, avg: number, max: number }): Cutter {
  if (!(gear instanceof Int32Array) || gear.length !== 256) {
    throw new RangeError('FastCDC needs a gear table of 256 int32 values (see gearTable)')
  }
  const { min, avg, max } = options
  checkSize('min', min)
  checkSize('avg', avg)
  checkSize('max', max)
  if (!(min < avg && avg < max)) {
    throw new RangeError(`FastCDC sizes must satisfy min < avg < max, got ${min} / ${avg} / ${max}`)
  }
  // Normalised chunking, level 2: below avg the mask has two more one-bits than log2(avg)
  // (cuts are 4x rarer), above it two fewer (4x likelier), which pulls sizes towards avg.
  // The switch happens at avg itself; the bit count only sets how far chunks run past it, so
  // rounding log2 down keeps the mean chunk near avg (about 1.15 avg on random data with
  // min = avg/4) whether or not avg is a power of two.
  const bits = Math.floor(Math.log2(avg))
  const maskS = spreadMask(bits + 2)
  const maskL = spreadMask(bits - 2)
  // Private copy, so a caller mutating its table cannot change boundaries under us.
  const g = Int32Array.from(gear)

  function next (buf: Uint8Array, start: number, end: number, eof: boolean): number {
    const avail = end - start
    if (avail <= min) return eof && avail > 0 ? avail : 0
    const limit = avail >= max ? start + max : end
    const normal = start + avg < limit ? start + avg : limit
    // Cut-point skipping: no cut can fall before min, so hashing starts there. The chunk
    // ends after the byte that makes the hash match, so the shortest chunk is min bytes.
    const from = start + min - 1
    let at = scan(buf, g, from, from, normal, maskS)
    if (at === normal && normal < limit) {
      // Past avg the looser mask applies. Rather than carry the hash across, rebuild it from
      // the bytes still inside its window; the result is the same as one continuous pass.
      const rehash = normal - (HASH_WINDOW - 1)
      at = scan(buf, g, rehash > from ? rehash : from, normal, limit, maskL)
    }
    if (at < limit) return at + 1 - start
    return limit - start === max || eof ? limit - start : 0
  }

  return { min, max, next }
}

export function fixedCutter (size: number): Cutter {
  if (!FIXED_SIZES.includes(size)) {
    throw new RangeError(`fixed chunk size must be one of ${FIXED_SIZES.join(', ')} bytes, got ${String(size)}`)
  }
  function next (_buf: Uint8Array, start: number, end: number, eof: boolean): number {
    const avail = end - start
    if (avail >= size) return size
    return eof ? avail : 0
  }
  return { min: size, max: size, next }
}
