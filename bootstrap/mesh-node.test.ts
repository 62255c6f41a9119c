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
import { localStore, tempDir } from './test-support.ts'

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
