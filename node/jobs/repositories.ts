import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile, stat, readdir, rename, rm } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { LocalRepository, readConfig, readKeyFile, writeKeyFile, type LocalBlockStore, type Repository, type StoreConfig } from '../../chunkstore/index.ts'
import { holdStore, type StoreHolder } from '../holder/index.ts'
import { formatKeyFile, passphraseSlot, recoveryKeySlot, unlockWithSecret, type KeyFile, type KeyPayload, type ScryptParams } from '../../crypto/index.ts'
import type { SpaceRecord } from '../inventory/index.ts'
import { EscrowUnsupportedError, RepositoryUnavailableError } from './errors.ts'

/** How the daemon reaches the data path: chunkstore's `openRepository` / `initRepository` / `openRepositoryOver`. */
export interface RepositoryOpener {
  open: (dir: string, options: { passphrase: string }) => Promise<Repository>
  /** Creates an empty store (it is opened with `open` afterwards). */
  init: (dir: string, options: { passphrase: string, cipher?: string }) => Promise<unknown>
  /** A repository over a block store held open elsewhere (the mesh replica), with the config and key file in `dir`; it changes nothing there. */
  over?: (dir: string, blocks: LocalBlockStore, options: { passphrase: string }) => Promise<Repository>
  /** scrypt cost of the passphrase slots the daemon adds to key files (tests pass a light one); default crypto's. */
  kdf?: ScryptParams
}

/** A space's key material in escrow (F13): its store's config.json and keys.json, and a recovery key that opens that key file. */
export interface EscrowedKeys {
  config: StoreConfig
  keys: KeyFile
  recoveryKey: string
  /** The recovery slot added, and the earlier escrow slots it replaced. */
  slot: string
  replaced: string[]
}

/** Label of the recovery slot that escrow adds; a new escrow replaces the slot so labelled. */
export const ESCROW_SLOT_LABEL = 'escrow'

/**
 * The stores of a user space, opened once and shared by its jobs (a store is opened by one
 * process at a time). Dedup scope "global": one store, `<data>/spaces/<id>`; scope "task": one
 * store per task, `<data>/spaces/<id>/tasks/<task id>`, so tasks share no chunks (F2). Each
 * space's passphrase is a random key in `<data>/keys/<id>.key` (mode 0600) until key slots
 * (issue 3) take over. A replication space adopted at a DR site (F13) keeps only the lost
 * store's config.json and keys.json in `<data>/spaces/<id>`; its repository reads the mesh
 * replica's blocks and changes nothing there.
 */
export interface Repositories {
  /** The store a task of the space backs up into (the space's only store for global dedup). */
  forTask: (space: SpaceRecord, taskId: string) => Promise<Repository>
  /** Every store of the space that exists (global: one; per task: one per task that backed up). */
  all: (space: SpaceRecord) => Promise<Repository[]>
  /** Bytes the space's store takes on disk. */
  diskUsage: (space: SpaceRecord) => Promise<number>
  /**
   * Creates the space's store if it has none and puts a new recovery slot labelled
   * ESCROW_SLOT_LABEL into its key file in place of any earlier one; returns the key material
   * once. Global dedup only (EscrowUnsupportedError otherwise).
   */
  escrow: (space: SpaceRecord) => Promise<EscrowedKeys>
  /**
   * Keeps a checked escrow for a replication space: its config.json, and its keys.json with a
   * first slot this node opens with its own random passphrase (the recovery key is not stored;
   * the escrowed slots are never tried at open). The folder appears whole or not at all.
   */
  adopt: (space: SpaceRecord, escrowed: { config: StoreConfig, keys: KeyFile, payload: KeyPayload }) => Promise<void>
  close: () => Promise<void>
}

