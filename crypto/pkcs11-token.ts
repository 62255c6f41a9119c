import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto'
import { createRequire } from 'node:module'
import type * as Pkcs11js from 'pkcs11js'
import {
  TokenKeyNotFoundError, TokenLockedError, TokenModuleNotFoundError, TokenNotFoundError,
  TokenOperationError, UnsupportedKeyError, WrongPinError
} from './errors.ts'

/** SoftHSM2's module on Debian; real USB keys pass their vendor's module instead. */
export const DEFAULT_PKCS11_MODULE = '/usr/lib/softhsm/libsofthsm2.so'

/** The module path: the explicit option, else `CAIRN_PKCS11_MODULE`, else SoftHSM2's. */
export function resolvePkcs11Module (explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return explicit ?? env.CAIRN_PKCS11_MODULE ?? DEFAULT_PKCS11_MODULE
}

export interface TokenInfo {
  /** Slot id as hex (SoftHSM2 renumbers slots; find tokens by label). */
  slotId: string
  label: string
  manufacturer: string
  model: string
  serialNumber: string
  /** The token has seen wrong PINs since the last good one (CKF_USER_PIN_COUNT_LOW). */
  pinCountLow: boolean
  /** One more wrong PIN locks the token (CKF_USER_PIN_FINAL_TRY). */
  pinFinalTry: boolean
  pinLocked: boolean
}

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

export interface Pkcs11Module {
  readonly modulePath: string
  /** Initialised tokens in the slots that have one. */
  listTokens: () => TokenInfo[]
  /** Opens a session on the token labelled `tokenLabel` and logs in with `pin`. */
  login: (tokenLabel: string, pin: string) => TokenSession
  /** Opens a session without logging in. */
  openPublic: (tokenLabel: string) => TokenPublicView
  /** Finalises the module (after closing its sessions); safe to call twice. */
  close: () => void
}

export interface Pkcs11ModuleInit {
  /** Path of the PKCS#11 shared library; see `resolvePkcs11Module`. */
  modulePath?: string
}

type P11 = typeof Pkcs11js
let loaded: P11 | undefined
function p11 (): P11 {
  // Loaded on first use so that importing crypto/ never requires the native addon.
  loaded ??= createRequire(import.meta.url)('pkcs11js') as P11
  return loaded
}

const P256_OID = Buffer.from('06082a8648ce3d030107', 'hex')
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex')
const CKZ_DATA_SPECIFIED = 1

