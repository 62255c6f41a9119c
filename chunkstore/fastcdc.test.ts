import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createCipheriv, createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { DEFAULT_CDC, FIXED_SIZES, fastCdc, fixedCutter, gearTable, type Cutter } from './fastcdc.ts'

const KiB = 1024
const MiB = 1024 * KiB
const SMALL = { min: 2 * KiB, avg: 8 * KiB, max: 64 * KiB }

/** Deterministic pseudo-random bytes: AES-256-CTR keystream (zero IV) under a key named by `label`. */
function pseudoRandom (length: number, label: string): Uint8Array {
  const key = label === '' ? Buffer.alloc(32) : createHash('sha256').update(label).digest()
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
  return new Uint8Array(cipher.update(Buffer.alloc(length)))
}

function seed (byte: number): Uint8Array {
  return new Uint8Array(32).fill(byte)
}

/** Chunk lengths of `data` given all at once. */
function lengths (cutter: Cutter, data: Uint8Array): number[] {
  const out: number[] = []
  for (let start = 0; start < data.length;) {
    const n = cutter.next(data, start, data.length, true)
    assert.ok(n > 0 && n <= data.length - start, `bad length ${n} at ${start}`)
    out.push(n)
    start += n
  }
  return out
}

/** Chunk lengths of `data` offered in pieces of `pieceSize()` bytes, each call seeing only what has arrived. */
function streamedLengths (cutter: Cutter, data: Uint8Array, pieceSize: () => number): number[] {
  const out: number[] = []
  let start = 0
  let fed = 0
  while (start < data.length) {
    const eof = fed === data.length
    // A view that ends where the fed data ends, so reading past `end` cannot go unnoticed.
    const n = cutter.next(data.subarray(0, fed), start, fed, eof)
    if (n === 0) {
      assert.ok(!eof && fed - start < cutter.max, `asked for more data with ${fed - start} bytes available`)
      fed = Math.min(data.length, fed + pieceSize())
      continue
    }
    assert.ok(n <= fed - start)
    out.push(n)
    start += n
  }
  return out
}

/** A literal transcription of FastCDC (2020, algorithm 2) with one continuous hash, to check the real cutter against. */
function referenceLengths (gear: Int32Array, options: { min: number, avg: number, max: number }, data: Uint8Array): number[] {
  const spread = (bits: number): number => {
    let mask = 0
    for (let k = 0; k < bits; k++) mask |= 1 << (31 - Math.floor(k * 32 / bits))
    return mask
  }
  const bits = Math.floor(Math.log2(options.avg))
  const maskS = spread(bits + 2)
  const maskL = spread(bits - 2)
  const out: number[] = []
  for (let start = 0; start < data.length;) {
    const n = Math.min(options.max, data.length - start)
    let len = n
    if (n > options.min) {
      const normal = Math.min(options.avg, n)
      let h = 0
      for (let i = options.min - 1; i < n; i++) {
        h = ((h << 1) + gear[data[start + i]]) | 0
        if ((h & (i < normal ? maskS : maskL)) === 0) { len = i + 1; break }
      }
    }
    out.push(len)
    start += len
  }
  return out
}

function sum (xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0)
}

test('gearTable is deterministic, seed-dependent and rejects short seeds', () => {
  const a = gearTable(seed(0))
  assert.equal(a.length, 256)
  assert.deepEqual(gearTable(seed(0)), a)
  assert.notDeepEqual(gearTable(seed(1)), a)
  assert.equal(new Set(a).size, 256)
  assert.throws(() => gearTable(new Uint8Array(8)), RangeError)
})

test('fastCdc validates its options', () => {
  const gear = gearTable(seed(0))
  for (const bad of [
    { min: 8 * KiB, avg: 8 * KiB, max: 64 * KiB },
    { min: 2 * KiB, avg: 64 * KiB, max: 64 * KiB },
    { min: 16 * KiB, avg: 8 * KiB, max: 64 * KiB },
    { min: 2 * KiB, avg: 8 * KiB + 0.5, max: 64 * KiB },
    { min: 16, avg: 8 * KiB, max: 64 * KiB },
    { min: 2 * KiB, avg: 8 * KiB, max: 1024 * MiB },
    { min: Number.NaN, avg: 8 * KiB, max: 64 * KiB }
  ]) {
    assert.throws(() => fastCdc(gear, bad), RangeError, JSON.stringify(bad))
  }
  assert.throws(() => fastCdc(new Int32Array(255), SMALL), RangeError)
  assert.throws(() => fastCdc(gear, { min: 8 * KiB, avg: 4 * KiB, max: 64 * KiB }), /min < avg < max/)
})

