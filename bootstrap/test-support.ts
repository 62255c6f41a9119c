// Helpers shared by the mesh tests only: temp dirs, random blocks, and two libp2p hosts on
// 127.0.0.1 that admit each other. Nothing outside *.test.ts imports this file.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID as CIDClass } from 'multiformats/cid'
import { blockCid, matchesCid } from './chunk-wire.ts'
import { createMeshGater } from './gater.ts'
import { createMeshHost, type MeshHost } from './host.ts'
import type { CID } from 'multiformats/cid'
import type { PrivateKey } from '@libp2p/interface'
import type { BlockStore } from '../chunkstore/index.ts'

export function tempDir (t: { after: (fn: () => void) => void }, prefix = 'cairn-mesh-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

export async function randomBlock (size: number): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = new Uint8Array(randomBytes(size))
  return { cid: await blockCid(bytes), bytes }
}

export interface HostPair {
  a: MeshHost
  b: MeshHost
  keys: PrivateKey[]
  stop: () => Promise<void>
}

/** Hosts on 127.0.0.1 whose gaters admit exactly the peers in `allowed` (by default each other). */
export async function startHosts (count: number, allowed?: (peer: string) => boolean): Promise<{ hosts: MeshHost[], stop: () => Promise<void> }> {
  const keys = await Promise.all(Array.from({ length: count }, async () => await generateKeyPair('Ed25519')))
  const ids = new Set(keys.map(k => peerIdFromPrivateKey(k).toString()))
  const admit = allowed ?? ((p: string) => ids.has(p))
  const hosts = await Promise.all(keys.map(async k => await createMeshHost({
    privateKey: k, listen: ['/ip4/127.0.0.1/tcp/0'], dht: false, connectionGater: createMeshGater({ isAdmissible: admit })
  })))
  return { hosts, stop: async () => { await Promise.all(hosts.map(async h => { await h.stop() })) } }
}

/**
 * A stand-in BlockStore (one file per block) until the LevelDB store lands; same contract:
 * `put` verifies the CID, blocks are durable after `flush`.
 */
export function dirBlockStore (dir: string): BlockStore {
  mkdirSync(join(dir, 'blocks'), { recursive: true })
  const file = (cid: CID): string => join(dir, 'blocks', cid.toString())
  const rootsFile = join(dir, 'roots.json')
  const roots = (): string[] => existsSync(rootsFile) ? JSON.parse(readFileSync(rootsFile, 'utf8')) : []
  const store: BlockStore = {
    has: async (cid) => existsSync(file(cid)),
    hasMany: async (cids) => cids.map(c => existsSync(file(c))),
    get: async (cid, options) => {
      if (!existsSync(file(cid))) throw Object.assign(new Error(`block ${cid.toString()} not found`), { name: 'BlockNotFoundError' })
      const bytes = new Uint8Array(readFileSync(file(cid)))
      if (options?.verify === true && !await matchesCid(cid, bytes)) throw Object.assign(new Error('corrupt'), { name: 'CorruptBlockError' })
      return bytes
    },
    put: async (cid, bytes) => {
      if (!await matchesCid(cid, bytes)) throw Object.assign(new Error('cid mismatch'), { name: 'CidMismatchError' })
      if (!existsSync(file(cid))) { writeFileSync(file(cid) + '.tmp', bytes); renameSync(file(cid) + '.tmp', file(cid)) }
    },
    flush: async () => {},
    cids: async function * () { for (const n of readdirSync(join(dir, 'blocks'))) if (!n.endsWith('.tmp')) yield CIDClass.parse(n) },
    snapshotRoots: async () => roots().map(s => CIDClass.parse(s)),
    addSnapshotRoot: async (cid) => { const r = new Set(roots()); r.add(cid.toString()); writeFileSync(rootsFile, JSON.stringify([...r])) }
  }
  return store
}
