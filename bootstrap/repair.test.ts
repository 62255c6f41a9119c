// F14: a block missing here is fetched again from a peer that holds it; a peer that sends
// other bytes than the CID names is not believed.
import '../node/polyfill.ts'
import test from 'node:test'
import assert from 'node:assert/strict'
import { ChunkSession, serveChunks } from './chunk-protocol.ts'
import { repairBlocks } from './repair.ts'
import { localStore, randomBlock, startHosts } from './testing/index.ts'
import type { BlockStore, LocalBlockStore } from '../chunkstore/index.ts'
import { closeSync, openSync, readSync, writeSync } from 'node:fs'

test('F14 missing blocks are fetched from the peers that hold them, verified', async (t) => {
  const { hosts, stop } = await startHosts(3)
  t.after(stop)
  const [local, peerB, peerC] = hosts
  const mine = await localStore(t)
  const atB = await localStore(t)
  const atC = await localStore(t)
  const [x, y, z] = await Promise.all([3000, 4000, 5000].map(randomBlock))
  await atB.put(x.cid, x.bytes)
  await atC.put(y.cid, y.bytes)
  // C lies about x: it claims to hold it and answers with other bytes.
  const liar: BlockStore = {
    has: async (c) => await atC.has(c),
    hasMany: async (cids) => cids.map(() => true),
    get: async () => y.bytes,
    sizes: async (cids) => await atC.sizes(cids),
    put: async (c, b) => { await atC.put(c, b) },
    flush: async () => { await atC.flush() },
    cids: () => atC.cids(),
    snapshotRoots: async () => await atC.snapshotRoots(),
    addSnapshotRoot: async (c) => { await atC.addSnapshotRoot(c) }
  }
  await serveChunks(peerB, { store: atB, isMember: () => true })
  await serveChunks(peerC, { store: liar, isMember: () => true })
  const sC = await ChunkSession.open(local, peerC.getMultiaddrs()[0])
  const sB = await ChunkSession.open(local, peerB.getMultiaddrs()[0])
  const r = await repairBlocks(mine, [x.cid, y.cid, z.cid], [sC, sB])
  assert.deepEqual(r.repaired, [x.cid.toString(), y.cid.toString()])
  assert.equal(r.failed.length, 1)
  assert.equal(r.failed[0].cid, z.cid.toString())
  assert.deepEqual(new Uint8Array(await mine.get(x.cid, { verify: true })), x.bytes)
  assert.deepEqual(new Uint8Array(await mine.get(y.cid, { verify: true })), y.bytes)
  await sB.close(); await sC.close()
})

test('F14 a block corrupted on disk here is detected and replaced by a good copy from a peer', async (t) => {
  const { hosts, stop } = await startHosts(2)
  t.after(stop)
  const [local, peerB] = hosts
  const mine = await localStore(t) as LocalBlockStore
  const atB = await localStore(t)
  const x = await randomBlock(64_000)
  await mine.put(x.cid, x.bytes); await mine.flush()
  await atB.put(x.cid, x.bytes); await atB.flush()
  // Flip a byte of the block inside its segment file, as a failing disk would.
  const loc = (await mine.location(x.cid))!
  const fd = openSync(mine.log.path(loc.segment), 'r+')
  const b = Buffer.alloc(1); readSync(fd, b, 0, 1, loc.offset + 100); b[0] ^= 0x55; writeSync(fd, b, 0, 1, loc.offset + 100); closeSync(fd)
  await assert.rejects(mine.get(x.cid, { verify: true }), { name: 'CorruptBlockError' })
  await serveChunks(peerB, { store: atB, isMember: () => true })
  const sB = await ChunkSession.open(local, peerB.getMultiaddrs()[0])
  const r = await repairBlocks(mine, [x.cid], [sB])
  assert.deepEqual(r.repaired, [x.cid.toString()])
  assert.deepEqual(new Uint8Array(await mine.get(x.cid, { verify: true })), x.bytes)
  await sB.close()
})
