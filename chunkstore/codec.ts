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
 *   0xC1 | suite id (1 byte) | suite.seal(key, nonce, envelope)
 *   envelope = 0x00 | plaintext          (stored raw)
 *            | 0x01 | zstd frame          (compressed)
 *
 * key and nonce = HMAC-SHA512(dataKey, id) where id = HMAC-SHA256(idKey, plaintext).
 * The address is CIDv1(raw, sha2-256) of the whole sealed block.
 */
export const BLOCK_VERSION = 0xC1
const RAW = 0
const ZSTD = 1
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
    return chunkId(this.keys, plaintext)
  }

  /** Seals `plaintext` whose chunk id is `id` (from `idOf`). */
  seal (plaintext: Uint8Array, id: Uint8Array = this.idOf(plaintext)): SealedBlock {
    let envelope: Uint8Array | undefined
    if (this.level !== 0 && plaintext.length >= 64) {
      const z = this.compressor.compress(plaintext)
      // Keep it raw unless zstd saves at least 1/64: raw blocks restore without a decompress.
      if (z.length < plaintext.length - (plaintext.length >> 6)) {
        envelope = Buffer.allocUnsafe(z.length + 1)
        envelope[0] = ZSTD
        envelope.set(z, 1)
      }
    }
    if (envelope === undefined) {
      envelope = Buffer.allocUnsafe(plaintext.length + 1)
      envelope[0] = RAW
      envelope.set(plaintext, 1)
    }
    const { key, nonce } = blockKeyNonce(this.keys, id, this.suite.nonceLength)
    const sealed = this.suite.seal(key, nonce, envelope)
    const bytes = Buffer.allocUnsafe(sealed.length + 2)
    bytes[0] = BLOCK_VERSION
    bytes[1] = this.suite.id
    bytes.set(sealed, 2)
    return { id, cid: cidOf(bytes), bytes }
  }

  /** Opens a sealed block given its chunk id; throws CorruptBlockError if it does not authenticate. */
  open (bytes: Uint8Array, id: Uint8Array, cid?: CID): Buffer {
    return openBlock(this.keys, bytes, id, cid, this.decompressor)
  }
}

export function openBlock (keys: SpaceKeys, bytes: Uint8Array, id: Uint8Array, cid?: CID, decompressor = new Decompressor()): Buffer {
  const name = cid?.toString() ?? 'block'
  if (bytes.length < 2 || bytes[0] !== BLOCK_VERSION) throw new CorruptBlockError(name, 'unknown block format')
  const suite = suites.get(bytes[1])
  if (suite === undefined) throw new CorruptBlockError(name, `unknown cipher suite ${bytes[1]}`)
  const { key, nonce } = blockKeyNonce(keys, id, suite.nonceLength)
  let envelope: Uint8Array
  try {
    envelope = suite.open(key, nonce, bytes.subarray(2))
  } catch (err) {
    if (err instanceof DecryptionError) throw new CorruptBlockError(name, 'it does not authenticate', { cause: err })
    throw err
  }
  if (envelope[0] === RAW) return Buffer.from(envelope.buffer, envelope.byteOffset + 1, envelope.length - 1)
  if (envelope[0] === ZSTD) return decompressor.decompress(envelope.subarray(1))
  throw new CorruptBlockError(name, 'unknown envelope type')
}
