import { createCipheriv, createDecipheriv } from 'node:crypto'
import type { CipherSuite } from './cipher-suite.ts'
import { DecryptionError } from './errors.ts'

const NONCE_LENGTH = 12
const TAG_LENGTH = 16

/**
 * AES-256-GCM (F4) from Node's OpenSSL, with the standard 96-bit nonce and full 128-bit tag.
 * Sealed format: `CIPHERTEXT || TAG(16)`; no associated data.
 */
export const aes256Gcm: CipherSuite = {
  name: 'aes-256-gcm',
  id: 2,
  nonceLength: NONCE_LENGTH,
  overhead: TAG_LENGTH,

  seal (key, nonce, plaintext) {
    checkLengths(key, nonce)
    const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH })
    const out = new Uint8Array(plaintext.length + TAG_LENGTH)
    let n = copy(cipher.update(plaintext), out, 0)
    n = copy(cipher.final(), out, n)
    copy(cipher.getAuthTag(), out, n)
    return out
  },

  open (key, nonce, sealed) {
    checkLengths(key, nonce)
    if (sealed.length < TAG_LENGTH) throw new DecryptionError()
    const body = sealed.subarray(0, sealed.length - TAG_LENGTH)
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH })
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH))
    const out = new Uint8Array(body.length)
    try {
      // OpenSSL only checks the tag in final(); the plaintext from update() is discarded on failure.
      const n = copy(decipher.update(body), out, 0)
      copy(decipher.final(), out, n)
    } catch (err) {
      out.fill(0)
      throw new DecryptionError(undefined, { cause: err })
    }
    return out
  }
}

function checkLengths (key: Uint8Array, nonce: Uint8Array): void {
  if (key.length !== 32) throw new RangeError(`aes-256-gcm needs a 32-byte key, got ${key.length}`)
  if (nonce.length !== NONCE_LENGTH) throw new RangeError(`aes-256-gcm needs a ${NONCE_LENGTH}-byte nonce, got ${nonce.length}`)
}

function copy (src: Uint8Array, dst: Uint8Array, at: number): number {
  dst.set(src, at)
  return at + src.length
}
