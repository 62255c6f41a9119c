// The key hierarchy and key file format v1 (doc/keys.md). Golden samples in testdata/ were
// written once by this code with a light scrypt (N=1024, r=8, p=1); the derived keys they must
// yield were computed independently with OpenSSL (`openssl kdf … HKDF`, `openssl dgst -hmac`,
// and OpenSSL's X25519 through node:crypto), so a change to a label, a byte layout or a KDF
// parameter fails here before it strands anyone's store.
import test from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import {
  blockKeyNonce, chunkId, decodePayload, deriveSpaceKeys, encodePayload, formatKeyFile, isWriteOnly, openRecord, parseKeyFile,
  passphraseSlot, payloadKeys, sealRecord, unlockWithSecret, writeOnlyKeys, type KeyFile, type SpaceKeys
} from './keyring.ts'
import { unlockWithRecoveryKey } from './recovery-key.ts'
import nacl from 'tweetnacl'
import { KeyFileError, WrongPassphraseError } from './errors.ts'

const golden = (name: string): KeyFile => parseKeyFile(readFileSync(new URL(`testdata/${name}`, import.meta.url), 'utf8'))
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

const SPACE = '0123456789abcdef'
const MASTER = new Uint8Array(32).map((_, i) => i)
const PASSPHRASE = 'correct horse battery staple'
const RECOVERY_KEY = '0440Y-5GX4G-NK4EA-08X75-AQ33D-9RQGZ-W6HPA-9QVBJ'
/** HKDF-SHA256(ikm = MASTER, salt = "cairn/v1", info = "space:0123456789abcdef:<purpose>", 32), by OpenSSL. */
const EXPECTED = {
  idKey: '2b741d5bf846f39075d63e612f80bad69035c1b088be330eab049de96d9d184a',
  dataKey: '05cf03e98b32428e52269841715827c52d913ed339c8583fbad2dba5af723230',
  gearSeed: 'b69e7511e44fd911eaaab3affde5149c4ca35c0e779c174969228475c20a0555',
  recordSecretKey: 'a71dda89f6eaac57130fcae0a8b15fa03f7c331c873df1298895838cd5d7af05',
  /** X25519 public key of recordSecretKey. */
  recordPublicKey: 'cc42304e28a753326edf11c0b10af0fc2078705157bc288690d456d837585205'
}

function assertGoldenKeys (keys: SpaceKeys, full: boolean): void {
  assert.equal(keys.spaceId, SPACE)
  assert.equal(sha256(keys.idKey), 'b155db143b7b0770d52f5754529e2b6b00afc1c22556a63a07d3677d4c94c3f3')
  assert.equal(hex(keys.idKey), EXPECTED.idKey)
  assert.equal(hex(keys.dataKey), EXPECTED.dataKey)
  assert.equal(hex(keys.gearSeed), EXPECTED.gearSeed)
  assert.equal(hex(keys.recordPublicKey), EXPECTED.recordPublicKey)
  if (full) assert.equal(hex(keys.recordSecretKey!), EXPECTED.recordSecretKey)
  else assert.equal(keys.recordSecretKey, undefined)
}

test('space keys derive from the master key with HKDF-SHA256 and one label per purpose', () => {
  assertGoldenKeys(deriveSpaceKeys(MASTER, SPACE), true)
  const other = deriveSpaceKeys(MASTER, 'fedcba9876543210')
  assert.notEqual(hex(other.idKey), EXPECTED.idKey)
  assert.throws(() => deriveSpaceKeys(MASTER.subarray(1), SPACE), KeyFileError)
})

test('chunk ids and block key/nonce are HMACs under idKey and dataKey', () => {
  const keys = deriveSpaceKeys(MASTER, SPACE)
  const id = chunkId(keys, Buffer.from('hello'))
  assert.equal(hex(id), 'e84ff99fec9a867c4bea7bddc6cb837416ad38562a723f4e980f20d6acd008cd')
  const mac = 'e0c3125f589161cb893f1bdeff1378008fdb8cb32a497fe01b6dab2cf8d75d19f10b6e9be224f2d8fa40608054f450d5792d4b555ee81c353585ecb08089e16b'
  const { key, nonce } = blockKeyNonce(keys, id, 24)
  assert.equal(hex(key), mac.slice(0, 64))
  assert.equal(hex(nonce), mac.slice(64, 64 + 48))
})

test('golden key file v1 (full access) opens with its passphrase and its recovery key, to the known keys', async () => {
  const file = golden('keyfile-v1.json')
  assert.equal(file.access, 'full')
  assert.deepEqual(file.slots.map(s => [s.id, s.kind, s.kdf?.N, s.kdf?.r, s.kdf?.p]), [['a1b2c3d4', 'passphrase', 1024, 8, 1], ['e5f60718', 'recovery', 1024, 8, 1]])
  const byPassphrase = await unlockWithSecret(file, PASSPHRASE)
  assert.equal(byPassphrase.slot.id, 'a1b2c3d4')
  assert.deepEqual(byPassphrase.payload, { access: 'full', master: MASTER })
  assertGoldenKeys(payloadKeys(byPassphrase.payload, file.spaceId), true)
  const byRecovery = await unlockWithRecoveryKey(file, RECOVERY_KEY.toLowerCase().replaceAll('-', ' '))
  assert.equal(byRecovery.slot.id, 'e5f60718')
  assertGoldenKeys(payloadKeys(byRecovery.payload, file.spaceId), true)
  await assert.rejects(unlockWithSecret(file, 'wrong horse'), WrongPassphraseError)
  // A recovery key does not open passphrase slots when only those are tried.
  await assert.rejects(unlockWithSecret(file, RECOVERY_KEY, ['passphrase']), WrongPassphraseError)
})

