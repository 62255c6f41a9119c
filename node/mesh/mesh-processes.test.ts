// Issue 4 end to end: real node processes on 127.0.0.1 driven through `cairn mesh`.
// F9 admission and cut-off, F11 cascade A→B→C, a hostile member, kill -9 mid-replication.
// test-suite: processes
import '../polyfill.ts'
import test, { after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import {
  CHUNK_PROTOCOL, ChunkSession, createMeshGater, createMeshHost, joinMesh, loadMeshState, MAX_FRAME_BYTES
} from '../../bootstrap/index.ts'
import { cliOk, startNode, until, type NodeProcess } from '../testing/index.ts'
import { removeDir, tempDir } from '../../crypto/testing/index.ts'
import { openStore } from './open-store.ts'
import { cidOf } from '../../chunkstore/index.ts'
import type { CID } from 'multiformats/cid'

const LISTEN = '/ip4/127.0.0.1/tcp/0'

// Removed after every test of the file, when each test's own hooks have stopped its node
// processes (a test's hooks run in the order registered, so a per-test removal could run
// while a node still writes there).
const dirs: string[] = []
after(() => { for (const d of dirs) removeDir(d) })

function scratchDir (): string {
  const d = tempDir('cairn-mesh-p-')
  dirs.push(d)
  return d
}

/** Fills a store with random blocks and marks the first as a snapshot root. */
async function fill (dir: string, count: number, size: number): Promise<CID[]> {
  const s = await openStore(dir)
  const cids: CID[] = []
  for (let i = 0; i < count; i++) {
    const bytes = new Uint8Array(randomBytes(size))
    const cid = cidOf(bytes)
    await s.blocks.put(cid, bytes)
    cids.push(cid)
  }
  await s.blocks.addSnapshotRoot(cids[0])
  await s.blocks.flush()
  await s.close()
  return cids
}

async function holdsAll (dir: string, cids: CID[]): Promise<boolean> {
  const s = await openStore(dir)
  try {
    for (const c of cids) await s.blocks.get(c, { verify: true })
    return (await s.blocks.snapshotRoots()).some(r => r.equals(cids[0]))
  } catch {
    return false
  } finally {
    await s.close()
  }
}

async function site (t: any, base: string, name: string, role: string, invitation?: string): Promise<{ mesh: string, store: string }> {
  const mesh = join(base, name, 'mesh')
  const store = join(base, name, 'store')
  if (invitation === undefined) await cliOk(['init', '--mesh-dir', mesh, '--site', name, '--role', role, '--listen', LISTEN])
  else await cliOk(['join', invitation, '--mesh-dir', mesh, '--site', name, '--role', role, '--listen', LISTEN])
  return { mesh, store }
}

function events (n: NodeProcess): any[] {
  return n.log().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l))
}

async function invite (node: NodeProcess): Promise<string> {
  return (await node.control('invite', { ttlMs: 600_000 })).invitation
}