export function createRepositories (dataDir: string, opener: RepositoryOpener | undefined, replica: () => LocalBlockStore | undefined = () => undefined): Repositories {
  const open = new Map<string, Promise<Repository>>()
  /** Each own store this daemon opened, offered to CLI commands pointed at it (node/holder/). */
  const holders: StoreHolder[] = []
  /** A CLI command that finds the daemon holding a space's store runs its operation here. */
  async function offer (dir: string, repo: Repository): Promise<Repository> {
    if (repo instanceof LocalRepository && !repo.shared) {
      try { holders.push(await holdStore({ dir, kind: 'serve', repo })) } catch {}
    }
    return repo
  }
  let keyFileWork: Promise<unknown> = Promise.resolve()
  /** Key-file changes one at a time: each reads the file, adds a slot and writes it back. */
  const serially = async <T>(fn: () => Promise<T>): Promise<T> => {
    const run = keyFileWork.then(fn, fn)
    keyFileWork = run.catch(() => {})
    return await run
  }
  const spaceDir = (s: SpaceRecord): string => join(dataDir, 'spaces', s.id)
  const storeDir = (s: SpaceRecord, taskId?: string): string => s.dedupScope === 'task' && taskId !== undefined ? join(spaceDir(s), 'tasks', taskId) : spaceDir(s)

  const keyFile = (s: SpaceRecord): string => join(dataDir, 'keys', `${s.id}.key`)

  async function passphrase (s: SpaceRecord): Promise<string> {
    const file = keyFile(s)
    if (existsSync(file)) return (await readFile(file, 'utf8')).trim()
    await mkdir(join(dataDir, 'keys'), { recursive: true, mode: 0o700 })
    const key = randomBytes(32).toString('base64url')
    await writeFile(file, key + '\n', { mode: 0o600, flag: 'wx' })
    return key
  }

  async function openStore (s: SpaceRecord, dir: string): Promise<Repository> {
    if (opener === undefined) throw new RepositoryUnavailableError('this daemon was started without a data path')
    const pass = await passphrase(s)
    if (s.type === 'replication') {
      const blocks = replica()
      if (blocks === undefined) throw new RepositoryUnavailableError(`user space ${s.name} is a DR copy in the mesh replica, and this node runs no mesh`)
      if (opener.over === undefined) throw new RepositoryUnavailableError('this daemon\'s data path cannot read the mesh replica')
      return await opener.over(dir, blocks, { passphrase: pass })
    }
    if (existsSync(join(dir, 'config.json'))) return await offer(dir, await opener.open(dir, { passphrase: pass }))
    await mkdir(dirname(dir), { recursive: true })
    await opener.init(dir, { passphrase: pass, cipher: s.cipher })
    return await offer(dir, await opener.open(dir, { passphrase: pass }))
  }

  async function du (p: string): Promise<number> {
    let total = 0
    for (const e of await readdir(p, { withFileTypes: true })) {
      const q = join(p, e.name)
      if (e.isDirectory()) total += await du(q)
      else if (e.isFile()) total += (await stat(q)).size
    }
    return total
  }

  /** A replication space has a repository once keys were adopted for it. */
  const adopted = (s: SpaceRecord): boolean => existsSync(join(spaceDir(s), 'config.json'))

  return {
    async forTask (s, taskId) {
      if (s.type === 'replication' && !adopted(s)) throw new RepositoryUnavailableError(`user space ${s.name} holds no adopted keys (POST /api/spaces/adopt)`)
      return await get(s, storeDir(s, taskId))
    },
    async all (s) {
      if (s.type === 'replication') return adopted(s) ? [await get(s, spaceDir(s))] : []
      if (s.dedupScope !== 'task') return existsSync(spaceDir(s)) ? [await get(s, spaceDir(s))] : []
      const tasksDir = join(spaceDir(s), 'tasks')
      if (!existsSync(tasksDir)) return []
      return await Promise.all((await readdir(tasksDir)).map(async id => await get(s, join(tasksDir, id))))
    },
    async diskUsage (s) { return existsSync(spaceDir(s)) ? await du(spaceDir(s)) : 0 },

    async escrow (s) {
      if (s.type === 'replication') throw new EscrowUnsupportedError(s.name, 'it is a DR copy of another site\'s store; escrow is taken at the site that backs up')
      if (s.dedupScope === 'task') throw new EscrowUnsupportedError(s.name, 'it keeps one store per task (dedup scope "task"), each with its own key; escrow covers spaces with one store (dedup scope "global")')
      const dir = spaceDir(s)
      await get(s, dir)
      const pass = await passphrase(s)
      return await serially(async () => {
        const file = readKeyFile(dir)
        const { payload } = await unlockWithSecret(file, pass, ['passphrase'])
        const { slot, recoveryKey } = await recoveryKeySlot(payload, ESCROW_SLOT_LABEL)
        const replaced = file.slots.filter(x => x.kind === 'recovery' && x.label === ESCROW_SLOT_LABEL).map(x => x.id)
        const keys: KeyFile = { ...file, slots: [...file.slots.filter(x => !replaced.includes(x.id)), slot] }
        writeKeyFile(dir, keys)
        return { config: readConfig(dir), keys, recoveryKey, slot: slot.id, replaced }
      })
    },

    async adopt (s, escrowed) {
      const dir = spaceDir(s)
      if (existsSync(dir)) throw new RepositoryUnavailableError(`${dir} exists already; nothing was written`)
      const tmp = `${dir}.adopting`
      try {
        const slot = await passphraseSlot(await passphrase(s), escrowed.payload, 'this node', opener?.kdf)
        await rm(tmp, { recursive: true, force: true })
        await mkdir(tmp, { recursive: true, mode: 0o700 })
        await writeFile(join(tmp, 'config.json'), JSON.stringify(escrowed.config, null, 2) + '\n', { mode: 0o600 })
        await writeFile(join(tmp, 'keys.json'), formatKeyFile({ ...escrowed.keys, slots: [slot, ...escrowed.keys.slots] }), { mode: 0o600 })
        await rename(tmp, dir)
      } catch (err) {
        await rm(tmp, { recursive: true, force: true })
        await rm(keyFile(s), { force: true })
        throw err
      }
    },

    async close () {
      await Promise.allSettled(holders.splice(0).map(async h => { await h.close() }))
      const all = [...open.values()]
      open.clear()
      await Promise.allSettled(all.map(async p => { await (await p).close() }))
    }
  }

  async function get (s: SpaceRecord, dir: string): Promise<Repository> {
    let p = open.get(dir)
    if (p === undefined) {
      p = openStore(s, dir)
      open.set(dir, p)
      p.catch(() => open.delete(dir))
    }
    try {
      return await p
    } catch (err) {
      if (err instanceof RepositoryUnavailableError) throw err
      throw new RepositoryUnavailableError((err as Error).message)
    }
  }
}
