// Issue 3 key slots (c): printed recovery keys, 8 groups of 5 Crockford base32 characters with
// a checksum; they open the store's recovery slot and catch typos before key derivation.
import test from 'node:test'
import assert from 'node:assert/strict'
import { formatRecoveryKey, newRecoveryKey, parseRecoveryKey, recoveryKeySlot, unlockWithRecoveryKey } from './recovery-key.ts'
import { newMasterKey, newSpaceId, passphraseSlot, unlockWithSecret, type KeyFile, type KeyPayload } from './keyring.ts'
import { RecoveryKeyFormatError, WrongPassphraseError } from './errors.ts'

const fixed = formatRecoveryKey(new Uint8Array(23).map((_, i) => i * 11 + 3))

test('a recovery key is 8 dash-separated groups of 5 characters from the Crockford alphabet', () => {
  for (let i = 0; i < 50; i++) {
    const key = newRecoveryKey()
    assert.match(key, /^[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){7}$/)
    assert.equal(parseRecoveryKey(key), key)
  }
  // Cross-checked with Python: base64.b32encode(secret + sha256(secret)[:2]) mapped to Crockford's alphabet.
  assert.equal(fixed, '0C71J-91F79-2N0PV-6E5Y8-F4MXN-2SVXJ-EMVZN-FBFS2')
})

test('case, spacing and the look-alikes O/0 and I/L/1 are forgiven', () => {
  const typed = fixed.toLowerCase().replaceAll('-', ' ').replaceAll('0', 'o').replaceAll('1', 'l')
  assert.equal(parseRecoveryKey(typed), fixed)
  assert.equal(parseRecoveryKey(`  ${fixed.replaceAll('-', '')}  `), fixed)
})

test('every single mistyped character of a key is caught by the checksum or the alphabet', () => {
  const chars = fixed.replaceAll('-', '')
  let caught = 0
  for (let i = 0; i < chars.length; i++) {
    for (const c of '0123456789ABCDEFGHJKMNPQRSTVWXYZU') {
      if (c === chars[i]) continue
      const typo = chars.slice(0, i) + c + chars.slice(i + 1)
      assert.throws(() => parseRecoveryKey(typo), RecoveryKeyFormatError, typo)
      caught++
    }
  }
  assert.equal(caught, 40 * 32)
  assert.throws(() => parseRecoveryKey(fixed.slice(0, -1)), RecoveryKeyFormatError)
  assert.throws(() => parseRecoveryKey(''), RecoveryKeyFormatError)
})

test('the recovery slot opens the key file with the printed key, and only with it', async () => {
  const payload: KeyPayload = { access: 'full', master: newMasterKey() }
  const { slot, recoveryKey } = await recoveryKeySlot(payload)
  assert.equal(slot.kind, 'recovery')
  assert.ok(!JSON.stringify(slot).includes(recoveryKey))
  const file: KeyFile = {
    format: 'cairn-keyfile', version: 1, spaceId: newSpaceId(), access: 'full',
    slots: [await passphraseSlot('a passphrase', payload, 'passphrase', { N: 1 << 10, r: 8, p: 1 }), slot]
  }
  const opened = await unlockWithRecoveryKey(file, recoveryKey.toLowerCase())
  assert.deepEqual(opened.payload, payload)
  assert.equal(opened.slot.id, slot.id)
  await assert.rejects(unlockWithRecoveryKey(file, newRecoveryKey()), WrongPassphraseError)
  // The passphrase does not open the recovery slot, and the recovery key is not a passphrase.
  await assert.rejects(unlockWithSecret(file, recoveryKey, ['passphrase']), WrongPassphraseError)
  assert.equal((await unlockWithSecret(file, 'a passphrase')).slot.kind, 'passphrase')
})
