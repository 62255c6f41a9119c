import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { newMasterKey, newSpaceId, passphraseSlot } from '../crypto/index.ts'
import type { ScryptParams, SpaceKeys } from '../crypto/index.ts'
import { writeFileAtomic } from './atomic-file.ts'
import { suiteByName } from './codec.ts'
import { InvalidOptionError, ReplicaNotAStoreError, StoreCorruptError, StoreExistsError, StoreNotFoundError } from './errors.ts'
import { DEFAULT_CDC, FIXED_SIZES } from './fastcdc.ts'
import { writeKeyFile } from './key-slots.ts'
import { LocalBlockStore } from './local-block-store.ts'
import { isReplica } from './replica-marker.ts'
import type { ChunkerSpec } from './types.ts'

// A store's folder as `cairn init` makes it (doc/design.md "Store layout"): `config.json`,
// the key file (key-slots.ts), the index and the segments; and the options a store is
// created and opened with.

/** Store config format v1 (`config.json`, doc/design.md "Store layout"). */
export interface StoreConfig {
  format: 'cairn-store'
  version: 1
  id: string
  spaceId: string
  cipher: string
  created: string
  chunker: ChunkerSpec
  compression: number
}

export interface InitOptions {
  passphrase: string
  cipher?: string
  chunker?: ChunkerSpec
  compression?: number
  /** scrypt cost for the first passphrase slot (default: OWASP's recommendation). */
  kdf?: ScryptParams
  /** Use this master key (a mesh's) instead of a new one. */
  masterKey?: Uint8Array
}

export interface OpenOptions {
  passphrase?: string
  /**
   * Already unlocked keys (e.g. from a token slot), or keys still being derived: a read-only
   * open then copies the index meanwhile (and closes it again if they fail).
   */
  keys?: SpaceKeys | Promise<SpaceKeys>
  /**
   * For commands that only read (snapshots, ls, check, restore): not a byte of the store
   * changes (LocalBlockStore.open, `readOnly`); anything that would write throws.
   */
  readOnly?: boolean
  /** An index that does not match the segments is reported in `blocks.damage` instead of refused (check). */
  reportDamage?: boolean
  /**
   * Check every table of the index against its checksums before using it (check and restore:
   * LevelDB would read a damaged table without noticing). Costs a read of the whole index.
   */
  verifyIndex?: boolean
}

const CONFIG = 'config.json'

export function readConfig (dir: string): StoreConfig {
  const p = join(dir, CONFIG)
  if (!existsSync(p)) throw isReplica(dir) ? new ReplicaNotAStoreError(dir, 'open') : new StoreNotFoundError(dir)
  let c: StoreConfig
  try { c = JSON.parse(readFileSync(p, 'utf8')) } catch (cause) { throw new StoreCorruptError(`${p} is not valid JSON; restore it from a copy.`, { cause }) }
  if (c.format !== 'cairn-store') throw new StoreNotFoundError(dir)
  if (c.version !== 1) throw new StoreCorruptError(`Store format version ${String(c.version)} is not supported by this Cairn; upgrade Cairn.`)
  return c
}

export function validateChunker (c: ChunkerSpec): ChunkerSpec {
  if (c.kind === 'fixed' && !FIXED_SIZES.includes(c.size)) {
    throw new InvalidOptionError(`Fixed chunk size ${c.size} is not one of ${FIXED_SIZES.map(s => `${s / 1024}K`).join(', ')}.`)
  }
  if (c.kind === 'cdc' && !([c.min, c.avg, c.max].every(Number.isInteger) && c.min >= 64 && c.min < c.avg && c.avg < c.max && c.max <= 64 << 20)) {
    throw new InvalidOptionError('CDC chunk sizes must be whole numbers with 64 B <= min < avg < max <= 64 MiB.')
  }
  return c
}

/** Creates a store in an empty or missing folder. */
export async function initRepository (dir: string, options: InitOptions): Promise<StoreConfig> {
  if (existsSync(dir) && readdirSync(dir).length > 0) throw isReplica(dir) ? new ReplicaNotAStoreError(dir, 'init') : new StoreExistsError(dir)
  const cipher = options.cipher ?? 'xsalsa20-poly1305'
  if (suiteByName(cipher) === undefined) throw new InvalidOptionError(`Unknown cipher "${cipher}".`)
  const compression = options.compression ?? 3
  if (!Number.isInteger(compression) || compression < -7 || compression > 19) throw new InvalidOptionError('Compression level must be off (0), -7…-1 or 1…19.')
  const spaceId = newSpaceId()
  const master = options.masterKey ?? newMasterKey()
  const slot = await passphraseSlot(options.passphrase, { access: 'full', master }, 'passphrase', options.kdf)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const config: StoreConfig = {
    format: 'cairn-store', version: 1, id: newSpaceId(), spaceId, cipher, created: new Date().toISOString(),
    chunker: validateChunker(options.chunker ?? { kind: 'cdc', ...DEFAULT_CDC }), compression
  }
  writeKeyFile(dir, { format: 'cairn-keyfile', version: 1, spaceId, access: 'full', slots: [slot] })
  writeFileAtomic(join(dir, CONFIG), JSON.stringify(config, null, 2) + '\n')
  const store = await LocalBlockStore.open(join(dir, 'index'), join(dir, 'segments'))
  await store.close()
  return config
}
