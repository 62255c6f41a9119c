// F9: admission by invitation, gossip of the member list, cut-off of a removed member —
// three mesh nodes in this process, on 127.0.0.1.
import '../node/polyfill.ts'
import test from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createMeshNode, MEMBERSHIP_PROTOCOL, type MeshNode } from './mesh-node.ts'
import { initMesh } from './mesh-state.ts'
import { joinMesh } from './join.ts'
import { createMeshHost } from './host.ts'
import { createMeshGater } from './gater.ts'
import { localStore, randomBlock, tempDir } from './testing/index.ts'
import { closeSync, openSync, readSync, writeSync } from 'node:fs'
import { CID } from 'multiformats/cid'
import { unionBlockStore, type BlockStore, type LocalBlockStore } from '../chunkstore/index.ts'
import type { ReplicationPolicy } from './policy.ts'

const listen = ['/ip4/127.0.0.1/tcp/0']

async function until (what: string, fn: () => boolean | Promise<boolean>, tries = 200): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await fn()) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  assert.fail(`gave up waiting until ${what}`)
}

async function node (t: any, dir: string): Promise<MeshNode> {
  const n = await createMeshNode({ store: await localStore(t) }, { dir: join(dir, 'mesh'), dialEveryMs: 200 })
  await n.start()
  t.after(async () => { await n.stop() })
  return n
}

test('F9 invite, join, gossip, and a removed member is cut off', async (t) => {
  const [da, db, dc] = [tempDir(t), tempDir(t), tempDir(t)]
  await initMesh(join(da, 'mesh'), { site: 'head', role: 'head', listen })
  const a = await node(t, da)

  const inviteB = await a.invite()
  await joinMesh({ dir: join(db, 'mesh'), invitation: inviteB, config: { site: 'branch-1', role: 'branch', listen } })
  await assert.rejects(joinMesh({ dir: join(tempDir(t), 'mesh'), invitation: inviteB, config: { site: 'x', role: 'branch', listen } }),
    { name: 'InvalidInvitationError' }, 'an invitation admits one site only')
  const b = await node(t, db)
  await until('B is connected to A', () => a.host.getConnections().some(c => c.remotePeer.toString() === b.peerId))

  const inviteC = await a.invite()
  await joinMesh({ dir: join(dc, 'mesh'), invitation: inviteC, config: { site: 'dr', role: 'dr', listen } })
  const c = await node(t, dc)
  await until('B learns of C by gossip', () => b.roster.isMember(c.peerId))
  assert.equal(b.roster.membership.version, 3)

  // An outsider with its own key is refused at the handshake.
  const outsider = await createMeshHost({ privateKey: await generateKeyPair('Ed25519'), listen: [], dht: false, connectionGater: createMeshGater({ isAdmissible: () => true }) })
  t.after(async () => { await outsider.stop() })
  await assert.rejects(outsider.dialProtocol(a.host.getMultiaddrs()[0], MEMBERSHIP_PROTOCOL))
  await until('A holds no connection from the outsider', () => !a.host.getConnections().some(x => x.remotePeer.equals(outsider.peerId)))

  await a.remove('branch-1')
  await until('C adopts the list without B', () => !c.roster.isMember(b.peerId))
  await until('A and C dropped B', () =>
    !a.host.getConnections().some(x => x.remotePeer.toString() === b.peerId) &&
    !c.host.getConnections().some(x => x.remotePeer.toString() === b.peerId))
  await assert.rejects(b.host.dialProtocol(a.host.getMultiaddrs()[0], MEMBERSHIP_PROTOCOL), 'the removed member cannot come back')
  const status = await a.status()
  assert.deepEqual(status.members.map(m => m.site).sort(), ['dr', 'head'])
  assert.equal(status.version, 4)
})

