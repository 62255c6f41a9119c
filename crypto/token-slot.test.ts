// Issue 3 key slots (b): the master key wrapped to a SoftHSM2 token's RSA-2048 or EC P-256 key
// (made by pkcs11-tool) opens only on that token; the private key never leaves it.
import test, { after, before } from 'node:test'
import assert from 'node:assert/strict'
import { withTokenSession } from './pkcs11-token.ts'
import { createTokenSlot, tokenSlot, unlockWithToken } from './token-slot.ts'
import { newMasterKey, newSpaceId, passphraseSlot, unlockWithSecret, writeOnlyKeys, deriveSpaceKeys, type KeyFile, type KeyPayload, type KeySlot } from './keyring.ts'
import { TokenSlotNotFoundError } from './errors.ts'
import { createOperatorToken, createSoftHsm, type OperatorToken, type SoftHsm } from './testing/index.ts'

let hsm: SoftHsm
let op: OperatorToken
const other = { tokenLabel: 'other-key', pin: '4321' }

before(() => {
  hsm = createSoftHsm()
  op = createOperatorToken(hsm)
  hsm.initToken({ label: other.tokenLabel, pin: other.pin })
  hsm.generateKeyPair({ tokenLabel: other.tokenLabel, pin: other.pin, label: 'other-ec', id: '01', type: 'ec-p256' })
  hsm.generateKeyPair({ tokenLabel: other.tokenLabel, pin: other.pin, label: 'other-rsa', id: '02', type: 'rsa-2048' })
})
after(() => hsm.dispose())

const onToken = <T>(fn: Parameters<typeof withTokenSession<T>>[1], token: { tokenLabel: string, pin: string } = op): T =>
  withTokenSession({ modulePath: hsm.modulePath, tokenLabel: token.tokenLabel, pin: token.pin }, fn)

function keyFile (spaceId: string, slots: KeySlot[]): KeyFile {
  return { format: 'cairn-keyfile', version: 1, spaceId, access: 'full', slots }
}

test('an RSA token slot opens on the token; on SoftHSM2 it falls back to OAEP with SHA-1', () => {
  const master = newMasterKey()
  const spaceId = newSpaceId()
  const slot = onToken(s => createTokenSlot(s, { label: 'operator-rsa' }, { access: 'full', master }))
  assert.equal(slot.kind, 'token')
  assert.equal(slot.extra?.scheme, 'rsa-oaep-sha1')
  assert.equal(slot.extra?.tokenLabel, op.tokenLabel)
  assert.equal(slot.extra?.keyId, '02')
  const { payload } = onToken(s => unlockWithToken(keyFile(spaceId, [slot]), s))
  assert.deepEqual(payload, { access: 'full', master })
})

test('an EC P-256 token slot (ECDH on the token, HKDF, secretbox) opens on the token', () => {
  const master = newMasterKey()
  const slot = onToken(s => createTokenSlot(s, { id: '01' }, { access: 'full', master }))
  assert.equal(slot.extra?.scheme, 'ecdh-p256-hkdf-sha256')
  assert.equal(Buffer.from(slot.extra?.ephemeralPublicKey ?? '', 'base64').length, 65)
  assert.deepEqual(onToken(s => unlockWithToken(keyFile('s', [slot]), s)).payload, { access: 'full', master })
})

test('a slot made from the public key alone (no PIN) opens later on the token, and carries write-only keys too', () => {
  const spaceId = newSpaceId()
  const keys = writeOnlyKeys(deriveSpaceKeys(newMasterKey(), spaceId))
  const publicKey = onToken(s => s.findKeyPair({ label: 'operator-ec' }).publicKey)
  const slot = tokenSlot({ access: 'write-only', keys }, { tokenLabel: op.tokenLabel, keyLabel: 'operator-ec', keyId: '01', publicKey })
  const file: KeyFile = { ...keyFile(spaceId, [slot]), access: 'write-only' }
  const { payload } = onToken(s => unlockWithToken(file, s))
  assert.deepEqual(payload, { access: 'write-only', keys })
})

test('passphrase and token slots of one key file open the same master key', async () => {
  const master = newMasterKey()
  const payload: KeyPayload = { access: 'full', master }
  const file = keyFile(newSpaceId(), [
    await passphraseSlot('correct horse', payload, 'passphrase', { N: 1 << 10, r: 8, p: 1 }),
    onToken(s => createTokenSlot(s, { label: 'operator-ec' }, payload)),
    onToken(s => createTokenSlot(s, { label: 'operator-rsa' }, payload))
  ])
  assert.deepEqual((await unlockWithSecret(file, 'correct horse')).payload, payload)
  const viaToken = onToken(s => unlockWithToken(file, s))
  assert.deepEqual(viaToken.payload, payload)
  assert.equal(viaToken.slot.kind, 'token')
})

test('another token, even with keys of the same ids, cannot open the slots', () => {
  const payload: KeyPayload = { access: 'full', master: newMasterKey() }
  const file = keyFile('s', [onToken(s => createTokenSlot(s, { id: '01' }, payload)), onToken(s => createTokenSlot(s, { id: '02' }, payload))])
  assert.throws(() => onToken(s => unlockWithToken(file, s), other), (err: unknown) =>
    err instanceof TokenSlotNotFoundError && err.message.includes(other.tokenLabel))
  assert.throws(() => onToken(s => unlockWithToken(keyFile('s', []), s)), TokenSlotNotFoundError)
})

test('altered token slots do not open', () => {
  const payload: KeyPayload = { access: 'full', master: newMasterKey() }
  const rsa = onToken(s => createTokenSlot(s, { id: '02' }, payload))
  const ec = onToken(s => createTokenSlot(s, { id: '01' }, payload))
  const flip = (b64: string, at: number): string => { const b = Buffer.from(b64, 'base64'); b[at] ^= 1; return b.toString('base64') }
  const altered: KeySlot[] = [
    { ...rsa, wrapped: flip(rsa.wrapped, 30) },
    { ...rsa, extra: { ...rsa.extra, encryptedKey: flip(rsa.extra?.encryptedKey ?? '', 100) } },
    { ...ec, wrapped: flip(ec.wrapped, 40) },
    { ...ec, extra: { ...ec.extra, ephemeralPublicKey: flip(ec.extra?.ephemeralPublicKey ?? '', 64) } },
    { ...ec, extra: { ...ec.extra, scheme: 'rsa-oaep-sha256' } }
  ]
  for (const slot of altered) assert.throws(() => onToken(s => unlockWithToken(keyFile('s', [slot]), s)), TokenSlotNotFoundError)
})
