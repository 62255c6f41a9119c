import { createHash, randomBytes } from 'node:crypto'
import { passphraseSlot, unlockWithSecret, type KeyFile, type KeyPayload, type KeySlot, type ScryptParams } from './keyring.ts'
import { RecoveryKeyFormatError } from './errors.ts'

/*
 * Printed recovery keys: a key slot whose secret is printed on paper at `cairn init` and typed
 * back when every passphrase and token is lost.
 *
 * Format: 25 bytes = 23 random bytes (184 bits) || the first 2 bytes of SHA-256 of those 23,
 * written in Crockford base32 (0-9 A-Z without I L O U) as 8 groups of 5 characters:
 *   "7M3QK-0D1ZX-…"   (40 characters of 5 bits = 200 bits, no padding)
 * Reading is forgiving the way Crockford base32 is meant to be: case, spaces and dashes are
 * ignored, O reads as 0 and I or L as 1. The 16-bit checksum catches typos before the
 * (deliberately slow) key derivation runs, with a clear error instead of "wrong key".
 *
 * The slot is a passphrase slot of kind 'recovery' keyed by the canonical text: 184 bits of
 * entropy need no stretching, so it uses a light scrypt setting that keeps unlocking quick.
 */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
const RANDOM_BYTES = 23
const CHECK_BYTES = 2
const GROUPS = 8
const GROUP_LENGTH = 5
export const RECOVERY_SCRYPT: ScryptParams = { N: 1 << 12, r: 8, p: 1 }

/** A fresh recovery key in its printed form. */
export function newRecoveryKey (): string {
  return formatRecoveryKey(new Uint8Array(randomBytes(RANDOM_BYTES)))
}

/** The printed form of 23 secret bytes (checksum added here). */
export function formatRecoveryKey (secret: Uint8Array): string {
  if (secret.length !== RANDOM_BYTES) throw new TypeError(`a recovery key holds ${RANDOM_BYTES} random bytes`)
  const bytes = Buffer.concat([secret, checksum(secret)])
  let bits = 0
  let value = 0
  let text = ''
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      text += ALPHABET[(value >> (bits - 5)) & 31]
      bits -= 5
    }
    value &= (1 << bits) - 1
  }
  return text.match(new RegExp(`.{${GROUP_LENGTH}}`, 'g'))?.join('-') ?? ''
}

/** Parses a typed recovery key into its canonical printed form; throws RecoveryKeyFormatError. */
export function parseRecoveryKey (typed: string): string {
  const chars = typed.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1')
  if (chars.length !== GROUPS * GROUP_LENGTH) throw new RecoveryKeyFormatError(`${chars.length} characters instead of ${GROUPS * GROUP_LENGTH}`)
  const bytes: number[] = []
  let bits = 0
  let value = 0
  for (const ch of chars) {
    const v = ALPHABET.indexOf(ch)
    if (v < 0) throw new RecoveryKeyFormatError(`"${ch}" is not one of its characters`)
    value = (value << 5) | v
    bits += 5
    if (bits >= 8) {
      bytes.push((value >> (bits - 8)) & 0xff)
      bits -= 8
    }
    value &= (1 << bits) - 1
  }
  const secret = new Uint8Array(bytes.slice(0, RANDOM_BYTES))
  if (!checksum(secret).equals(Buffer.from(bytes.slice(RANDOM_BYTES)))) throw new RecoveryKeyFormatError('a character is mistyped: the checksum does not match')
  return formatRecoveryKey(secret)
}

/** A new recovery slot wrapping `payload`, and the recovery key to print (shown once, never stored). */
export async function recoveryKeySlot (payload: KeyPayload, label = 'recovery key', params: ScryptParams = RECOVERY_SCRYPT): Promise<{ slot: KeySlot, recoveryKey: string }> {
  const recoveryKey = newRecoveryKey()
  const slot = await passphraseSlot(recoveryKey, payload, label, params)
  return { slot: { ...slot, kind: 'recovery' }, recoveryKey }
}

/** Opens `file` with a typed recovery key (any spacing and case). */
export async function unlockWithRecoveryKey (file: KeyFile, typed: string): Promise<{ payload: KeyPayload, slot: KeySlot }> {
  return await unlockWithSecret(file, parseRecoveryKey(typed), ['recovery'])
}

function checksum (secret: Uint8Array): Buffer {
  return createHash('sha256').update(secret).digest().subarray(0, CHECK_BYTES)
}