test('fastCdc is deterministic and respects min and max', () => {
  const data = pseudoRandom(4 * MiB, 'bounds')
  const cut = fastCdc(gearTable(seed(0)), SMALL)
  const a = lengths(cut, data)
  assert.deepEqual(lengths(fastCdc(gearTable(seed(0)), SMALL), data), a)
  assert.equal(sum(a), data.length)
  for (const n of a.slice(0, -1)) assert.ok(n >= SMALL.min && n <= SMALL.max, `chunk of ${n} bytes`)
  assert.ok(a[a.length - 1] <= SMALL.max)
})

test('fastCdc matches a one-pass transcription of the algorithm', () => {
  const gear = gearTable(seed(7))
  const data = pseudoRandom(2 * MiB, 'reference')
  for (const options of [SMALL, { min: 64, avg: 100, max: 1000 }, { min: 4 * KiB, avg: 12000, max: 20 * KiB }]) {
    assert.deepEqual(lengths(fastCdc(gear, options), data), referenceLengths(gear, options, data), JSON.stringify(options))
  }
})

test('fastCdc on zeros cuts every max bytes and keeps a short tail', () => {
  const data = new Uint8Array(10 * SMALL.max + 100)
  const a = lengths(fastCdc(gearTable(seed(0)), SMALL), data)
  assert.deepEqual(a, [...Array(10).fill(SMALL.max), 100])
})

test('fastCdc: short input and the tail at eof', () => {
  const cut = fastCdc(gearTable(seed(0)), SMALL)
  const data = pseudoRandom(100, 'tail')
  assert.equal(cut.next(data, 0, 100, false), 0)
  assert.equal(cut.next(data, 0, 100, true), 100)
  assert.equal(cut.next(data, 40, 100, true), 60)
  assert.equal(cut.next(data, 100, 100, true), 0)
  assert.equal(cut.next(data, 100, 100, false), 0)
})

test('fastCdc gives the same cuts when data arrives in small pieces', () => {
  const data = pseudoRandom(3 * MiB, 'stream')
  const rng = pseudoRandom(1 << 16, 'piece sizes')
  let r = 0
  const cut = fastCdc(gearTable(seed(3)), SMALL)
  const whole = lengths(cut, data)
  // Pieces of 1..256 bytes make every call see a different `end`; larger ones cover the usual case.
  assert.deepEqual(streamedLengths(cut, data.subarray(0, 256 * KiB), () => 1 + rng[r++ % rng.length]), lengths(cut, data.subarray(0, 256 * KiB)))
  assert.deepEqual(streamedLengths(cut, data, () => 1 + ((rng[r++ % rng.length] << 8) | rng[r++ % rng.length])), whole)
})

test('fastCdc: inserting 64 KiB into 64 MiB changes only the chunks around it', () => {
  const cut = fastCdc(gearTable(seed(0)), DEFAULT_CDC)
  const data = pseudoRandom(64 * MiB, 'shift')
  const edited = new Uint8Array(data.length + 64 * KiB)
  edited.set(data.subarray(0, 32 * MiB))
  edited.set(pseudoRandom(64 * KiB, 'insert'), 32 * MiB)
  edited.set(data.subarray(32 * MiB), 32 * MiB + 64 * KiB)
  const ids = (buf: Uint8Array): string[] => {
    const out: string[] = []
    let start = 0
    for (const n of lengths(cut, buf)) {
      out.push(createHash('sha256').update(buf.subarray(start, start + n)).digest('hex'))
      start += n
    }
    return out
  }
  const before = ids(data)
  const after = ids(edited)
  const known = new Set(before)
  const fresh = after.filter(id => !known.has(id)).length
  assert.ok(before.length >= 40, `${before.length} chunks`)
  assert.ok(fresh >= 1 && fresh <= 3, `${fresh} of ${after.length} chunks changed`)

  // The defaults need this much data for a meaningful mean, so it is checked here.
  const mean = data.length / before.length
  assert.ok(Math.abs(mean - DEFAULT_CDC.avg) <= DEFAULT_CDC.avg / 4, `mean ${mean} for avg ${DEFAULT_CDC.avg}`)
})

