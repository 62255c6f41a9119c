import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile, stat, readdir } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
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
 * One store per user space under `<data>/spaces/<id>`, opened once and shared by that space's
 * jobs (a store is opened by one process at a time). Each space's passphrase is a random key in
 * `<data>/keys/<id>.key` (mode 0600) until key slots (issue 3) take over.
 */
export interface Repositories {
  forSpace: (space: SpaceRecord) => Promise<Repository>
  /** Bytes the space's store takes on disk. */
  diskUsage: (space: SpaceRecord) => Promise<number>
  close: () => Promise<void>
}

export function createRepositories (dataDir: string, opener: RepositoryOpener | undefined): Repositories {
  const open = new Map<string, Promise<Repository>>()
  const dirOf = (s: SpaceRecord): string => join(dataDir, 'spaces', s.id)

  async function passphrase (s: SpaceRecord): Promise<string> {
    const file = join(dataDir, 'keys', `${s.id}.key`)
    if (existsSync(file)) return (await readFile(file, 'utf8')).trim()
    await mkdir(join(dataDir, 'keys'), { recursive: true, mode: 0o700 })
    const key = randomBytes(32).toString('base64url')
    await writeFile(file, key + '\n', { mode: 0o600, flag: 'wx' })
    return key
  }

  async function openSpace (s: SpaceRecord): Promise<Repository> {
    if (opener === undefined) throw new RepositoryUnavailableError('this daemon was started without a data path')
    const dir = dirOf(s)
    const pass = await passphrase(s)
    if (existsSync(dir)) return await opener.open(dir, { passphrase: pass })
    await mkdir(join(dataDir, 'spaces'), { recursive: true })
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
    async forSpace (s) {
      let p = open.get(s.id)
      if (p === undefined) {
        p = openSpace(s)
        open.set(s.id, p)
        p.catch(() => open.delete(s.id))
      }
      try {
        return await p
      } catch (err) {
        if (err instanceof RepositoryUnavailableError) throw err
        throw new RepositoryUnavailableError((err as Error).message)
      }
    },
    async diskUsage (s) { return existsSync(dirOf(s)) ? await du(dirOf(s)) : 0 },
    async close () {
      const all = [...open.values()]
      open.clear()
      await Promise.allSettled(all.map(async p => { await (await p).close() }))
    }
  }
}