export function openPkcs11Module (init: Pkcs11ModuleInit = {}): Pkcs11Module {
  const modulePath = resolvePkcs11Module(init.modulePath)
  const { PKCS11 } = p11()
  const lib = new PKCS11()
  try {
    lib.load(modulePath)
  } catch (err) {
    throw new TokenModuleNotFoundError(modulePath, { cause: err })
  }
  let ownsInit = true
  try {
    lib.C_Initialize()
  } catch (err) {
    if (ckr(err) === 'CKR_CRYPTOKI_ALREADY_INITIALIZED') ownsInit = false
    else throw new TokenOperationError('C_Initialize', { cause: err })
  }
  let closed = false
  const sessions = new Set<{ close: () => void }>()

  function slotOf (tokenLabel: string): Pkcs11js.Handle {
    for (const slot of lib.C_GetSlotList(true)) {
      if (lib.C_GetTokenInfo(slot).label.trimEnd() === tokenLabel) return slot
    }
    throw new TokenNotFoundError(tokenLabel)
  }

  function open (tokenLabel: string): Pkcs11js.Handle {
    const { CKF_SERIAL_SESSION } = p11()
    return call(tokenLabel, 'opening a session', () => lib.C_OpenSession(slotOf(tokenLabel), CKF_SERIAL_SESSION))
  }

  function track<T extends { close: () => void }> (s: T): T {
    sessions.add(s)
    const close = s.close
    s.close = () => { sessions.delete(s); close() }
    return s
  }

  return {
    modulePath,
    listTokens () {
      const c = p11()
      const tokens = lib.C_GetSlotList(true).map(slot => ({ slot, info: lib.C_GetTokenInfo(slot) }))
      // Blank tokens (SoftHSM2 always offers one) cannot hold keys; leave them out.
      return tokens.filter(({ info }) => (info.flags & c.CKF_TOKEN_INITIALIZED) !== 0).map(({ slot, info }) => {
        return {
          slotId: slot.toString('hex'),
          label: info.label.trimEnd(),
          manufacturer: info.manufacturerID.trimEnd(),
          model: info.model.trimEnd(),
          serialNumber: info.serialNumber.trimEnd(),
          pinCountLow: (info.flags & c.CKF_USER_PIN_COUNT_LOW) !== 0,
          pinFinalTry: (info.flags & c.CKF_USER_PIN_FINAL_TRY) !== 0,
          pinLocked: (info.flags & c.CKF_USER_PIN_LOCKED) !== 0
        }
      })
    },
    login (tokenLabel, pin) {
      const c = p11()
      const slot = slotOf(tokenLabel)
      if ((lib.C_GetTokenInfo(slot).flags & c.CKF_USER_PIN_LOCKED) !== 0) throw new TokenLockedError(tokenLabel)
      const session = open(tokenLabel)
      try {
        lib.C_Login(session, c.CKU_USER, pin)
      } catch (err) {
        lib.C_CloseSession(session)
        if (ckr(err) !== 'CKR_USER_ALREADY_LOGGED_IN') throw tokenError(err, tokenLabel, 'the login')
      }
      return track(createSession(lib, session, tokenLabel, true))
    },
    openPublic (tokenLabel) {
      return track(createSession(lib, open(tokenLabel), tokenLabel, false))
    },
    close () {
      if (closed) return
      closed = true
      for (const s of [...sessions]) s.close()
      if (ownsInit) lib.C_Finalize()
      lib.close()
    }
  }
}

/**
 * Opens the module, logs in to the token, runs `fn`, and always logs out and finalises,
 * whether `fn` returns or throws.
 */
export function withTokenSession<T> (init: Pkcs11ModuleInit & { tokenLabel: string, pin: string }, fn: (session: TokenSession) => T): T {
  const module = openPkcs11Module(init)
  try {
    const session = module.login(init.tokenLabel, init.pin)
    try {
      return fn(session)
    } finally {
      session.close()
    }
  } finally {
    module.close()
  }
}

function createSession (lib: Pkcs11js.PKCS11, session: Pkcs11js.Handle, tokenLabel: string, loggedIn: boolean): TokenSession {
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

/** A CK_ULONG attribute in host byte order (little-endian on the platforms Node ships for). */
function ulong (value: Buffer | undefined): number {
  if (value === undefined || value.length === 0) return -1
  return value.length === 8 ? Number(value.readBigUInt64LE()) : value.readUIntLE(0, Math.min(value.length, 6))
}

function ckr (err: unknown): string | undefined {
  return err instanceof Error && /^CKR_\w+$/.test(err.message) ? err.message : undefined
}

/** Maps a pkcs11js failure to one of our error classes; ours pass through unchanged. */
export function tokenError (err: unknown, tokenLabel: string, operation: string): Error {
  switch (ckr(err)) {
    case 'CKR_PIN_INCORRECT': return new WrongPinError(tokenLabel, { cause: err })
    case 'CKR_PIN_LOCKED': return new TokenLockedError(tokenLabel, { cause: err })
    case 'CKR_TOKEN_NOT_PRESENT':
    case 'CKR_DEVICE_REMOVED': return new TokenNotFoundError(tokenLabel, { cause: err })
  }
  if (err instanceof Error && !('nativeStack' in err)) return err
  return new TokenOperationError(operation, { cause: err })
}

function call<T> (tokenLabel: string, operation: string, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    throw tokenError(err, tokenLabel, operation)
  }
}
