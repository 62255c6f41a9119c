import { validateChunker, type StoreConfig } from '../../chunkstore/index.ts'
import { KeyFileError, parseKeyFile, RecoveryKeyFormatError, unlockWithRecoveryKey, WrongPassphraseError, type KeyFile, type KeyPayload, type KeySlot } from '../../crypto/index.ts'
import { CIPHERS, type Actor, type Inventory, type SpaceRecord } from '../inventory/index.ts'
import { said, type LogBook } from '../logs/index.ts'
import type { Tasks } from './tasks.ts'
import type { Repositories } from './repositories.ts'
import { EscrowAdoptedError, EscrowInvalidError, MeshNotRunningError, RecoveryKeyRejectedError } from './errors.ts'

/*
 * DR restore through the node daemon (F13). At the site that backs up, an admin takes a user
 * space's key material into escrow: its store's config.json and keys.json, with a new recovery
 * slot whose recovery key is shown once. At a DR site, while that site is down, an admin adopts
 * the escrow as a user space of type "replication": its repository reads the lost store's
 * snapshots from the mesh replica (which already holds them) and restores them with the
 * ordinary restore job. Neither secret nor key file is ever written to a log.
 */

/** The answer of an escrow, given once: keep it apart from the site (printed, or offline). */
export interface EscrowAnswer {
  space: { id: string, name: string }
  /** This node's mesh site, when it runs a mesh. */
  site?: string
  /** The space's tasks now: a DR site shows snapshots under these names. */
  tasks: Array<{ id: string, name: string }>
  /** The store's config.json and keys.json (with the new recovery slot). */
  config: StoreConfig
  keys: KeyFile
  /** Opens the recovery slot; shown only this once and stored nowhere. */
  recoveryKey: string
  /** Id of the recovery slot added, and of the earlier escrow slots it replaced. */
  slot: string
  replaced: string[]
}

export interface AdoptRequest {
  name: string
  nodeId: string
  ownerId: string
  config: unknown
  keys: unknown
  recoveryKey: string
  /** The escrow's site; null or absent: unknown. */
  site?: string | null
  tasks?: Array<{ id: string, name: string }>
}

/** A checked escrow: the config and key file are one store's, and the recovery key opens it to the full key. */
export interface CheckedEscrow { config: StoreConfig, keys: KeyFile, payload: KeyPayload }

/** Bounds on a recovery slot's scrypt cost: an escrow is input, and a hostile one must not take the node's memory. */
const MAX_SCRYPT = { N: 1 << 16, r: 8, p: 4 }
const MAX_SLOTS = 64

/**
 * DR key escrow (F13): a site's user-space keys taken out for a DR site, and a DR site adopting
 * them as a replication space over its mesh replica (doc/mesh.md "Restoring at a DR site").
 *
 * Contract:
 * - `escrow` adds a recovery slot labelled `escrow` to the space's key file (replacing the
 *   previous one), returns its recovery key once and stores it nowhere; it is audited.
 * - `adopt` checks everything (the files are one store's config and full key file, the recovery
 *   key opens them) before it stores anything; on any failure after the space record was made,
 *   the record is removed again. It needs a running mesh (MeshNotRunningError).
 */
export interface Escrow {
  escrow: (a: Actor, spaceId: string) => Promise<EscrowAnswer>
  adopt: (a: Actor, req: AdoptRequest) => Promise<{ space: SpaceRecord, snapshots: number }>
}

export interface EscrowComponents {
  inventory: Inventory
  repositories: Repositories
  logs: LogBook
  tasks: Tasks
  /** The mesh the daemon hosts, if any: its site name goes into an escrow; adoption needs it. */
  mesh: () => { site: () => string } | undefined
}

