// Issue 21: replication over a WAN. Two node processes (`cairn mesh run` through the bin) reach
// each other only through user-space WAN links (node/testing/wan-link.ts: 50 ms RTT, 200 Mbit/s
// each way), because each announces its link's address (`--announce`) and the member list
// carries it. The test checks that the store arrives intact and that the links carried it —
// never how fast (the bench measures that: npm run bench -- --wan).
// test-suite: processes
import '../polyfill.ts'
import test from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { removeDir, tempDir } from '../../crypto/testing/index.ts'
import { makeRandomStore, startWanSites } from '../testing/index.ts'
import { openStore } from './open-store.ts'

test('issue 21: a store replicates intact through WAN links, over the addresses the sites announce', async (t) => {
  const base = tempDir('cairn-wan-')
  t.after(() => { removeDir(base) })
  const source = join(base, 'a-store')
  const made = await makeRandomStore(source, 24, 256)
  const sites = await startWanSites({ base, sourceStore: source, rttMs: 50, bitsPerSecond: 200e6 })
  t.after(async () => { await sites.stop() })
  const { a, b } = sites

  // The signed member list names each site by its announced address, not its listening one.
  const status = await a.node.control('status')
  const addrsOf = (site: string): string[] => status.members.find((m: any) => m.site === site).addrs
  assert.deepEqual(addrsOf('wan-a'), [a.link.multiaddr])
  assert.deepEqual(addrsOf('wan-b'), [b.link.multiaddr])
  assert.deepEqual(b.node.addrs, [`${b.link.multiaddr}/p2p/${b.node.peer}`], 'identify tells the announced address only')

  const [link] = await a.node.control('replicate')
  assert.equal(link.lastError, undefined, JSON.stringify(link.lastError))
  assert.equal(link.snapshotsBehind, 0)
  assert.equal(link.lastResult.rootsAtPeer, 1)

  // Every connection between the sites was dialled to an announced address: an outbound
  // connection on one side is the other's inbound one, so none bypassed a link.
  for (const [node, other] of [[a, b], [b, a]] as const) {
    const member = (await node.node.control('status')).members.find((m: any) => m.peer === other.node.peer)
    assert.ok(member.connected)
    for (const c of member.connections.filter((c: any) => c.direction === 'outbound')) {
      assert.ok(c.addr.startsWith(other.link.multiaddr), `${node.node.peer} dialled ${c.addr}, not the announced ${other.link.multiaddr}`)
    }
  }
  // And the links carried the store, at least once over.
  const carried = [a.link.stats(), b.link.stats()].reduce((n, s) => n + s.forwardBytes + s.backBytes, 0)
  assert.ok(carried >= made.bytes, `the links carried ${carried} bytes of the ${made.bytes} replicated`)

  await sites.stop()
  // Every block of A is at B, verified against its CID.
  const atB = await openStore(b.store)
  t.after(async () => { await atB.close() })
  const atA = await openStore(source)
  t.after(async () => { await atA.close() })
  let blocks = 0
  for await (const cid of atA.blocks.cids()) {
    await atB.blocks.get(cid, { verify: true })
    blocks++
  }
  assert.equal(blocks, made.blocks)
  assert.deepEqual((await atB.blocks.snapshotRoots()).map(String), (await atA.blocks.snapshotRoots()).map(String))
})
