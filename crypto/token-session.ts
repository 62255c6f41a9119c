import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto'
import type * as Pkcs11js from 'pkcs11js'
import { TokenKeyNotFoundError, UnsupportedKeyError } from './errors.ts'
import { call, ckr, p11, ulong } from './pkcs11-binding.ts'

export type TokenKeyType = 'ec-p256' | 'rsa'

export interface TokenObject {
  kind: 'private-key' | 'public-key' | 'certificate'
  label: string
  /** CKA_ID as hex. */
  id: string
}

/** Selects a key pair or certificate by CKA_LABEL, CKA_ID (hex), or both. */
export interface TokenKeyRef { label?: string, id?: string }

export interface TokenKeyPair {
  label: string
  id: string
  type: TokenKeyType
  bits: number
  publicKey: KeyObject
}

/** A logged-in session on one token. Every method is synchronous (pkcs11js is). */
export interface TokenSession {
  readonly tokenLabel: string
  listObjects: () => TokenObject[]
  findKeyPair: (ref: TokenKeyRef) => TokenKeyPair
  /** The certificate with the key's label or id, as PEM. */
  findCertificate: (ref: TokenKeyRef) => string
  /**
   * Signs `message` with SHA-256: ECDSA P-256 returns a DER `ECDSA-Sig-Value`, RSA returns
   * PKCS#1 v1.5. Both verify with node:crypto `verify('sha256', message, publicKey, sig)`.
   */
  sign: (ref: TokenKeyRef, message: Uint8Array) => Uint8Array
  /** RSA-OAEP decryption on the token. SoftHSM2 2.6 only implements OAEP with SHA-1. */
  decryptRsaOaep: (ref: TokenKeyRef, ciphertext: Uint8Array, hash?: 'sha256' | 'sha1') => Uint8Array
  /** ECDH on the token with a peer's uncompressed P-256 point; returns the 32-byte shared x. */
  deriveEcdh: (ref: TokenKeyRef, peerPoint: Uint8Array) => Uint8Array
  /** Logs out and closes the session; safe to call twice. */
  close: () => void
}

/** Only public objects are visible (no PIN asked): certificates and public keys. */
export interface TokenPublicView {
  readonly tokenLabel: string
  listObjects: () => TokenObject[]
  findCertificate: (ref: TokenKeyRef) => string
  close: () => void
}

const P256_OID = Buffer.from('06082a8648ce3d030107', 'hex')
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex')
const CKZ_DATA_SPECIFIED = 1

