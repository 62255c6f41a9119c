import { hash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { createRequire } from 'node:module'
import { aes256Gcm, blockKeyNonce, chunkId, DecryptionError, sm4, xsalsa20Poly1305 } from '../crypto/index.ts'
import type { CipherSuite, SpaceKeys } from '../crypto/index.ts'
import { CorruptBlockError } from './errors.ts'

/**
 * Sealed block format, version 1 (doc/design.md, "Sealed block"):
 *
 *   0xC1 | suite id (1 byte) | body kind (1 byte: 0 raw, 1 zstd) | suite.seal(key, nonce, body)
 *
 * key and nonce = HMAC-SHA512(dataKey, id || body kind) where id = HMAC-SHA256(idKey, plaintext),
 * so the clear body-kind byte is authenticated: flip it and the block no longer opens.
 * The address is CIDv1(raw, sha2-256) of the whole sealed block.
 */
export const BLOCK_VERSION = 0xC1
const HEADER = 3
const RAW = 0
const ZSTD = 1
const KIND = [Uint8Array.of(RAW), Uint8Array.of(ZSTD)]
// zstd-napi's low-level binding: it compresses into and decompresses into buffers we reuse,
// where its high-level classes allocate a fresh buffer per call (garbage a GC frees late).
interface ZstdBinding {
  CCtx: new () => { compress: (dst: Uint8Array, src: Uint8Array, level: number) => number }
  DCtx: new () => { decompress: (dst: Uint8Array, src: Uint8Array) => number }
  compressBound: (size: number) => number
  getFrameContentSize: (frame: Uint8Array) => number | null
}
const zstd = createRequire(import.meta.url)('zstd-napi/binding.js') as ZstdBinding
const RAW_CODEC = 0x55
const SHA2_256 = 0x12

export interface SealedBlock {
  id: Uint8Array
  cid: CID
  bytes: Uint8Array
}

const suites = new Map<number, CipherSuite>([xsalsa20Poly1305, aes256Gcm, sm4].map(s => [s.id, s]))

/** Makes a suite available to `openBlock` (the keys issue registers AES-GCM and SM4). */
export function registerSuite (suite: CipherSuite): void {
  suites.set(suite.id, suite)
}

export function suiteByName (name: string): CipherSuite | undefined {
  return [...suites.values()].find(s => s.name === name)
}

export function cidOf (bytes: Uint8Array): CID {
  return CID.createV1(RAW_CODEC, Digest.create(SHA2_256, hash('sha256', bytes, 'buffer')))
}

/** True when `bytes` hash to `cid` (a raw, sha2-256 CIDv1). */
export function matchesCid (cid: CID, bytes: Uint8Array): boolean {
  if (cid.multihash.code !== SHA2_256) return false
  // One-shot hash: no Hash object per block (replication checks tens of thousands a second).
  return hash('sha256', bytes, 'buffer').equals(cid.multihash.digest)
}

/** A buffer that grows and is then reused. */
class Scratch {
  private buf = Buffer.allocUnsafeSlow(0)
  get (size: number): Buffer {
    if (this.buf.length < size) this.buf = Buffer.allocUnsafeSlow(Math.max(size, this.buf.length * 2))
    return this.buf
  }
}

/**
 * Compresses, seals and opens blocks. Holds reusable zstd contexts and buffers, so one per
 * thread. The `…Scratch` methods return views into internal buffers that the next call
 * overwrites: for hot paths that consume the result at once (write it, hash it).
 */
export class BlockSealer {
  private readonly cctx = new zstd.CCtx()
  private readonly dctx = new zstd.DCtx()
  private readonly zbuf = new Scratch()
  private readonly sealed = new Scratch()
  private readonly opened = new Scratch()
  private readonly plain = new Scratch()

  constructor (readonly keys: SpaceKeys, readonly suite: CipherSuite, readonly level: number) {}

  idOf (plaintext: Uint8Array): Uint8Array {
    // A compact copy: digests are views into Node's 8 KiB buffer pool, and posting such a
    // view to another thread clones (and the receiver then keeps) the whole pool slab.
    return new Uint8Array(chunkId(this.keys, plaintext))
  }

  /** Seals `plaintext` whose chunk id is `id`; the bytes are the caller's to keep. */
  seal (plaintext: Uint8Array, id: Uint8Array = this.idOf(plaintext)): SealedBlock {
    const s = this.sealScratch(plaintext, id)
    return { id, cid: s.cid, bytes: Buffer.from(s.bytes) }
  }

  /** Like `seal`, but `bytes` is a view valid until the next call. */
  sealScratch (plaintext: Uint8Array, id: Uint8Array = this.idOf(plaintext)): SealedBlock {
    let body = plaintext
    let kind = RAW
    if (this.level !== 0 && plaintext.length >= 64) {
      const dst = this.zbuf.get(zstd.compressBound(plaintext.length))
      const n = this.cctx.compress(dst, plaintext, this.level)
      // Keep it raw unless zstd saves at least 1/64: raw blocks restore without a decompress.
      if (n < plaintext.length - (plaintext.length >> 6)) { body = dst.subarray(0, n); kind = ZSTD }
    }
    const { key, nonce } = blockKeyNonce(this.keys, id, this.suite.nonceLength, KIND[kind])
    const size = HEADER + this.suite.overhead + body.length
    const bytes = this.sealed.get(size).subarray(0, size)
    bytes[0] = BLOCK_VERSION
    bytes[1] = this.suite.id
    bytes[2] = kind
    if (this.suite.sealInto !== undefined) this.suite.sealInto(bytes.subarray(HEADER), key, nonce, body)
    else bytes.set(this.suite.seal(key, nonce, body), HEADER)
    return { id, cid: cidOf(bytes), bytes }
  }

  /** Opens a sealed block given its chunk id; throws CorruptBlockError if it does not authenticate. The result is the caller's. */
  open (bytes: Uint8Array, id: Uint8Array, cid?: CID): Buffer {
    return Buffer.from(this.openScratch(bytes, id, cid))
  }

  /**
   * Like `open`, but the result is a view valid until the next call. With `into` (room for at
   * least the plaintext), the plaintext is put there without a copy — a zstd body decompressed
   * into it, a raw one opened into it — and the result views `into`; when it does not fit,
   * the scratch buffer as without it. On a failure `into` may hold part of a plaintext.
   */
  openScratch (bytes: Uint8Array, id: Uint8Array, cid?: CID, into?: Buffer): Buffer {
    const { suite, kind, key, nonce } = parseHeader(this.keys, bytes, id, cid)
    const sealed = bytes.subarray(HEADER)
    let body: Uint8Array
    if (suite.openInto !== undefined) {
      const length = Math.max(0, sealed.length - suite.overhead)
      body = (kind === RAW && into !== undefined && into.length >= length ? into : this.opened.get(sealed.length)).subarray(0, length)
      if (!suite.openInto(body, key, nonce, sealed)) throw new CorruptBlockError(cid?.toString() ?? 'block', 'it does not authenticate')
    } else body = openWith(suite, key, nonce, sealed, cid)
    if (kind !== ZSTD) return Buffer.from(body.buffer, body.byteOffset, body.length)
    const size = zstd.getFrameContentSize(body)
    if (size === null || size > 256 << 20) throw new CorruptBlockError(cid?.toString() ?? 'block', 'bad zstd frame')
    const out = into !== undefined && into.length >= size ? into : this.plain.get(size)
    const n = this.dctx.decompress(out, body)
    return out.subarray(0, n)
  }
}

function parseHeader (keys: SpaceKeys, bytes: Uint8Array, id: Uint8Array, cid?: CID): { suite: CipherSuite, kind: number, key: Uint8Array, nonce: Uint8Array } {
  // The name only for an error: a CID's text per block opened cost more than its header's checks.
  const name = (): string => cid?.toString() ?? 'block'
  if (bytes.length < HEADER || bytes[0] !== BLOCK_VERSION) throw new CorruptBlockError(name(), 'unknown block format')
  const suite = suites.get(bytes[1])
  if (suite === undefined) throw new CorruptBlockError(name(), `unknown cipher suite ${bytes[1]}`)
  const kind = bytes[2]
  if (kind !== RAW && kind !== ZSTD) throw new CorruptBlockError(name(), 'unknown body kind')
  return { suite, kind, ...blockKeyNonce(keys, id, suite.nonceLength, KIND[kind]) }
}

function openWith (suite: CipherSuite, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, cid?: CID): Uint8Array {
  try {
    return suite.open(key, nonce, sealed)
  } catch (err) {
    if (err instanceof DecryptionError) throw new CorruptBlockError(cid?.toString() ?? 'block', 'it does not authenticate', { cause: err })
    throw err
  }
}
