import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { Compressor, Decompressor } from 'zstd-napi'
import { blockKeyNonce, chunkId, DecryptionError, xsalsa20Poly1305 } from '../crypto/index.ts'
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
const RAW_CODEC = 0x55
const SHA2_256 = 0x12

export interface SealedBlock {
  id: Uint8Array
  cid: CID
  bytes: Uint8Array
}

const suites = new Map<number, CipherSuite>([[xsalsa20Poly1305.id, xsalsa20Poly1305]])

/** Makes a suite available to `openBlock` (the keys issue registers AES-GCM and SM4). */
export function registerSuite (suite: CipherSuite): void {
  suites.set(suite.id, suite)
}

export function suiteByName (name: string): CipherSuite | undefined {
  return [...suites.values()].find(s => s.name === name)
}

export function cidOf (bytes: Uint8Array): CID {
  return CID.createV1(RAW_CODEC, Digest.create(SHA2_256, createHash('sha256').update(bytes).digest()))
}

/** True when `bytes` hash to `cid` (a raw, sha2-256 CIDv1). */
export function matchesCid (cid: CID, bytes: Uint8Array): boolean {
  if (cid.multihash.code !== SHA2_256) return false
  return Buffer.from(cid.multihash.digest).equals(createHash('sha256').update(bytes).digest())
}

/** Compresses and seals plaintext blocks; holds a reusable zstd context, so one per thread. */
export class BlockSealer {
  private readonly compressor = new Compressor()
  private readonly decompressor = new Decompressor()

  constructor (readonly keys: SpaceKeys, readonly suite: CipherSuite, readonly level: number) {
    if (level !== 0) this.compressor.setParameters({ compressionLevel: level })
  }

  idOf (plaintext: Uint8Array): Uint8Array {
    // A compact copy: digests are views into Node's 8 KiB buffer pool, and posting such a
    // view to another thread clones (and the receiver then keeps) the whole pool slab.
    return new Uint8Array(chunkId(this.keys, plaintext))
  }

  /** Seals `plaintext` whose chunk id is `id` (from `idOf`). */
  seal (plaintext: Uint8Array, id: Uint8Array = this.idOf(plaintext)): SealedBlock {
    let body = plaintext
    let kind = RAW
    if (this.level !== 0 && plaintext.length >= 64) {
      const z = this.compressor.compress(plaintext)
      // Keep it raw unless zstd saves at least 1/64: raw blocks restore without a decompress.
      if (z.length < plaintext.length - (plaintext.length >> 6)) { body = z; kind = ZSTD }
    }
    const { key, nonce } = blockKeyNonce(this.keys, id, this.suite.nonceLength, KIND[kind])
    // Own ArrayBuffer (never the shared pool), so it can be transferred to the main thread.
    const bytes = Buffer.allocUnsafeSlow(HEADER + this.suite.overhead + body.length)
    bytes[0] = BLOCK_VERSION
    bytes[1] = this.suite.id
    bytes[2] = kind
    if (this.suite.sealInto !== undefined) this.suite.sealInto(bytes.subarray(HEADER), key, nonce, body)
    else bytes.set(this.suite.seal(key, nonce, body), HEADER)
    return { id, cid: cidOf(bytes), bytes }
  }

  /** Opens a sealed block given its chunk id; throws CorruptBlockError if it does not authenticate. */
  open (bytes: Uint8Array, id: Uint8Array, cid?: CID): Buffer {
    return openBlock(this.keys, bytes, id, cid, this.decompressor)
  }
}

export function openBlock (keys: SpaceKeys, bytes: Uint8Array, id: Uint8Array, cid?: CID, decompressor = new Decompressor()): Buffer {
  const name = cid?.toString() ?? 'block'
  if (bytes.length < HEADER || bytes[0] !== BLOCK_VERSION) throw new CorruptBlockError(name, 'unknown block format')
  const suite = suites.get(bytes[1])
  if (suite === undefined) throw new CorruptBlockError(name, `unknown cipher suite ${bytes[1]}`)
  const kind = bytes[2]
  if (kind !== RAW && kind !== ZSTD) throw new CorruptBlockError(name, 'unknown body kind')
  const { key, nonce } = blockKeyNonce(keys, id, suite.nonceLength, KIND[kind])
  let body: Uint8Array
  try {
    body = suite.open(key, nonce, bytes.subarray(HEADER))
  } catch (err) {
    if (err instanceof DecryptionError) throw new CorruptBlockError(name, 'it does not authenticate', { cause: err })
    throw err
  }
  return kind === ZSTD ? decompressor.decompress(body) : Buffer.from(body.buffer, body.byteOffset, body.length)
}
