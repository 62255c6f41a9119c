import { createCipheriv, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'
import type { CipherSuite } from './cipher-suite.ts'
import { DecryptionError } from './errors.ts'

/*
 * SM4-CTR + HMAC-SM3, encrypt-then-MAC (F4, suite id 3, name 'sm4').
 *
 * Node's OpenSSL has SM4 (GB/T 32907) in CTR mode and SM3 (GB/T 32905) but no SM4-GCM, so
 * the suite composes them the standard safe way:
 *
 *   encKey = HKDF-SHA256(ikm = key, salt = "", info = "cairn sm4-ctr-hmac-sm3 v1 enc", L = 16)
 *   macKey = HKDF-SHA256(ikm = key, salt = "", info = "cairn sm4-ctr-hmac-sm3 v1 mac", L = 32)
 *   C      = SM4-CTR(encKey, IV = nonce (16 bytes, the initial 128-bit big-endian counter block), P)
 *   T      = HMAC-SM3(macKey, 0x03 || nonce || C)        (32 bytes)
 *   sealed = C || T
 *
 * - Separate keys: the cipher and the MAC never share key material, and the labels keep these
 *   keys apart from anything else derived from the same 32-byte key.
 * - The MAC covers the suite id and the nonce as well as the ciphertext; both have fixed
 *   lengths, so the MAC input parses one way only. A changed nonce or suite therefore fails
 *   authentication rather than decrypting to garbage.
 * - `open` checks the tag (constant-time compare) before decrypting anything.
 * - CTR increments the whole 128-bit counter block. Cairn derives each block's key and nonce
 *   from its keyed chunk id, so keystreams of different blocks never share a key; even under
 *   one key, random 128-bit starting counters for 2^32 chunks of up to 2^20 blocks (16 MiB)
 *   each would overlap with probability below 2^-43.
 */
const NONCE_LENGTH = 16
const TAG_LENGTH = 32
const SUITE_ID = 3
const ENC_INFO = 'cairn sm4-ctr-hmac-sm3 v1 enc'
const MAC_INFO = 'cairn sm4-ctr-hmac-sm3 v1 mac'

export const sm4: CipherSuite = {
  name: 'sm4',
  id: SUITE_ID,
  nonceLength: NONCE_LENGTH,
  overhead: TAG_LENGTH,

  seal (key, nonce, plaintext) {
    checkLengths(key, nonce)
    const { encKey, macKey } = deriveKeys(key)
    const out = new Uint8Array(plaintext.length + TAG_LENGTH)
    const body = out.subarray(0, plaintext.length)
    ctr(encKey, nonce, plaintext, body)
    out.set(tag(macKey, nonce, body), plaintext.length)
    return out
  },

  open (key, nonce, sealed) {
    checkLengths(key, nonce)
    if (sealed.length < TAG_LENGTH) throw new DecryptionError()
    const { encKey, macKey } = deriveKeys(key)
    const body = sealed.subarray(0, sealed.length - TAG_LENGTH)
    const expected = tag(macKey, nonce, body)
    if (!timingSafeEqual(expected, sealed.subarray(sealed.length - TAG_LENGTH))) throw new DecryptionError()
    const out = new Uint8Array(body.length)
    ctr(encKey, nonce, body, out)
    return out
  }
}

function deriveKeys (key: Uint8Array): { encKey: Uint8Array, macKey: Uint8Array } {
  return {
    encKey: new Uint8Array(hkdfSync('sha256', key, new Uint8Array(0), ENC_INFO, 16)),
    macKey: new Uint8Array(hkdfSync('sha256', key, new Uint8Array(0), MAC_INFO, 32))
  }
}

function tag (macKey: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  return createHmac('sm3', macKey).update(Uint8Array.of(SUITE_ID)).update(nonce).update(ciphertext).digest()
}

/** SM4-CTR keystream XOR; CTR is its own inverse, so this both encrypts and decrypts. */
function ctr (encKey: Uint8Array, nonce: Uint8Array, input: Uint8Array, output: Uint8Array): void {
  const cipher = createCipheriv('sm4-ctr', encKey, nonce)
  const head = cipher.update(input)
  output.set(head, 0)
  output.set(cipher.final(), head.length)
}

function checkLengths (key: Uint8Array, nonce: Uint8Array): void {
  if (key.length !== 32) throw new RangeError(`sm4 needs a 32-byte key, got ${key.length}`)
  if (nonce.length !== NONCE_LENGTH) throw new RangeError(`sm4 needs a ${NONCE_LENGTH}-byte nonce, got ${nonce.length}`)
}
