import { createHmac, hkdfSync, randomBytes, scrypt as scryptCb } from 'node:crypto'
import sodium from 'sodium-native'
import nacl from 'tweetnacl'
import { KeyFileError, WrongPassphraseError } from './errors.ts'

/**
 * The keys of one user space (a store), derived from the mesh's master key.
 * A full key set can read everything; a write-only set (no `recordSecretKey`) can compute
 * chunk ids and seal new blocks, so dedup works, but cannot open snapshot records and so
 * never learns the ids that unlock other snapshots' blocks (see doc/design.md, "Keys").
 */
export interface SpaceKeys {
  spaceId: string
  /** Keys chunk ids: id = HMAC-SHA256(idKey, plaintext). */
  idKey: Uint8Array
  /** Per-block key and nonce: HMAC-SHA512(dataKey, id). */
  dataKey: Uint8Array
  /** Seed of the FastCDC gear table, so boundaries don't fingerprint content across stores. */
  gearSeed: Uint8Array
  /** X25519 key pair that seals snapshot records; the secret half is absent in write-only keys. */
  recordPublicKey: Uint8Array
  recordSecretKey?: Uint8Array
}

const LABEL = 'cairn/v1'

function hkdf (master: Uint8Array, info: string, length = 32): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', master, LABEL, info, length))
}

/** Derives a space's keys from the master key with HKDF-SHA256, one `info` label per purpose. */
export function deriveSpaceKeys (master: Uint8Array, spaceId: string): SpaceKeys {
  if (master.length !== 32) throw new KeyFileError('The master key must be 32 bytes.')
  const record = boxKeyPair(hkdf(master, `space:${spaceId}:record`))
  return {
    spaceId,
    idKey: hkdf(master, `space:${spaceId}:chunk-id`),
    dataKey: hkdf(master, `space:${spaceId}:data`),
    gearSeed: hkdf(master, `space:${spaceId}:gear`),
    recordPublicKey: record.publicKey,
    recordSecretKey: record.secretKey
  }
}

/** The same keys without the record secret: enough to back up, not to read. */
export function writeOnlyKeys (keys: SpaceKeys): SpaceKeys {
  const { recordSecretKey: _, ...rest } = keys
  return rest
}

export function isWriteOnly (keys: SpaceKeys): boolean {
  return keys.recordSecretKey === undefined
}

/** The keyed chunk id (F2: dedup decides on it before compressing or encrypting). */
export function chunkId (keys: SpaceKeys, plaintext: Uint8Array): Buffer {
  return createHmac('sha256', keys.idKey).update(plaintext).digest()
}

/**
 * The key and nonce that seal the block with chunk id `id`. Both come from the id, so equal
 * plaintext under one space gives equal ciphertext (dedup across nodes) and a key is never
 * used for two different plaintexts. Knowing a block's id is what it takes to open it.
 * `context` binds public header bytes (e.g. the block's compression flag) into the key, so
 * altering them makes the block fail to open.
 */
export function blockKeyNonce (keys: SpaceKeys, id: Uint8Array, nonceLength: number, context: Uint8Array = new Uint8Array()): { key: Uint8Array, nonce: Uint8Array } {
  const mac = createHmac('sha512', keys.dataKey).update(id).update(context).digest()
  return { key: mac.subarray(0, 32), nonce: mac.subarray(32, 32 + nonceLength) }
}

/**
 * Seals a snapshot record to the space's record public key (an anonymous box:
 * ephemeral X25519 key || nonce || box). Write-only keys can seal, only full keys open.
 */
export function sealRecord (keys: SpaceKeys, plaintext: Uint8Array): Uint8Array {
  const eph = boxKeyPair(randomBytes(32))
  const out = new Uint8Array(32 + 24 + 16 + plaintext.length)
  out.set(eph.publicKey, 0); out.set(randomBytes(24), 32)
  sodium.crypto_box_easy(out.subarray(56), plaintext, out.subarray(32, 56), keys.recordPublicKey, eph.secretKey)
  return out
}

