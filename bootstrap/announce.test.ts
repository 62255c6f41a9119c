// Announce addresses: which are refused and why, and where the accepted ones go — the member
// list (at init, at join, and when the mesh-key holder's own change), invitations, identify.
import '../node/polyfill.ts'
import test from 'node:test'
import { existsSync } from 'node:fs'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { checkAnnounceAddrs } from './announce.ts'
import { InvalidAnnounceAddressError } from './errors.ts'
import { createMeshNode } from './mesh-node.ts'
import { initMesh, loadMeshState } from './mesh-state.ts'
import { joinMesh } from './join.ts'
import { decodeInvitation } from './invitation.ts'
import { freePort, localStore, tempDir } from './testing/index.ts'

const listen = ['/ip4/127.0.0.1/tcp/0']

async function until (what: string, fn: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (fn()) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  assert.fail(`gave up waiting until ${what}`)
}

test('announce addresses: dialable host and TCP port accepted, everything else refused by name', () => {
  assert.deepEqual(checkAnnounceAddrs(['/ip4/203.0.113.7/tcp/4737', '/dns4/backup.example.org/tcp/443', '/ip6/2001:db8::1/tcp/4737']),
    ['/ip4/203.0.113.7/tcp/4737', '/dns4/backup.example.org/tcp/443', '/ip6/2001:db8::1/tcp/4737'])
  const refused: Array<[string, RegExp]> = [
    ['nonsense', /is not a multiaddr/],
    ['/ip4/203.0.113.7', /no \/tcp\/PORT/],
    ['/ip4/0.0.0.0/tcp/4737', /wildcard/],
    ['/ip4/203.0.113.7/tcp/0', /port 0/],
    ['/ip4/203.0.113.7/udp/4737', /no \/tcp\/PORT/],
    ['/tcp/4737', /does not start with/],
    ['/ip4/203.0.113.7/tcp/4737/p2p/12D3KooWMoFeCknhG58QYr63RUazXCEAEHa23mpF5qSh1oFHs1yb', /leave it out/]
  ]
  for (const [addr, why] of refused) {
    assert.throws(() => checkAnnounceAddrs(['/ip4/203.0.113.7/tcp/1', addr]), (err: any) =>
      err instanceof InvalidAnnounceAddressError && err.address === addr && why.test(err.message), addr)
  }
})

test('announce addresses go into the signed member list, invitations and identify; the key holder\'s entry follows a change', async (t) => {
  const [da, db] = [tempDir(t), tempDir(t)]
  await assert.rejects(initMesh(join(da, 'bad'), { site: 'head', role: 'head', listen, announce: ['/ip4/1.2.3.4/tcp/0'] }), InvalidAnnounceAddressError)
  // A listens on two ports and announces one of them.
  const [hidden, shown] = [await freePort(), await freePort()]
  const announced = `/ip4/127.0.0.1/tcp/${shown}`
  const first = await initMesh(join(da, 'mesh'), { site: 'head', role: 'head', listen: [`/ip4/127.0.0.1/tcp/${hidden}`, announced], announce: ['/ip4/127.0.0.1/tcp/1111'] })
  assert.deepEqual(first.membership.members[0].addrs, ['/ip4/127.0.0.1/tcp/1111'])

  // This run announces another address: the key holder signs a new list with it.
  const events: any[] = []
  const a = await createMeshNode({ store: await localStore(t), log: e => { events.push(e) } }, { dir: join(da, 'mesh'), announce: false, announceAddrs: [announced] })
  await a.start()
  t.after(async () => { await a.stop() })
  assert.deepEqual(a.host.getMultiaddrs().map(m => m.toString()), [`${announced}/p2p/${a.peerId}`], 'identify tells the announced address only')
  assert.equal(a.roster.membership.version, 2)
  assert.deepEqual(a.roster.member(a.peerId)?.addrs, [announced])
  assert.ok(events.some(e => e.event === 'member-addresses'))
  assert.deepEqual((await loadMeshState(join(da, 'mesh'))).membership.members[0].addrs, [announced], 'the new list is saved')
  const invitation = await a.invite()
  assert.deepEqual(decodeInvitation(invitation).addrs, [`${announced}/p2p/${a.peerId}`], 'invitations name the announced address')

  // A joiner's announce addresses are what the list records for it; a bad one writes nothing.
  await assert.rejects(joinMesh({ dir: join(db, 'bad'), invitation, config: { site: 'branch', role: 'branch', listen, announce: ['nonsense'] } }), InvalidAnnounceAddressError)
  assert.equal(existsSync(join(db, 'bad')), false, 'nothing was written for a refused join')
  const joined = await joinMesh({ dir: join(db, 'mesh'), invitation, config: { site: 'branch', role: 'branch', listen, announce: ['/ip4/127.0.0.1/tcp/3333'] } })
  const branchPeer = joined.members.find(m => m.site === 'branch')!.peer
  assert.deepEqual(joined.members.find(m => m.site === 'branch')?.addrs, ['/ip4/127.0.0.1/tcp/3333'])

  // The branch runs announcing another address. It has no mesh key: it asks A (which it dials
  // at A's announced address), and A signs the entry.
  const b = await createMeshNode({ store: await localStore(t) }, { dir: join(db, 'mesh'), announce: false, dialEveryMs: 200, announceAddrs: ['/ip4/127.0.0.1/tcp/4444'] })
  await b.start()
  t.after(async () => { await b.stop() })
  await until('A signed the branch\'s new addresses and B adopted the list', () =>
    JSON.stringify(a.roster.member(branchPeer)?.addrs) === '["/ip4/127.0.0.1/tcp/4444"]' && JSON.stringify(b.roster.member(branchPeer)?.addrs) === '["/ip4/127.0.0.1/tcp/4444"]')
  assert.ok(events.some(e => e.event === 'member-addresses' && e.peer === branchPeer))
})