test('F11 a policy with spaces sends only their stores; F14 scrub finds a corrupt block and repairs it from a member', async (t) => {
  const [da, db] = [tempDir(t), tempDir(t)]
  await initMesh(join(da, 'mesh'), { site: 'head', role: 'head', listen })
  // A keeps two "space" stores and a replica; B one store.
  const [sales, hr, replica, atB] = await Promise.all([localStore(t), localStore(t), localStore(t), localStore(t)])
  const put = async (s: BlockStore, n: number): Promise<string[]> => {
    const out: string[] = []
    for (let i = 0; i < n; i++) { const b = await randomBlock(20_000 + i); await s.put(b.cid, b.bytes); out.push(b.cid.toString()) }
    await s.flush()
    return out
  }
  const salesBlocks = await put(sales, 5)
  const hrBlocks = await put(hr, 3)
  await sales.addSnapshotRoot(CID.parse(salesBlocks[0]))
  await hr.addSnapshotRoot(CID.parse(hrBlocks[0]))
  const spaces: Record<string, BlockStore> = { sales, hr }
  const storeFor = (ps: ReplicationPolicy[]): BlockStore => unionBlockStore({
    stores: () => ps.some(p => p.spaces === undefined) ? [replica, sales, hr] : [...new Set(ps.flatMap(p => p.spaces!.map(n => spaces[n])))]
  })
  const a = await createMeshNode({ store: unionBlockStore({ stores: () => [replica, sales, hr], write: replica }), storeFor, stores: () => [replica, sales, hr] },
    { dir: join(da, 'mesh'), dialEveryMs: 200, announce: false, policies: [{ name: 'sales-off-site', copies: 2, spaces: ['sales'] }] })
  await a.start()
  t.after(async () => { await a.stop() })
  await joinMesh({ dir: join(db, 'mesh'), invitation: await a.invite(), config: { site: 'dr', role: 'dr', listen } })
  const b = await createMeshNode({ store: atB }, { dir: join(db, 'mesh'), dialEveryMs: 200, announce: false })
  await b.start()
  t.after(async () => { await b.stop() })
  await until('A reaches B', async () => (await a.status()).links[0]?.connected === true)

  const [link] = await a.replicateNow()
  assert.equal(link.lastError, undefined, JSON.stringify(link.lastError))
  assert.deepEqual(await atB.hasMany(salesBlocks.map(c => CID.parse(c))), salesBlocks.map(() => true))
  assert.deepEqual(await atB.hasMany(hrBlocks.map(c => CID.parse(c))), hrBlocks.map(() => false), 'a space outside the policy stays home')
  assert.deepEqual((await atB.snapshotRoots()).map(String), [salesBlocks[0]])
  const [policy] = (await a.status()).policies
  assert.deepEqual({ targets: policy.targets, snapshotsBehind: policy.snapshotsBehind, bytesBehind: policy.bytesBehind, health: policy.health },
    { targets: ['dr'], snapshotsBehind: 0, bytesBehind: 0, health: 'ok' })
  assert.equal(link.bytesBehind, 0)
  // The cheap view a replicate job polls for its progress agrees with the full status.
  const [run] = a.linkRuns()
  assert.equal(run.peer, link.peer)
  assert.equal(run.progress, undefined)
  assert.deepEqual(run.lastResult, link.lastResult)
  assert.ok((run.lastResult?.blocksOffered ?? 0) >= salesBlocks.length, 'the last run offered the space\'s blocks')

  // A byte flips on disk in A's sales store: scrub finds it and fetches the block from B.
  const victim = CID.parse(salesBlocks[2])
  const loc = (await (sales as LocalBlockStore).location(victim))!
  const fd = openSync((sales as LocalBlockStore).log.path(loc.segment), 'r+')
  const one = Buffer.alloc(1); readSync(fd, one, 0, 1, loc.offset + 100); one[0] ^= 0xff; writeSync(fd, one, 0, 1, loc.offset + 100); closeSync(fd)
  const scrub = await a.scrub()
  assert.equal(scrub.stores, 3)
  assert.equal(scrub.blocksChecked, 8)
  assert.equal(scrub.bad, 1)
  assert.deepEqual(scrub.repaired, [victim.toString()])
  assert.deepEqual(scrub.failed, [])
  await sales.get(victim, { verify: true })
  assert.equal((await a.scrub()).bad, 0, 'a second scrub finds nothing')

  // Policies apply live: dropping the policy drops the link.
  a.configure({ policies: [] })
  assert.deepEqual((await a.status()).links, [])
  await assert.rejects(a.remove('no-such-site'), { name: 'NotAMemberError' })
})
