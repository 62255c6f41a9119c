import { constants, generateKeyPairSync, diffieHellman, hkdfSync, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto'
import { decodePayload, encodePayload, unwrap, wrap, type KeyFile, type KeyPayload, type KeySlot } from './keyring.ts'
import { TokenKeyNotFoundError, TokenOperationError, TokenSlotNotFoundError, UnsupportedKeyError } from './errors.ts'
import { classify, type TokenKeyRef, type TokenSession } from './pkcs11-token.ts'

/*
 * Token key slots: the key file's payload (master key or write-only key set) wrapped so that
 * only a hardware token can open it. The private key never leaves the token; only the
 * key-encryption key (KEK) it recovers does, for one unwrap.
 *
 * RSA ("rsa-oaep-sha256", or "rsa-oaep-sha1" for tokens such as SoftHSM2 2.6 that only
 * implement OAEP with SHA-1 — OAEP's security does not rest on SHA-1's collision resistance):
 *   KEK = 32 random bytes;  extra.encryptedKey = RSA-OAEP(token public key, KEK)
 * EC P-256 ("ecdh-p256-hkdf-sha256"):
 *   E = fresh ephemeral P-256 key pair;  Z = ECDH(E, token public key) (x coordinate)
 *   KEK = HKDF-SHA256(ikm = Z, salt = E.point || token point, info = "cairn/v1 token-slot ecdh-p256", 32)
 *   extra.ephemeralPublicKey = E.point (uncompressed);  the token computes Z with CKM_ECDH1_DERIVE
 * Both: slot.wrapped = base64(nonce || secretbox(KEK, payload)) exactly as passphrase slots.
 * extra also records tokenLabel, keyId, keyLabel, keyType, scheme and the token key's SPKI
 * (base64) so the slot can name, and check, the key that opens it.
 */
export type TokenSlotScheme = 'rsa-oaep-sha256' | 'rsa-oaep-sha1' | 'ecdh-p256-hkdf-sha256'

export interface TokenSlotTarget {
  tokenLabel: string
  keyLabel: string
  /** CKA_ID, hex. */
  keyId: string
  publicKey: KeyObject
  /** RSA only; default SHA-256. */
  oaepHash?: 'sha256' | 'sha1'
}

const ECDH_INFO = 'cairn/v1 token-slot ecdh-p256'

/** Wraps `payload` to a token's public key. Needs no PIN and no token: the public key will do. */
export function tokenSlot (payload: KeyPayload, target: TokenSlotTarget, label = `token ${target.tokenLabel}`): KeySlot {
  const { type } = classify(target.publicKey)
  const spki = target.publicKey.export({ type: 'spki', format: 'der' })
  const extra: Record<string, string> = {
    tokenLabel: target.tokenLabel,
    keyLabel: target.keyLabel,
    keyId: target.keyId,
    keyType: type,
    publicKey: spki.toString('base64')
  }
  let kek: Uint8Array
  if (type === 'rsa') {
    const hash = target.oaepHash ?? 'sha256'
    kek = new Uint8Array(randomBytes(32))
    extra.scheme = `rsa-oaep-${hash}`
    extra.encryptedKey = publicEncrypt({ key: target.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, kek).toString('base64')
  } else {
    const ephemeral = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const z = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: target.publicKey })
    const ephemeralPoint = pointOf(ephemeral.publicKey)
    kek = ecdhKek(z, ephemeralPoint, pointOf(target.publicKey))
    extra.scheme = 'ecdh-p256-hkdf-sha256'
    extra.ephemeralPublicKey = Buffer.from(ephemeralPoint).toString('base64')
  }
  try {
    return {
      id: randomBytes(4).toString('hex'),
      kind: 'token',
      label,
      created: new Date().toISOString(),
      extra,
      wrapped: wrap(kek, encodePayload(payload))
    }
  } finally {
    kek.fill(0)
  }
}