/** A session on one token, opened by pkcs11-token.ts; `loggedIn` says whether C_Login succeeded. */
export function createSession (lib: Pkcs11js.PKCS11, session: Pkcs11js.Handle, tokenLabel: string, loggedIn: boolean): TokenSession {
  const c = p11()
  let open = true

  function find (template: Pkcs11js.Template): Pkcs11js.Handle[] {
    return call(tokenLabel, 'a search', () => {
      lib.C_FindObjectsInit(session, template)
      try {
        return lib.C_FindObjects(session, 100)
      } finally {
        lib.C_FindObjectsFinal(session)
      }
    })
  }

  function refTemplate (ref: TokenKeyRef): Pkcs11js.Template {
    if (ref.label === undefined && ref.id === undefined) throw new TypeError('a token key reference needs a label or an id')
    const t: Pkcs11js.Template = []
    if (ref.label !== undefined) t.push({ type: c.CKA_LABEL, value: ref.label })
    if (ref.id !== undefined) t.push({ type: c.CKA_ID, value: Buffer.from(ref.id, 'hex') })
    return t
  }

  function describe (ref: TokenKeyRef, what: string): string {
    return [what, ref.label !== undefined ? `labelled "${ref.label}"` : '', ref.id !== undefined ? `with id ${ref.id}` : ''].filter(Boolean).join(' ')
  }

  function attrs (handle: Pkcs11js.Handle, types: number[]): Array<Buffer | undefined> {
    return call(tokenLabel, 'reading attributes', () => lib.C_GetAttributeValue(session, handle, types.map(type => ({ type }))))
      .map(a => a.value as Buffer | undefined)
  }

  function privateKey (ref: TokenKeyRef): { handle: Pkcs11js.Handle, id: Buffer, label: string, keyType: number } {
    const [handle] = find([{ type: c.CKA_CLASS, value: c.CKO_PRIVATE_KEY }, ...refTemplate(ref)])
    if (handle === undefined) throw new TokenKeyNotFoundError(tokenLabel, describe(ref, 'private key'))
    const [id, label, keyType] = attrs(handle, [c.CKA_ID, c.CKA_LABEL, c.CKA_KEY_TYPE])
    return { handle, id: id ?? Buffer.alloc(0), label: label?.toString('utf8') ?? '', keyType: ulong(keyType) }
  }

  function certificate (ref: TokenKeyRef): string {
    const [handle] = find([{ type: c.CKA_CLASS, value: c.CKO_CERTIFICATE }, ...refTemplate(ref)])
    if (handle === undefined) throw new TokenKeyNotFoundError(tokenLabel, describe(ref, 'certificate'))
    const [der] = attrs(handle, [c.CKA_VALUE])
    return new X509Certificate(der ?? Buffer.alloc(0)).toString()
  }

  function publicKeyOf (id: Buffer, keyType: number): { publicKey: KeyObject, type: TokenKeyType, bits: number } {
    const [pub] = find([{ type: c.CKA_CLASS, value: c.CKO_PUBLIC_KEY }, { type: c.CKA_ID, value: id }])
    let publicKey: KeyObject
    if (pub !== undefined && keyType === c.CKK_EC) {
      const [params, point] = attrs(pub, [c.CKA_EC_PARAMS, c.CKA_EC_POINT])
      if (params === undefined || !params.equals(P256_OID)) throw new UnsupportedKeyError(`the token's EC key ${id.toString('hex')} is not on P-256`)
      const raw = unwrapOctetString(point ?? Buffer.alloc(0))
      publicKey = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33, 65).toString('base64url') }, format: 'jwk' })
    } else if (pub !== undefined && keyType === c.CKK_RSA) {
      const [n, e] = attrs(pub, [c.CKA_MODULUS, c.CKA_PUBLIC_EXPONENT])
      publicKey = createPublicKey({ key: { kty: 'RSA', n: (n ?? Buffer.alloc(0)).toString('base64url'), e: (e ?? Buffer.alloc(0)).toString('base64url') }, format: 'jwk' })
    } else {
      // Some tokens keep only the certificate beside the private key.
      publicKey = new X509Certificate(certificate({ id: id.toString('hex') })).publicKey
    }
    return { publicKey, ...classify(publicKey) }
  }

  function keyPair (ref: TokenKeyRef): TokenKeyPair & { handle: Pkcs11js.Handle } {
    const key = privateKey(ref)
    return { handle: key.handle, label: key.label, id: key.id.toString('hex'), ...publicKeyOf(key.id, key.keyType) }
  }

  function requireLogin (): void {
    if (!open) throw new TypeError('this token session is closed')
    if (!loggedIn) throw new TypeError('this token session is not logged in')
  }

  const s: TokenSession = {
    tokenLabel,
    listObjects () {
      const out: TokenObject[] = []
      const kinds = [[c.CKO_PRIVATE_KEY, 'private-key'], [c.CKO_PUBLIC_KEY, 'public-key'], [c.CKO_CERTIFICATE, 'certificate']] as const
      for (const [cls, kind] of kinds) {
        for (const handle of find([{ type: c.CKA_CLASS, value: cls }])) {
          const [label, id] = attrs(handle, [c.CKA_LABEL, c.CKA_ID])
          out.push({ kind, label: label?.toString('utf8') ?? '', id: id?.toString('hex') ?? '' })
        }
      }
      return out
    },
    findKeyPair (ref) {
      requireLogin()
      const { handle: _handle, ...pair } = keyPair(ref)
      return pair
    },
    findCertificate: certificate,
    sign (ref, message) {
      requireLogin()
      const key = keyPair(ref)
      if (key.type === 'ec-p256') {
        const digest = createHash('sha256').update(message).digest()
        const raw = signWith(key.handle, { mechanism: c.CKM_ECDSA }, digest, 132)
        return ecdsaRawToDer(raw)
      }
      try {
        return signWith(key.handle, { mechanism: c.CKM_SHA256_RSA_PKCS }, Buffer.from(message), key.bits / 8 + 16)
      } catch (err) {
        if (ckr((err as Error).cause) !== 'CKR_MECHANISM_INVALID') throw err
        // Tokens without the combined mechanism: DigestInfo(SHA-256) under raw PKCS#1 v1.5.
        const digestInfo = Buffer.concat([SHA256_DIGEST_INFO, createHash('sha256').update(message).digest()])
        return signWith(key.handle, { mechanism: c.CKM_RSA_PKCS }, digestInfo, key.bits / 8 + 16)
      }
    },
    decryptRsaOaep (ref, ciphertext, hash = 'sha256') {
      requireLogin()
      const key = keyPair(ref)
      if (key.type !== 'rsa') throw new UnsupportedKeyError(`RSA-OAEP needs an RSA key, but ${key.label} is ${key.type}`)
      const parameter: Pkcs11js.RsaOAEP = {
        type: c.CK_PARAMS_RSA_OAEP,
        hashAlg: hash === 'sha256' ? c.CKM_SHA256 : c.CKM_SHA_1,
        mgf: hash === 'sha256' ? c.CKG_MGF1_SHA256 : c.CKG_MGF1_SHA1,
        source: CKZ_DATA_SPECIFIED
      }
      return call(tokenLabel, 'RSA-OAEP decryption', () => {
        lib.C_DecryptInit(session, { mechanism: c.CKM_RSA_PKCS_OAEP, parameter }, key.handle)
        return new Uint8Array(lib.C_Decrypt(session, Buffer.from(ciphertext), Buffer.alloc(key.bits / 8)))
      })
    },
    deriveEcdh (ref, peerPoint) {
      requireLogin()
      const key = keyPair(ref)
      if (key.type !== 'ec-p256') throw new UnsupportedKeyError(`ECDH needs an EC P-256 key, but ${key.label} is ${key.type}`)
      if (peerPoint.length !== 65 || peerPoint[0] !== 4) throw new TypeError('the peer point must be an uncompressed P-256 point (65 bytes)')
      return call(tokenLabel, 'ECDH derivation', () => {
        const parameter: Pkcs11js.ECDH1 = { type: c.CK_PARAMS_EC_DH, kdf: c.CKD_NULL, publicData: Buffer.from(peerPoint) }
        const secret = lib.C_DeriveKey(session, { mechanism: c.CKM_ECDH1_DERIVE, parameter }, key.handle, [
          { type: c.CKA_CLASS, value: c.CKO_SECRET_KEY },
          { type: c.CKA_KEY_TYPE, value: c.CKK_GENERIC_SECRET },
          { type: c.CKA_VALUE_LEN, value: 32 },
          { type: c.CKA_TOKEN, value: false },
          { type: c.CKA_SENSITIVE, value: false },
          { type: c.CKA_EXTRACTABLE, value: true }
        ])
        try {
          const [value] = lib.C_GetAttributeValue(session, secret, [{ type: c.CKA_VALUE }])
          return new Uint8Array(value.value as Buffer)
        } finally {
          lib.C_DestroyObject(session, secret)
        }
      })
    },
    close () {
      if (!open) return
      open = false
      try {
        if (loggedIn) lib.C_Logout(session)
      } finally {
        lib.C_CloseSession(session)
      }
    }
  }

  function signWith (handle: Pkcs11js.Handle, mechanism: Pkcs11js.Mechanism, data: Buffer, outLength: number): Uint8Array {
    return call(tokenLabel, 'signing', () => {
      lib.C_SignInit(session, mechanism, handle)
      return new Uint8Array(lib.C_Sign(session, data, Buffer.alloc(outLength)))
    })
  }

  return s
}

