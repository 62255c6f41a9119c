// Which BlockStore the mesh daemon serves. Until chunkstore exports its LevelDB store
// (issue 4 switches to it as soon as it lands), a folder with one file per block.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import type { BlockStore } from '../../chunkstore/index.ts'

export interface OpenedStore { blocks: BlockStore, close: () => Promise<void> }

async function matches (cid: CID, bytes: Uint8Array): Promise<boolean> {
  const d = await sha256.digest(bytes)
  return Buffer.from(d.digest).equals(Buffer.from(cid.multihash.digest))
}

export async function openStore (dir: string): Promise<OpenedStore> {
  mkdirSync(join(dir, 'blocks'), { recursive: true })
  const file = (cid: CID): string => join(dir, 'blocks', cid.toString())
  const rootsFile = join(dir, 'roots.json')
  const roots = (): string[] => existsSync(rootsFile) ? JSON.parse(readFileSync(rootsFile, 'utf8')) : []
  const named = (name: string, message: string): Error => Object.assign(new Error(message), { name })
  const blocks: BlockStore = {
    has: async (cid) => existsSync(file(cid)),
    hasMany: async (cids) => cids.map(c => existsSync(file(c))),
    get: async (cid, options) => {
      if (!existsSync(file(cid))) throw named('BlockNotFoundError', `block ${cid.toString()} not found`)
      const bytes = new Uint8Array(await readFile(file(cid)))
      if (options?.verify === true && !await matches(cid, bytes)) throw named('CorruptBlockError', `block ${cid.toString()} is corrupt`)
      return bytes
    },
    put: async (cid, bytes) => {
      if (!await matches(cid, bytes)) throw named('CidMismatchError', 'bytes do not match the CID')
      if (!existsSync(file(cid))) { const tmp = `${file(cid)}.${process.pid}.${Math.random()}.tmp`; await writeFile(tmp, bytes); await rename(tmp, file(cid)) }
    },
    flush: async () => {},
    cids: async function * () { for (const n of readdirSync(join(dir, 'blocks'))) if (!n.endsWith('.tmp')) yield CID.parse(n) },
    snapshotRoots: async () => roots().map(s => CID.parse(s)),
    addSnapshotRoot: async (cid) => { const r = new Set(roots()); r.add(cid.toString()); writeFileSync(rootsFile, JSON.stringify([...r])) }
  }
  return { blocks, close: async () => {} }
}