test('golden key file v1 (write-only) yields the same keys without the record secret', async () => {
  const file = golden('keyfile-write-only-v1.json')
  assert.equal(file.access, 'write-only')
  const { payload } = await unlockWithSecret(file, 'branch office')
  assert.equal(payload.access, 'write-only')
  const keys = payloadKeys(payload, file.spaceId)
  assert.ok(isWriteOnly(keys))
  assertGoldenKeys(keys, false)
})

test('formatKeyFile and parseKeyFile round-trip the golden file byte for byte', () => {
  for (const name of ['keyfile-v1.json', 'keyfile-write-only-v1.json']) {
    const text = readFileSync(new URL(`testdata/${name}`, import.meta.url), 'utf8')
    assert.equal(formatKeyFile(parseKeyFile(text)), text)
  }
})

test('payload encoding: kind 1 = master (33 bytes), kind 2 = write-only set (129 bytes); others refused', () => {
  const keys = deriveSpaceKeys(MASTER, SPACE)
  const full = encodePayload({ access: 'full', master: MASTER })
  assert.equal(full.length, 33); assert.equal(full[0], 1)
  const wo = encodePayload({ access: 'write-only', keys: writeOnlyKeys(keys) })
  assert.equal(wo.length, 129); assert.equal(wo[0], 2)
  assert.equal(hex(wo.subarray(97)), EXPECTED.recordPublicKey)
  assert.ok(!Buffer.from(wo).includes(Buffer.from(EXPECTED.recordSecretKey, 'hex')), 'the write-only payload never holds the record secret')
  assert.deepEqual(decodePayload(wo, SPACE), { access: 'write-only', keys: writeOnlyKeys(keys) })
  assert.throws(() => decodePayload(Uint8Array.of(3, ...MASTER), SPACE), KeyFileError)
  assert.throws(() => decodePayload(full.subarray(0, 32), SPACE), KeyFileError)
})

test('an altered slot or a malformed key file is refused with a clear error', async () => {
  const file = golden('keyfile-v1.json')
  const wrapped = Buffer.from(file.slots[0].wrapped, 'base64'); wrapped[40] ^= 1
  const altered: KeyFile = { ...file, slots: [{ ...file.slots[0], wrapped: wrapped.toString('base64') }] }
  await assert.rejects(unlockWithSecret(altered, PASSPHRASE), WrongPassphraseError)
  assert.throws(() => parseKeyFile('{'), KeyFileError)
  assert.throws(() => parseKeyFile(JSON.stringify({ ...file, version: 2 })), /version 2 is not supported/)
  assert.throws(() => parseKeyFile(JSON.stringify({ ...file, access: 'read-only' })), KeyFileError)
  assert.throws(() => parseKeyFile(JSON.stringify({ ...file, format: 'restic' })), KeyFileError)
})

test('records sealed with full or write-only keys open only with the full key', async () => {
  const keys = deriveSpaceKeys(MASTER, SPACE)
  const wo = writeOnlyKeys(keys)
  const sealed = sealRecord(wo, Buffer.from('{"root":"x"}'))
  assert.equal(openRecord(wo, sealed), null)
  assert.equal(Buffer.from(openRecord(keys, sealed)!).toString(), '{"root":"x"}')
  assert.equal(openRecord(deriveSpaceKeys(MASTER, 'fedcba9876543210'), sealed), null)
  sealed[sealed.length - 1] ^= 1
  assert.equal(openRecord(keys, sealed), null)
  // A passphrase slot wrapping write-only keys never yields the full set.
  const slot = await passphraseSlot('p', { access: 'write-only', keys: wo }, 'p', { N: 1024, r: 8, p: 1 })
  const { payload } = await unlockWithSecret({ format: 'cairn-keyfile', version: 1, spaceId: SPACE, access: 'write-only', slots: [slot] }, 'p')
  assert.ok(isWriteOnly(payloadKeys(payload, SPACE)))
})

// Stores hold records and key slots sealed by Cairns that used tweetnacl: libsodium must make
// and open the very same bytes, both ways.
test('records and key slots are the NaCl box and secretbox tweetnacl makes, both ways', async () => {
  const keys = deriveSpaceKeys(MASTER, SPACE)
  const record = Buffer.from('{"root":"y"}')
  const eph = nacl.box.keyPair()
  const nonce = nacl.randomBytes(24)
  const byNacl = Buffer.concat([eph.publicKey, nonce, nacl.box(record, nonce, keys.recordPublicKey, eph.secretKey)])
  assert.deepEqual(Buffer.from(openRecord(keys, byNacl)!), record)
  const sealed = sealRecord(keys, record)
  assert.deepEqual(Buffer.from(nacl.box.open(sealed.subarray(56), sealed.subarray(32, 56), sealed.subarray(0, 32), keys.recordSecretKey!)!), record)
  assert.deepEqual(keys.recordPublicKey, nacl.box.keyPair.fromSecretKey(keys.recordSecretKey!).publicKey)
  // A record whose ephemeral key is of low order (all zero) opens to nothing, without throwing.
  assert.equal(openRecord(keys, Buffer.concat([Buffer.alloc(32), byNacl.subarray(32)])), null)
  const slot = await passphraseSlot('p', { access: 'full', master: MASTER }, 'p', { N: 1024, r: 8, p: 1 })
  const { payload } = await unlockWithSecret({ format: 'cairn-keyfile', version: 1, spaceId: SPACE, access: 'full', slots: [slot] }, 'p')
  assert.deepEqual(payload, { access: 'full', master: MASTER })
})
