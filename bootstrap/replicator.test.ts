// F11: only missing blocks cross the wire; reruns are idempotent; an interrupted run resumes.
import '../node/polyfill.ts'
import test from 'node:test'
import assert from 'node:assert/strict'
import { ChunkSession, serveChunks } from './chunk-protocol.ts'
import { replicate } from './replicator.ts'
import { localStore, randomBlock, startHosts } from './testing/index.ts'
import { unionBlockStore, type BlockStore } from '../chunkstore/index.ts'

async function setup (t: any) {
  const { hosts, stop } = await startHosts(2)
  t.after(stop)
  const [a, b] = hosts
  const src = await localStore(t)
  const dst = await localStore(t)
  await serveChunks(b, { store: dst, isMember: () => true })
  const open = async (): Promise<ChunkSession> => await ChunkSession.open(a, b.getMultiaddrs()[0], { windowBytes: 512 * 1024 })
  return { src, dst, open }
}

test('F11 replication sends only missing blocks, then the roots; a rerun sends nothing', async (t) => {
  const { src, dst, open } = await setup(t)
  const day1 = await Promise.all(Array.from({ length: 60 }, async () => await randomBlock(20_000)))
  for (const b of day1) await src.put(b.cid, b.bytes)
  await src.addSnapshotRoot(day1[0].cid)
  const s = await open()
  const r1 = await replicate(src, s)
  assert.equal(r1.blocksSent, 60)
  assert.equal(r1.bytesMissing, 60 * 20_000)
  assert.equal(r1.rootsAdded, 1)
  assert.deepEqual((await dst.snapshotRoots()).map(String), [day1[0].cid.toString()])
  const r2 = await replicate(src, s)
  assert.equal(r2.blocksSent, 0)
  assert.equal(r2.rootsAdded, 0)
  // Day 2: ten new blocks; the wire carries them plus little more.
  const day2 = await Promise.all(Array.from({ length: 10 }, async () => await randomBlock(20_000)))
  for (const b of day2) await src.put(b.cid, b.bytes)
  await src.addSnapshotRoot(day2[0].cid)
  const r3 = await replicate(src, s)
  assert.equal(r3.blocksSent, 10)
  assert.equal(r3.bytesMissing, 10 * 20_000)
  assert.ok(r3.wireBytes <= 1.05 * 10 * 20_000, `wire ${r3.wireBytes} bytes for 200000 new`)
  await s.close()
})

test('F11 an aborted replication resumes where it stopped and ends complete', async (t) => {
  const { src, dst, open } = await setup(t)
  const blocks = await Promise.all(Array.from({ length: 100 }, async () => await randomBlock(10_000)))
  for (const b of blocks) await src.put(b.cid, b.bytes)
  const ac = new AbortController()
  const s1 = await open()
  await assert.rejects(replicate(src, s1, {
    signal: ac.signal, concurrency: 2, batchBytes: 20_000, onProgress: ({ detail: p }) => { if (p.blocksSent >= 30) ac.abort() }
  }), { name: 'OperationAbortedError', code: 'OPERATION_ABORTED' })
  await s1.close()
  const partial = (await dst.hasMany(blocks.map(b => b.cid))).filter(Boolean).length
  assert.ok(partial >= 30 && partial < 100, `${partial} blocks after the abort`)
  const s2 = await open()
  const r = await replicate(src, s2)
  assert.equal(r.blocksSent, 100 - partial)
  assert.deepEqual(await dst.hasMany(blocks.map(b => b.cid)), blocks.map(() => true))
  await s2.close()
})

test('F11 replication from a union of stores, and from a store with only the basic BlockStore calls, sends each missing block once', async (t) => {
  const { src, dst, open } = await setup(t)
  const other = await localStore(t)
  const blocks = await Promise.all(Array.from({ length: 40 }, async (_, i) => await randomBlock(1000 + i * 3000)))
  for (const b of blocks.slice(0, 25)) await src.put(b.cid, b.bytes)
  for (const b of blocks.slice(15)) await other.put(b.cid, b.bytes) // 15..24 in both
  const s = await open()
  const r = await replicate(unionBlockStore({ stores: () => [src, other] }), s)
  assert.equal(r.blocksSent, 40)
  assert.deepEqual(await dst.hasMany(blocks.map(b => b.cid)), blocks.map(() => true))
  // A store without the bulk pair (located/readLocated) or getMany: built from cids, sizes and get.
  const more = await Promise.all(Array.from({ length: 12 }, async () => await randomBlock(7000)))
  for (const b of more) await other.put(b.cid, b.bytes)
  const basic: BlockStore = {
    has: async c => await other.has(c), hasMany: async c => await other.hasMany(c), get: async (c, o) => await other.get(c, o),
    sizes: async c => await other.sizes(c), put: async (c, b) => { await other.put(c, b) }, flush: async () => { await other.flush() },
    cids: () => other.cids(), snapshotRoots: async () => await other.snapshotRoots(), addSnapshotRoot: async c => { await other.addSnapshotRoot(c) }
  }
  const r2 = await replicate(basic, s)
  assert.equal(r2.blocksSent, 12)
  assert.equal(r2.bytesMissing, 12 * 7000)
  assert.deepEqual(await dst.hasMany(more.map(b => b.cid)), more.map(() => true))
  await s.close()
})