/** Opens a sealed snapshot record; null when it does not open (wrong space, altered, or write-only key). */
export function openRecord (keys: SpaceKeys, sealed: Uint8Array): Uint8Array | null {
  if (keys.recordSecretKey === undefined || sealed.length < 56 + 16) return null
  const out = new Uint8Array(sealed.length - 56 - 16)
  try {
    return sodium.crypto_box_open_easy(out, sealed.subarray(56), sealed.subarray(32, 56), sealed.subarray(0, 32), keys.recordSecretKey) ? out : null
  } catch {
    return null // libsodium refuses an ephemeral key of low order: not a record sealed to this space
  }
}

/**
 * An X25519 key pair from its secret half, as NaCl's box takes it (the same bytes tweetnacl's
 * `box.keyPair.fromSecretKey` gives). Through libsodium: tweetnacl's pure-JS curve costs ~20 ms
 * of CPU the first time in a process, at every store open (issue 21).
 */
function boxKeyPair (secretKey: Uint8Array): { publicKey: Uint8Array, secretKey: Uint8Array } {
  const publicKey = new Uint8Array(32)
  sodium.crypto_scalarmult_base(publicKey, secretKey)
  return { publicKey, secretKey: new Uint8Array(secretKey) }
}

// ---------------------------------------------------------------------------------------
// Key file: the master key (or a write-only key set) wrapped by one or more key slots.

export interface ScryptParams { N: number, r: number, p: number }
/**
 * One of OWASP's equivalent scrypt settings (N=2^14, r=8, p=5): the same work as N=2^17,
 * p=1 but 16 MiB of memory instead of 128 MiB, which keeps a backup's peak RSS low.
 */
export const DEFAULT_SCRYPT: ScryptParams = { N: 1 << 14, r: 8, p: 5 }

export interface KeySlot {
  id: string
  kind: 'passphrase' | 'token' | 'recovery'
  label: string
  created: string
  /** Parameters of the slot's key-encryption key: scrypt for passphrases and recovery keys. */
  kdf?: { name: 'scrypt', salt: string } & ScryptParams
  /** Kind-specific public data (e.g. a token slot's token label, key id and wrapping public key). */
  extra?: Record<string, string>
  /** base64(nonce(24) || secretbox(payload)) under the slot's key-encryption key. */
  wrapped: string
}

export interface KeyFile {
  format: 'cairn-keyfile'
  version: 1
  spaceId: string
  /** 'full' wraps the master key; 'write-only' wraps a write-only key set. */
  access: 'full' | 'write-only'
  slots: KeySlot[]
}

const PAYLOAD_MASTER = 1
const PAYLOAD_WRITE_ONLY = 2

/** The secret a key file's slots wrap. */
export type KeyPayload = { access: 'full', master: Uint8Array } | { access: 'write-only', keys: SpaceKeys }

export function encodePayload (p: KeyPayload): Uint8Array {
  if (p.access === 'full') return concat([Uint8Array.of(PAYLOAD_MASTER), p.master])
  const k = p.keys
  return concat([Uint8Array.of(PAYLOAD_WRITE_ONLY), k.idKey, k.dataKey, k.gearSeed, k.recordPublicKey])
}

export function decodePayload (bytes: Uint8Array, spaceId: string): KeyPayload {
  if (bytes[0] === PAYLOAD_MASTER && bytes.length === 33) return { access: 'full', master: bytes.slice(1) }
  if (bytes[0] === PAYLOAD_WRITE_ONLY && bytes.length === 129) {
    return {
      access: 'write-only',
      keys: { spaceId, idKey: bytes.slice(1, 33), dataKey: bytes.slice(33, 65), gearSeed: bytes.slice(65, 97), recordPublicKey: bytes.slice(97, 129) }
    }
  }
  throw new KeyFileError('The key slot holds an unknown kind of key; this key file was written by a newer Cairn.')
}

export function payloadKeys (p: KeyPayload, spaceId: string): SpaceKeys {
  return p.access === 'full' ? deriveSpaceKeys(p.master, spaceId) : p.keys
}

