/**
 * An authenticated cipher used to seal chunks and records. Implementations are stateless
 * and synchronous (they run inside worker threads on bulk data).
 *
 * Contract:
 * - `seal(key, nonce, plaintext)` MUST return `overhead + plaintext.length` bytes.
 * - `open(key, nonce, sealed)` MUST throw `DecryptionError` when any bit of `sealed`, the nonce
 *   or the key differs from what sealed it; it never returns unauthenticated plaintext.
 * - `key` is always 32 bytes; a suite that needs other key material derives it from `key`
 *   with domain separation.
 * - `nonce` is `nonceLength` bytes; callers never reuse a nonce with different plaintext
 *   under one key (Cairn derives it from the keyed chunk id, see doc/design.md).
 */
export interface CipherSuite {
  /** Stable name, recorded in a store's config (`cairn init --cipher NAME`). */
  readonly name: CipherSuiteName
  /** Stable one-byte id written into every sealed chunk's header. */
  readonly id: number
  readonly nonceLength: number
  /** Bytes `seal` adds to the plaintext (the tag). */
  readonly overhead: number
  seal: (key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array) => Uint8Array
  /** Optional: like `seal` but writes into `out` (exactly `overhead + plaintext.length` bytes), saving a copy of bulk data. */
  sealInto?: (out: Uint8Array, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array) => void
  open: (key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array) => Uint8Array
  /** Optional: like `open` but writes into `out` (`sealed.length - overhead` bytes); false when it does not authenticate. */
  openInto?: (out: Uint8Array, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array) => boolean
}

export type CipherSuiteName = 'xsalsa20-poly1305' | 'aes-256-gcm' | 'sm4'
