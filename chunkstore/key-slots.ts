import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { formatKeyFile, parseKeyFile, passphraseSlot, payloadKeys, unlockWithSecret } from '../crypto/index.ts'
import type { KeyFile, KeyPayload, KeySlot, ScryptParams, SpaceKeys } from '../crypto/index.ts'
import { writeFileAtomic } from './atomic-file.ts'
import { KeySlotError, StoreCorruptError } from './errors.ts'

// A store's key file (`keys.json`, doc/keys.md): its slots, each wrapping the store's keys
// under a passphrase (token and recovery slots: crypto/). Every change is written atomically.

const KEYS = 'keys.json'

export function readKeyFile (dir: string): KeyFile {
  const p = join(dir, KEYS)
  if (!existsSync(p)) throw new StoreCorruptError(`The store's key file ${p} is missing; restore it from a copy (without it the data cannot be read).`)
  return parseKeyFile(readFileSync(p, 'utf8'))
}

export function writeKeyFile (dir: string, file: KeyFile): void {
  writeFileAtomic(join(dir, KEYS), formatKeyFile(file))
}

/** Unlocks the key file with a passphrase (or recovery key). */
export async function unlockKeys (dir: string, passphrase: string): Promise<{ keys: SpaceKeys, payload: KeyPayload, slot: KeySlot }> {
  const file = readKeyFile(dir)
  const { payload, slot } = await unlockWithSecret(file, passphrase)
  return { keys: payloadKeys(payload, file.spaceId), payload, slot }
}

export async function addPassphrase (dir: string, current: string, added: string, label = 'passphrase', kdf?: ScryptParams): Promise<KeySlot> {
  const file = readKeyFile(dir)
  const { payload } = await unlockWithSecret(file, current)
  const slot = await passphraseSlot(added, payload, label, kdf)
  writeKeyFile(dir, { ...file, slots: [...file.slots, slot] })
  return slot
}

export async function removeKeySlot (dir: string, current: string, slotId: string): Promise<void> {
  const file = readKeyFile(dir)
  await unlockWithSecret(file, current)
  if (!file.slots.some(s => s.id === slotId)) throw new KeySlotError(`No key slot with id ${slotId}; list them with "cairn key list".`)
  if (file.slots.length === 1) throw new KeySlotError('Refusing to remove the last key slot: the store could never be opened again. Add another slot first.')
  writeKeyFile(dir, { ...file, slots: file.slots.filter(s => s.id !== slotId) })
}

export async function changePassphrase (dir: string, current: string, next: string, kdf?: ScryptParams): Promise<KeySlot> {
  const file = readKeyFile(dir)
  const { payload, slot: old } = await unlockWithSecret(file, current)
  const slot = await passphraseSlot(next, payload, old.label, kdf)
  writeKeyFile(dir, { ...file, slots: file.slots.map(s => s.id === old.id ? slot : s) })
  return slot
}

export function listKeySlots (dir: string): Array<Omit<KeySlot, 'wrapped' | 'kdf'>> {
  return readKeyFile(dir).slots.map(({ wrapped: _w, kdf: _k, ...rest }) => rest)
}