export function createEscrow (components: EscrowComponents): Escrow {
  const { inventory, repositories, logs, tasks } = components
  return {
    async escrow (a, spaceId) {
      const space = await inventory.space(a.user, spaceId)
      const e = await repositories.escrow(space)
      const mine = (await tasks.list(a.user)).filter(t => t.spaceId === space.id).map(t => ({ id: t.id, name: t.name }))
      await logs.audit({ user: a.user.name, source: a.source, action: 'space.escrow', target: space.id, detail: { store: e.config.id, slot: e.slot, replaced: e.replaced } })
      await logs.write({
        type: 'storage', level: 'warning', user: a.user.name, source: a.source, ownerId: space.ownerId,
        message: `Keys of user space [${space.name}] were taken into escrow (recovery slot ${e.slot}${e.replaced.length > 0 ? `, replacing ${e.replaced.join(', ')}` : ''})`,
        text: said(e.replaced.length > 0 ? 'ESCROW_TAKEN_REPLACING' : 'ESCROW_TAKEN', { name: space.name, slot: e.slot, replaced: e.replaced.length > 0 ? e.replaced.join(', ') : undefined })
      })
      const site = components.mesh()?.site()
      return { space: { id: space.id, name: space.name }, ...(site !== undefined && site !== '' ? { site } : {}), tasks: mine, config: e.config, keys: e.keys, recoveryKey: e.recoveryKey, slot: e.slot, replaced: e.replaced }
    },

    async adopt (a, req) {
      if (components.mesh() === undefined) throw new MeshNotRunningError()
      const checked = await checkEscrow(req)
      const site = req.site ?? undefined
      const twin = (await inventory.listSpaces(a.user)).find(s => s.origin?.store === checked.config.id)
      if (twin !== undefined) throw new EscrowAdoptedError(checked.config.id, twin.name)
      const space = await inventory.createSpace(a, {
        name: req.name, type: 'replication', nodeId: req.nodeId, ownerId: req.ownerId, capacityBytes: 0,
        cipher: checked.config.cipher as SpaceRecord['cipher'], dedupScope: 'global',
        origin: { store: checked.config.id, ...(site !== undefined ? { site } : {}), tasks: req.tasks ?? [] }
      })
      let snapshots: number
      try {
        await repositories.adopt(space, checked)
        const [repo] = await repositories.all(space)
        snapshots = (await repo.snapshots()).length
      } catch (err) {
        await inventory.removeSpace(a, space.id).catch(() => {})
        throw err
      }
      await logs.audit({ user: a.user.name, source: a.source, action: 'space.adopt', target: space.id, detail: { store: checked.config.id, site, snapshots } })
      await logs.write({
        type: 'storage', level: 'warning', user: a.user.name, source: a.source, ownerId: space.ownerId,
        message: `Escrowed keys of store ${checked.config.id}${site !== undefined ? ` (site ${site})` : ''} adopted as replication space [${space.name}]: ${snapshots} snapshots readable in the mesh replica`,
        text: said(site !== undefined ? 'ESCROW_ADOPTED_SITE' : 'ESCROW_ADOPTED', { store: checked.config.id, site, name: space.name, snapshots })
      })
      return { space, snapshots }
    }
  }
}

/** Checks escrowed material before anything is stored: formats, one store's config and keys, full access, the recovery key. */
export async function checkEscrow (m: { config: unknown, keys: unknown, recoveryKey: string }): Promise<CheckedEscrow> {
  const c = m.config as Partial<StoreConfig> | null
  if (c?.format !== 'cairn-store' || c.version !== 1) throw new EscrowInvalidError('"config" is not a store\'s config.json (format "cairn-store", version 1)')
  if (typeof c.id !== 'string' || typeof c.spaceId !== 'string' || typeof c.cipher !== 'string' || typeof c.compression !== 'number' || typeof c.chunker !== 'object' || c.chunker === null) {
    throw new EscrowInvalidError('"config" lacks id, spaceId, cipher, chunker or compression')
  }
  if (!(CIPHERS as readonly string[]).includes(c.cipher)) throw new EscrowInvalidError(`"config" names cipher "${c.cipher}", which this node does not know`)
  try { validateChunker(c.chunker) } catch (err) { throw new EscrowInvalidError(`"config": ${(err as Error).message}`) }
  let keys: KeyFile
  try { keys = parseKeyFile(JSON.stringify(m.keys)) } catch (err) { throw new EscrowInvalidError(`"keys": ${(err as Error).message}`) }
  if (keys.spaceId !== c.spaceId) throw new EscrowInvalidError(`config.json is store space ${c.spaceId}'s and keys.json is ${keys.spaceId}'s: they are not one store's`)
  if (keys.access !== 'full') throw new EscrowInvalidError('keys.json is a write-only key file (a branch\'s), which cannot read snapshots; escrow the store that holds the full key')
  if (keys.slots.length > MAX_SLOTS || !keys.slots.every(wellFormed)) throw new EscrowInvalidError(`"keys" has malformed key slots (or more than ${MAX_SLOTS})`)
  if (!keys.slots.some(s => s.kind === 'recovery')) throw new RecoveryKeyRejectedError('keys.json has no recovery slot')
  try {
    const { payload } = await unlockWithRecoveryKey(keys, m.recoveryKey)
    if (payload.access !== 'full') throw new EscrowInvalidError('the recovery slot holds a write-only key')
    return { config: c as StoreConfig, keys, payload }
  } catch (err) {
    if (err instanceof RecoveryKeyFormatError) throw new RecoveryKeyRejectedError(err.message)
    if (err instanceof WrongPassphraseError) throw new RecoveryKeyRejectedError('no recovery slot of keys.json opens with it')
    if (err instanceof KeyFileError) throw new EscrowInvalidError(`"keys": ${err.message}`)
    throw err
  }
}

/** A slot of the right shape; a recovery slot (the one tried here) also of bounded cost. */
function wellFormed (s: KeySlot): boolean {
  if (typeof s !== 'object' || s === null || typeof s.id !== 'string' || typeof s.kind !== 'string' || typeof s.wrapped !== 'string') return false
  if (s.kind !== 'recovery') return true
  const k = s.kdf
  return typeof k === 'object' && k !== null && k.name === 'scrypt' && typeof k.salt === 'string' &&
    [k.N, k.r, k.p].every(Number.isInteger) && k.N >= 2 && (k.N & (k.N - 1)) === 0 &&
    k.N <= MAX_SCRYPT.N && k.r >= 1 && k.r <= MAX_SCRYPT.r && k.p >= 1 && k.p <= MAX_SCRYPT.p
}
