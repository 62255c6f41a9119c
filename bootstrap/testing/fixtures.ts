// Fixtures of the mesh tests: random blocks, libp2p hosts on 127.0.0.1 that admit each other,
// and the node's real block store in a temp dir.
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createMeshGater } from '../gater.ts'
import { createMeshHost, type MeshHost } from '../host.ts'
import type { CID } from 'multiformats/cid'
import type { PrivateKey } from '@libp2p/interface'
import { cidOf, LocalBlockStore, type BlockStore } from '../../chunkstore/index.ts'
import { removeDir, tempDir, type AfterHook } from '../../crypto/testing/index.ts'

export async function randomBlock (size: number): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = new Uint8Array(randomBytes(size))
  return { cid: cidOf(bytes), bytes }
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

/** The node's real block store (LevelDB index + segment files) in a temp dir, closed after the test. */
export async function localStore (t: AfterHook): Promise<BlockStore> {
  const dir = tempDir('cairn-store-')
  const store = await LocalBlockStore.open(join(dir, 'index'), join(dir, 'segments'))
  t.after(async () => {
    await store.close()
    removeDir(dir)
  })
  return store
}

/** A port of 127.0.0.1 free right now (for a node that must know its port before it listens). */
export async function freePort (): Promise<number> {
  const s = createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', () => resolve()))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>(resolve => s.close(() => resolve()))
  return port
}