test('fastCdc average chunk size is within 25% of avg on random data', () => {
  const data = pseudoRandom(16 * MiB, 'average')
  const gear = gearTable(seed(0))
  for (const options of [SMALL, { min: 16 * KiB, avg: 48 * KiB, max: 256 * KiB }, { min: 256, avg: 1000, max: 8000 }]) {
    const a = lengths(fastCdc(gear, options), data)
    const mean = data.length / a.length
    assert.ok(Math.abs(mean - options.avg) <= options.avg / 4, `mean ${Math.round(mean)} for ${JSON.stringify(options)}`)
  }
})

test('fastCdc boundaries depend on the seed', () => {
  const data = pseudoRandom(4 * MiB, 'seeds')
  const offsets = (s: Uint8Array): Set<number> => {
    const out = new Set<number>()
    let at = 0
    for (const n of lengths(fastCdc(gearTable(s), SMALL), data)) out.add(at += n)
    return out
  }
  const a = offsets(seed(0))
  const b = offsets(seed(1))
  const shared = [...a].filter(x => b.has(x)).length
  // Only the end of the data, and the odd coincidence, may be shared.
  assert.ok(shared < a.size / 10, `${shared} of ${a.size} boundaries shared`)
})

test('fixedCutter cuts exactly and validates its size', () => {
  for (const size of FIXED_SIZES) {
    const cut = fixedCutter(size)
    assert.equal(cut.min, size)
    assert.equal(cut.max, size)
    const data = new Uint8Array(3 * size + 5)
    assert.deepEqual(lengths(cut, data), [size, size, size, 5])
    assert.equal(cut.next(data, 0, size - 1, false), 0)
    assert.equal(cut.next(data, 0, size, false), size)
  }
  assert.deepEqual(FIXED_SIZES, [4 * KiB, 128 * KiB, 256 * KiB, 512 * KiB, MiB])
  assert.throws(() => fixedCutter(4097), (err: unknown) => err instanceof RangeError && err.message.includes('4096, 131072, 262144, 524288, 1048576'))
  assert.throws(() => fixedCutter(0), RangeError)
})

test('DEFAULT_CDC is 256 KiB / 1 MiB / 4 MiB', () => {
  assert.deepEqual({ ...DEFAULT_CDC }, { min: 256 * KiB, avg: MiB, max: 4 * MiB })
})

/** SHA-256 of the gear table as 256 big-endian int32 values. */
function gearDigest (gear: Int32Array): string {
  const bytes = Buffer.alloc(gear.length * 4)
  gear.forEach((v, i) => bytes.writeInt32BE(v, i * 4))
  return createHash('sha256').update(bytes).digest('hex')
}

interface Golden {
  gearSha256: string
  cases: Array<{ options: { min: number, avg: number, max: number }, inputBytes: number, lengths: number[] }>
}

test('golden: chunk lengths of a fixed input have not changed', () => {
  const golden = JSON.parse(readFileSync(new URL('./testdata/fastcdc-golden.json', import.meta.url), 'utf8')) as Golden
  const gear = gearTable(seed(0))
  // Checked first, so a failure says whether the gear derivation or the cutting changed.
  assert.equal(gearDigest(gear), golden.gearSha256, 'gear table derivation changed')
  const data = pseudoRandom(16 * MiB, '')
  assert.ok(golden.cases.length >= 1)
  for (const c of golden.cases) {
    assert.deepEqual(lengths(fastCdc(gear, c.options), data.subarray(0, c.inputBytes)), c.lengths, JSON.stringify(c.options))
  }
  assert.deepEqual(golden.cases[0].options, { ...DEFAULT_CDC })
})
