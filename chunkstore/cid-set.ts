/**
 * A set of CIDs in flat typed arrays: 12 bytes of each CID's digest per slot, kept at most
 * three quarters full, so 16–32 bytes per CID (48 for a moment while it doubles) and two heap
 * objects in all, where a `Set` of latin1 keys costs about 100 bytes and a string per CID (a
 * 10-million-block store's mark set would take over 1 GiB; SPEC N4: 10 million blocks in under
 * 512 MiB). Prune marks live blocks in one, check the blocks it has visited.
 *
 * Two CIDs whose digests agree in the 96 bits kept count as one (CIDs are SHA-256 digests:
 * about one chance in 10^15 over 10 million blocks). Prune then keeps a dead block, check
 * skips a block it counted already; neither loses data.
 */
const WORDS = 3
const MIN_SLOTS = 1 << 10

export class CidSet {
  private slots: Uint32Array
  private mask: number
  private count = 0

  constructor (expected = 0) {
    let n = MIN_SLOTS
    while (n * 3 < expected * 4) n *= 2
    this.slots = new Uint32Array(n * WORDS)
    this.mask = n - 1
  }

  get size (): number { return this.count }

  /** Bytes of the arrays (what the set costs, beside a few words). */
  get byteLength (): number { return this.slots.byteLength }

  /** Adds `cid` (its bytes); false when it was there already. */
  add (cid: Uint8Array): boolean {
    const [a, b, c] = fingerprint(cid)
    let i = this.find(a, b, c)
    if (this.slots[i * WORDS] !== 0) return false
    if ((this.count + 1) * 4 > (this.mask + 1) * 3) {
      this.grow()
      i = this.find(a, b, c)
    }
    const o = i * WORDS
    this.slots[o] = a; this.slots[o + 1] = b; this.slots[o + 2] = c
    this.count++
    return true
  }

  has (cid: Uint8Array): boolean {
    const [a, b, c] = fingerprint(cid)
    return this.slots[this.find(a, b, c) * WORDS] !== 0
  }

  /** The slot holding (a, b, c), or the empty slot where it would go (linear probing). */
  private find (a: number, b: number, c: number): number {
    const s = this.slots
    for (let i = (b ^ c) & this.mask; ; i = (i + 1) & this.mask) {
      const o = i * WORDS
      if (s[o] === 0 || (s[o] === a && s[o + 1] === b && s[o + 2] === c)) return i
    }
  }

  private grow (): void {
    const old = this.slots
    this.slots = new Uint32Array(old.length * 2)
    this.mask = this.mask * 2 + 1
    for (let o = 0; o < old.length; o += WORDS) {
      if (old[o] === 0) continue
      const i = this.find(old[o], old[o + 1], old[o + 2]) * WORDS
      this.slots[i] = old[o]; this.slots[i + 1] = old[o + 1]; this.slots[i + 2] = old[o + 2]
    }
  }
}

const fp = new Uint32Array(WORDS)

/** The last 12 bytes of the CID (its digest's tail), the first word never 0 (0 marks an empty slot). */
function fingerprint (cid: Uint8Array): Uint32Array {
  const e = cid.length
  const word = (at: number): number => (cid[at] | (cid[at + 1] << 8) | (cid[at + 2] << 16) | (cid[at + 3] << 24)) >>> 0
  fp[0] = (word(e - 12) | 1) >>> 0
  fp[1] = word(e - 8)
  fp[2] = word(e - 4)
  return fp
}
