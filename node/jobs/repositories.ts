import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile, stat, readdir } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Repository } from '../../chunkstore/index.ts'
import type { SpaceRecord } from '../inventory/index.ts'
import { RepositoryUnavailableError } from './errors.ts'

/** How the daemon reaches the data path: chunkstore's `openRepository` / `initRepository`. */
export interface RepositoryOpener {
  open: (dir: string, options: { passphrase: string }) => Promise<Repository>
  /** Creates an empty store (it is opened with `open` afterwards). */
  init: (dir: string, options: { passphrase: string, cipher?: string }) => Promise<unknown>
}

/**
 * The stores of a user space, opened once and shared by its jobs (a store is opened by one
 * process at a time). Dedup scope "global": one store, `<data>/spaces/<id>`; scope "task": one
 * store per task, `<data>/spaces/<id>/tasks/<task id>`, so tasks share no chunks (F2). Each
 * space's passphrase is a random key in `<data>/keys/<id>.key` (mode 0600) until key slots
 * (issue 3) take over.
 */
export interface Repositories {
  /** The store a task of the space backs up into (the space's only store for global dedup). */
  forTask: (space: SpaceRecord, taskId: string) => Promise<Repository>
  /** Every store of the space that exists (global: one; per task: one per task that backed up). */
  all: (space: SpaceRecord) => Promise<Repository[]>
  /** Bytes the space's store takes on disk. */
  diskUsage: (space: SpaceRecord) => Promise<number>
  close: () => Promise<void>
}

export function createRepositories (dataDir: string, opener: RepositoryOpener | undefined): Repositories {
  const open = new Map<string, Promise<Repository>>()
  const spaceDir = (s: SpaceRecord): string => join(dataDir, 'spaces', s.id)
  const storeDir = (s: SpaceRecord, taskId?: string): string => s.dedupScope === 'task' && taskId !== undefined ? join(spaceDir(s), 'tasks', taskId) : spaceDir(s)

  async function passphrase (s: SpaceRecord): Promise<string> {
    const file = join(dataDir, 'keys', `${s.id}.key`)
    if (existsSync(file)) return (await readFile(file, 'utf8')).trim()
    await mkdir(join(dataDir, 'keys'), { recursive: true, mode: 0o700 })
    const key = randomBytes(32).toString('base64url')
    await writeFile(file, key + '\n', { mode: 0o600, flag: 'wx' })
    return key
  }

  async function openStore (s: SpaceRecord, dir: string): Promise<Repository> {
    if (opener === undefined) throw new RepositoryUnavailableError('this daemon was started without a data path')
    const pass = await passphrase(s)
    if (existsSync(join(dir, 'config.json'))) return await opener.open(dir, { passphrase: pass })
    await mkdir(dirname(dir), { recursive: true })
    await opener.init(dir, { passphrase: pass, cipher: s.cipher })
    return await opener.open(dir, { passphrase: pass })
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

  return {
    async forTask (s, taskId) { return await get(s, storeDir(s, taskId)) },
    async all (s) {
      if (s.dedupScope !== 'task') return existsSync(spaceDir(s)) ? [await get(s, spaceDir(s))] : []
      const tasksDir = join(spaceDir(s), 'tasks')
      if (!existsSync(tasksDir)) return []
      return await Promise.all((await readdir(tasksDir)).map(async id => await get(s, join(tasksDir, id))))
    },
    async diskUsage (s) { return existsSync(spaceDir(s)) ? await du(spaceDir(s)) : 0 },
    async close () {
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