export function newMasterKey (): Uint8Array {
  return new Uint8Array(randomBytes(32))
}

export function newSpaceId (): string {
  return randomBytes(8).toString('hex')
}

async function scrypt (secret: string, salt: Buffer, params: ScryptParams): Promise<Uint8Array> {
  return await new Promise((resolve, reject) => {
    scryptCb(secret.normalize('NFKC'), salt, 32, { ...params, maxmem: 256 * params.N * params.r * params.p + (1 << 20) }, (err, key) => {
      if (err !== null) reject(err); else resolve(new Uint8Array(key))
    })
  })
}

/**
 * Wraps `payload` under a key-encryption key; returns base64(nonce || secretbox). tweetnacl here:
 * one secretbox of a few dozen bytes per command, where its audited pure-JS code costs nothing
 * measurable (doc/design.md "Choices"); libsodium produces the same bytes.
 */
export function wrap (kek: Uint8Array, payload: Uint8Array): string {
  const nonce = nacl.randomBytes(24)
  return Buffer.from(concat([nonce, nacl.secretbox(payload, nonce, kek)])).toString('base64')
}

/** Unwraps; null when the key-encryption key is wrong or the slot was altered. */
export function unwrap (kek: Uint8Array, wrapped: string): Uint8Array | null {
  const bytes = Buffer.from(wrapped, 'base64')
  if (bytes.length < 24 + 16) return null
  return nacl.secretbox.open(bytes.subarray(24), bytes.subarray(0, 24), kek)
}

/** A new passphrase slot wrapping `payload`. */
export async function passphraseSlot (passphrase: string, payload: KeyPayload, label = 'passphrase', params = DEFAULT_SCRYPT): Promise<KeySlot> {
  if (passphrase.length === 0) throw new KeyFileError('The passphrase is empty. Give one with CAIRN_PASSPHRASE or --passphrase-file.')
  const salt = randomBytes(16)
  const kek = await scrypt(passphrase, salt, params)
  return {
    id: randomBytes(4).toString('hex'),
    kind: 'passphrase',
    label,
    created: new Date().toISOString(),
    kdf: { name: 'scrypt', salt: salt.toString('base64'), ...params },
    wrapped: wrap(kek, encodePayload(payload))
  }
}

/** Tries every passphrase slot (and recovery slot, whose secret is also typed) with `secret`. */
export async function unlockWithSecret (file: KeyFile, secret: string, kinds: Array<KeySlot['kind']> = ['passphrase', 'recovery']): Promise<{ payload: KeyPayload, slot: KeySlot }> {
  for (const slot of file.slots) {
    if (!kinds.includes(slot.kind) || slot.kdf === undefined) continue
    const kek = await scrypt(secret, Buffer.from(slot.kdf.salt, 'base64'), slot.kdf)
    const bytes = unwrap(kek, slot.wrapped)
    if (bytes !== null) return { payload: decodePayload(bytes, file.spaceId), slot }
  }
  throw new WrongPassphraseError()
}

/** Parses and validates a key file's JSON text. */
export function parseKeyFile (text: string): KeyFile {
  let v: unknown
  try { v = JSON.parse(text) } catch (cause) { throw new KeyFileError('The key file is not valid JSON; restore it from a copy (nothing was changed).', { cause }) }
  const f = v as Partial<KeyFile>
  if (f?.format !== 'cairn-keyfile') throw new KeyFileError('This is not a Cairn key file.')
  if (f.version !== 1) throw new KeyFileError(`Key file version ${String(f.version)} is not supported by this Cairn; upgrade Cairn.`)
  if (typeof f.spaceId !== 'string' || !Array.isArray(f.slots) || (f.access !== 'full' && f.access !== 'write-only')) {
    throw new KeyFileError('The key file is malformed (spaceId, access or slots missing); restore it from a copy.')
  }
  return f as KeyFile
}

export function formatKeyFile (file: KeyFile): string {
  return JSON.stringify(file, null, 2) + '\n'
}

function concat (parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}
