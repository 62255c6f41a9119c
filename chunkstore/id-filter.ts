/**
 * A Bloom filter over chunk ids: "certainly not stored" without touching LevelDB, which is
 * the common answer while backing up new data. Chunk ids are keyed hashes, so their bytes
 * are already uniform and serve directly as the filter's hash functions.
 *
 * Format v1 (stored in the index under key 'F', doc/design.md): u32le capacity | u32le count | bits.
 * A false positive only costs a LevelDB lookup; the filter must never give a false negative,
 * so it is rebuilt from the index whenever it may be stale (see LocalBlockStore).
 */
const BITS_PER_ID = 10
const HASHES = 7

export class IdFilter {
  private constructor (readonly capacity: number, private count: number, private readonly bits: Uint32Array) {}

  static create (capacity: number): IdFilter {
    const cap = Math.max(1 << 16, capacity)
    return new IdFilter(cap, 0, new Uint32Array(Math.ceil(cap * BITS_PER_ID / 32)))
  }

  static decode (bytes: Uint8Array): IdFilter | undefined {
    if (bytes.length < 8) return undefined
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const capacity = view.getUint32(0, true)
    const count = view.getUint32(4, true)
    const words = Math.ceil(capacity * BITS_PER_ID / 32)
    if (bytes.length !== 8 + words * 4) return undefined
    const bits = new Uint32Array(words)
    new Uint8Array(bits.buffer).set(bytes.subarray(8))
    return new IdFilter(capacity, count, bits)
  }

  encode (): Buffer {
    const out = Buffer.allocUnsafe(8 + this.bits.byteLength)
    out.writeUInt32LE(this.capacity, 0)
    out.writeUInt32LE(this.count, 4)
    out.set(new Uint8Array(this.bits.buffer, this.bits.byteOffset, this.bits.byteLength), 8)
    return out
  }

  /** True when the filter holds more ids than it was sized for (false positives climb). */
  get full (): boolean { return this.count > this.capacity }

  get size (): number { return this.count }

  add (id: Uint8Array): void {
    const m = this.bits.length * 32
    for (let h = 0; h < HASHES; h++) {
      const bit = word(id, h) % m
      this.bits[bit >>> 5] |= 1 << (bit & 31)
    }
    this.count++
  }

  mightHave (id: Uint8Array): boolean {
    const m = this.bits.length * 32
    for (let h = 0; h < HASHES; h++) {
      const bit = word(id, h) % m
      if ((this.bits[bit >>> 5] & (1 << (bit & 31))) === 0) return false
    }
    return true
  }
}

function word (id: Uint8Array, i: number): number {
  const o = (i * 4) % (id.length - 3)
  return (id[o] | (id[o + 1] << 8) | (id[o + 2] << 16) | (id[o + 3] << 24)) >>> 0
}