/** What kind of key this is, or UnsupportedKeyError: only EC P-256 and RSA ≥ 2048 bits are used. */
export function classify (publicKey: KeyObject): { type: TokenKeyType, bits: number } {
  const details = publicKey.asymmetricKeyDetails ?? {}
  if (publicKey.asymmetricKeyType === 'ec') {
    if (details.namedCurve !== 'prime256v1') throw new UnsupportedKeyError(`EC key on curve ${details.namedCurve ?? 'unknown'}`)
    return { type: 'ec-p256', bits: 256 }
  }
  if (publicKey.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0
    if (bits < 2048) throw new UnsupportedKeyError(`RSA key of ${bits} bits`)
    return { type: 'rsa', bits }
  }
  throw new UnsupportedKeyError(`${publicKey.asymmetricKeyType ?? 'unknown'} key`)
}

/** Converts a raw ECDSA signature `r || s` (as PKCS#11 CKM_ECDSA returns it) to DER `SEQUENCE { INTEGER r, INTEGER s }`. */
export function ecdsaRawToDer (raw: Uint8Array): Uint8Array {
  if (raw.length === 0 || raw.length % 2 !== 0) throw new TypeError('a raw ECDSA signature has an even, non-zero length')
  const half = raw.length / 2
  const body = Buffer.concat([derInteger(raw.subarray(0, half)), derInteger(raw.subarray(half))])
  return new Uint8Array(Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]))
}

function derInteger (bytes: Uint8Array): Buffer {
  let i = 0
  while (i < bytes.length - 1 && bytes[i] === 0) i++
  let v = Buffer.from(bytes.subarray(i))
  if ((v[0] & 0x80) !== 0) v = Buffer.concat([Buffer.from([0]), v])
  return Buffer.concat([Buffer.from([0x02]), derLength(v.length), v])
}

function derLength (n: number): Buffer {
  if (n < 0x80) return Buffer.from([n])
  if (n < 0x100) return Buffer.from([0x81, n])
  return Buffer.from([0x82, n >> 8, n & 0xff])
}

/** CKA_EC_POINT is a DER OCTET STRING around the point (SoftHSM2, most tokens); some tokens return the bare point. */
function unwrapOctetString (value: Buffer): Buffer {
  if (value[0] === 0x04 && value.length === 65) return value
  if (value[0] === 0x04 && value[1] === 65) return value.subarray(2)
  if (value[0] === 0x04 && value[1] === 0x81 && value[2] === 65) return value.subarray(3)
  throw new UnsupportedKeyError('the token returned an EC point in an unknown encoding')
}