test('issue 4: three sites replicate A→B→C; outsiders, hostile and removed members are kept out', async (t) => {
  const base = scratchDir()
  const nodes: NodeProcess[] = []
  t.after(async () => { await Promise.all(nodes.map(async n => { await n.stop() })) })

  const a = await site(t, base, 'head', 'head')
  await cliOk(['policy', '--mesh-dir', a.mesh, '--copies', '2', '--role', 'branch'])
  const blocks = await fill(a.store, 120, 40_000)
  const A = await startNode({ meshDir: a.mesh, store: a.store }); nodes.push(A)

  const b = await site(t, base, 'branch-1', 'branch', await invite(A))
  await cliOk(['policy', '--mesh-dir', b.mesh, '--copies', '2', '--role', 'dr'])
  const c = await site(t, base, 'dr-north', 'dr', await invite(A))
  const B = await startNode({ meshDir: b.mesh, store: b.store }); nodes.push(B)
  const C = await startNode({ meshDir: c.mesh, store: c.store }); nodes.push(C)
  await until('every member sees the others', async () =>
    (await Promise.all([A, B, C].map(async n => (await n.control('status')).members.every((m: any) => m.connected)))).every(Boolean))

  // F11 cascade: A sends to B (its policy), B forwards to C (its own policy).
  const [linkAB] = await A.control('replicate')
  assert.equal(linkAB.site, 'branch-1')
  assert.equal(linkAB.lastError, undefined, JSON.stringify(linkAB.lastError))
  assert.equal(linkAB.snapshotsBehind, 0)
  assert.equal(linkAB.lastResult.rootsAtPeer, 1)
  // Runs start on connect and on demand; across all of them each block crossed once.
  const sentAB = events(A).filter(e => e.event === 'replicated').reduce((n, e) => n + e.blocksSent, 0)
  assert.equal(sentAB, 120)
  await until('B forwarded everything to C', async () => {
    const [l] = await B.control('replicate')
    return l?.lastResult?.rootsAtPeer === 1 && l.blocksBehind === 0
  })
  // F10: C finds which other sites hold the snapshot through the DHT (provider records).
  await until('C finds another holder of the root in the DHT', async () => {
    const holders: string[] = await C.control('holders', { root: blocks[0].toString() })
    return holders.includes(C.peer) && holders.some(h => h === A.peer || h === B.peer)
  }, 60, 500)
  const again = await A.control('replicate')
  assert.equal(again[0].lastResult.blocksSent, 0, 'a second run sends nothing')

  // F9: a peer outside the mesh cannot even finish a handshake.
  const outsider = await createMeshHost({ privateKey: await generateKeyPair('Ed25519'), listen: [], dht: false, connectionGater: createMeshGater({ isAdmissible: () => true }) })
  t.after(async () => { await outsider.stop() })
  await assert.rejects(outsider.dialProtocol(multiaddr(B.addrs[0]), CHUNK_PROTOCOL))

  // A hostile member: admitted properly, then sends garbage, oversized frames and wrong-CID blocks to B.
  const evilDir = join(base, 'evil', 'mesh')
  await joinMesh({ dir: evilDir, invitation: await invite(A), config: { site: 'evil', role: 'branch', listen: [LISTEN] } })
  const evilKey = (await loadMeshState(evilDir)).peerKey
  const evil = await createMeshHost({ privateKey: evilKey, listen: [], dht: false, connectionGater: createMeshGater({ isAdmissible: () => true }) })
  t.after(async () => { await evil.stop() })
  await until('B knows the new member', async () => (await B.control('status')).members.some((m: any) => m.site === 'evil'))
  const bAddr = multiaddr(B.addrs[0])
  const raw1 = await evil.dialProtocol(bAddr, CHUNK_PROTOCOL)
  raw1.send(new Uint8Array([0, 0, 0, 3, 1, 2, 3]))
  const raw2 = await evil.dialProtocol(bAddr, CHUNK_PROTOCOL)
  const big = new Uint8Array(4); new DataView(big.buffer).setUint32(0, MAX_FRAME_BYTES + 1); raw2.send(big)
  const session = await ChunkSession.open(evil, bAddr)
  const good = new Uint8Array(randomBytes(1000))
  const wrong = cidOf(new Uint8Array(randomBytes(1000)))
  // Refused with CID_MISMATCH, or cut short if the ban for the earlier frames came first.
  await assert.rejects(session.put(wrong, good))
  await until('B banned the hostile member', async () => Object.values((await B.control('status')).penalties).some((p: any) => p.banned))
  assert.match(B.log(), /"event":"peer-banned"/)
  assert.equal((await B.control('status')).self.site, 'branch-1', 'B is still up')

  // F9: the mesh-key holder removes the hostile member; it is cut off everywhere.
  await A.control('remove', { member: 'evil' })
  await until('B adopted the removal', async () => !(await B.control('status')).members.some((m: any) => m.site === 'evil'))
  await until('evil has no connection left', () => evil.getConnections().length === 0)
  // A handshake may finish on the dialling side before B drops it; no stream gets through.
  await assert.rejects(evil.dialProtocol(bAddr, CHUNK_PROTOCOL))

  await Promise.all(nodes.map(async n => { await n.stop() }))
  nodes.length = 0
  assert.ok(await holdsAll(b.store, blocks), 'B holds every block of A, verified')
  assert.ok(await holdsAll(c.store, blocks), 'C holds every block of A through the cascade')
  const sc = await openStore(c.store)
  assert.equal(await sc.blocks.has(wrong), false, 'nothing bad was stored')
  await sc.close()
})

test('issue 4: kill -9 of the receiver mid-replication, restart, replication completes intact', async (t) => {
  const base = scratchDir()
  const nodes: NodeProcess[] = []
  t.after(async () => { await Promise.all(nodes.map(async n => { await n.stop() })) })
  const a = await site(t, base, 'head', 'head')
  // 2 MiB/s on the link: slow enough to catch the run in the middle.
  await cliOk(['policy', '--mesh-dir', a.mesh, '--copies', '2', '--default-limit', '2'])
  const blocks = await fill(a.store, 100, 64 * 1024)
  const A = await startNode({ meshDir: a.mesh, store: a.store }); nodes.push(A)
  const b = await site(t, base, 'dr', 'dr', await invite(A))
  let B = await startNode({ meshDir: b.mesh, store: b.store })
  const running = A.control('replicate')
  await until('the run is under way', async () => ((await A.control('status')).links[0]?.progress?.blocksSent ?? 0) >= 20)
  await B.kill()
  const first = await running
  assert.ok(first[0].lastError !== undefined, 'the run failed with the receiver gone')
  B = await startNode({ meshDir: b.mesh, store: b.store }); nodes.push(B)
  await until('A reconnects to B', async () => (await A.control('status')).links[0]?.connected === true)
  const [link] = await A.control('replicate')
  assert.equal(link.lastError, undefined, JSON.stringify(link.lastError))
  assert.ok(link.lastResult.blocksSent < 100, `the resumed run sent ${link.lastResult.blocksSent} of 100 blocks`)
  assert.equal(link.snapshotsBehind, 0)
  await B.stop()
  nodes.splice(nodes.indexOf(B), 1)
  assert.ok(await holdsAll(b.store, blocks), 'every block at B verifies after the crash')
})