/**
 * A token slot for the key pair `ref` on a logged-in token, checked by opening it on the token
 * before it is returned. An RSA token that refuses OAEP with SHA-256 gets an OAEP-SHA-1 slot.
 */
export function createTokenSlot (session: TokenSession, ref: TokenKeyRef, payload: KeyPayload, label?: string): KeySlot {
  const pair = session.findKeyPair(ref)
  const target = { tokenLabel: session.tokenLabel, keyLabel: pair.label, keyId: pair.id, publicKey: pair.publicKey }
  const hashes = pair.type === 'rsa' ? ['sha256', 'sha1'] as const : [undefined]
  let lastError: unknown
  for (const oaepHash of hashes) {
    const slot = tokenSlot(payload, { ...target, oaepHash }, label)
    try {
      if (openTokenSlot(session, slot, '') !== null) return slot
    } catch (err) {
      if (!(err instanceof TokenOperationError)) throw err
      lastError = err
    }
  }
  throw new UnsupportedKeyError(`token "${session.tokenLabel}" could not unwrap with key ${pair.label}`, { cause: lastError })
}

/**
 * Opens the first token slot of `file` whose key pair is on the session's token.
 * Throws TokenSlotNotFoundError when none is.
 */
export function unlockWithToken (file: KeyFile, session: TokenSession): { payload: KeyPayload, slot: KeySlot } {
  let lastError: unknown
  for (const slot of file.slots) {
    if (slot.kind !== 'token') continue
    try {
      const payload = openTokenSlot(session, slot, file.spaceId)
      if (payload !== null) return { payload, slot }
    } catch (err) {
      // Keys of another token, or a slot the token cannot decrypt (altered): try the next slot.
      if (!(err instanceof TokenKeyNotFoundError || err instanceof TokenOperationError)) throw err
      lastError = err
    }
  }
  throw new TokenSlotNotFoundError(session.tokenLabel, { cause: lastError })
}

function openTokenSlot (session: TokenSession, slot: KeySlot, spaceId: string): KeyPayload | null {
  const extra = slot.extra ?? {}
  const pair = session.findKeyPair({ id: extra.keyId })
  if (pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64') !== extra.publicKey) return null
  if ((pair.type === 'rsa') !== extra.scheme?.startsWith('rsa-')) return null
  let kek: Uint8Array
  switch (extra.scheme as TokenSlotScheme) {
    case 'rsa-oaep-sha256':
    case 'rsa-oaep-sha1':
      kek = session.decryptRsaOaep({ id: pair.id }, Buffer.from(extra.encryptedKey ?? '', 'base64'), extra.scheme === 'rsa-oaep-sha1' ? 'sha1' : 'sha256')
      break
    case 'ecdh-p256-hkdf-sha256': {
      const ephemeralPoint = new Uint8Array(Buffer.from(extra.ephemeralPublicKey ?? '', 'base64'))
      if (ephemeralPoint.length !== 65) return null
      const z = session.deriveEcdh({ id: pair.id }, ephemeralPoint)
      kek = ecdhKek(z, ephemeralPoint, pointOf(pair.publicKey))
      z.fill(0)
      break
    }
    default:
      return null
  }
  try {
    const bytes = kek.length === 32 ? unwrap(kek, slot.wrapped) : null
    return bytes === null ? null : decodePayload(bytes, spaceId)
  } finally {
    kek.fill(0)
  }
}

function ecdhKek (z: Uint8Array, ephemeralPoint: Uint8Array, tokenPoint: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', z, Buffer.concat([ephemeralPoint, tokenPoint]), ECDH_INFO, 32))
}

/** The uncompressed point (0x04 || x || y) of a P-256 public key. */
function pointOf (publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' })
  return new Uint8Array(Buffer.concat([Buffer.of(4), Buffer.from(jwk.x ?? '', 'base64url'), Buffer.from(jwk.y ?? '', 'base64url')]))
}

