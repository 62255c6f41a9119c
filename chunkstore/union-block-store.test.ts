// The union view the mesh serves a node's stores through: reads see every store, each block
// is listed once, a corrupt copy is passed over for a good one, writes go to one store.
import test from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, openSync, readSync, rmSync, writeSync, closeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { cidOf, CorruptBlockError, LocalBlockStore, LocatedList, ReadOnlyStoreError, unionBlockStore } from './index.ts'

async function stores (t: { after: (fn: () => Promise<void>) => void }, n: number): Promise<LocalBlockStore[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-union-'))
  const out = await Promise.all(Array.from({ length: n }, async (_, i) => await LocalBlockStore.open(join(dir, `${i}`, 'index'), join(dir, `${i}`, 'segments'))))
  t.after(async () => { await Promise.all(out.map(async s => { await s.close() })); rmSync(dir, { recursive: true, force: true }) })
  return out
}

async function block (store: LocalBlockStore, size = 1000): Promise<{ cid: ReturnType<typeof cidOf>, bytes: Buffer }> {
  const bytes = randomBytes(size)
  const cid = cidOf(bytes)
  await store.put(cid, bytes)
  await store.flush()
  return { cid, bytes }
}

test('a union reads every store, lists each block once and writes to its write store', async (t) => {
  const [a, b, replica] = await stores(t, 3)
  const onlyA = await block(a)
  const onlyB = await block(b, 2000)
  const both = await block(a)
  await b.put(both.cid, both.bytes); await b.flush()
  await a.addSnapshotRoot(onlyA.cid); await b.addSnapshotRoot(onlyA.cid); await b.addSnapshotRoot(onlyB.cid)
  const missing = cidOf(randomBytes(10))

  const view = unionBlockStore({ stores: () => [replica, a, b], write: replica })
  assert.deepEqual(await view.hasMany([onlyA.cid, missing, onlyB.cid, both.cid]), [true, false, true, true])
  assert.deepEqual(await view.sizes([onlyB.cid, missing, onlyA.cid]), [2000, undefined, 1000])
  assert.deepEqual(Buffer.from(await view.get(onlyB.cid, { verify: true })), onlyB.bytes)
  const listed = []
  for await (const c of view.cids()) listed.push(c.toString())
  assert.deepEqual(listed.sort(), [onlyA.cid, onlyB.cid, both.cid].map(String).sort(), 'a block two stores hold is listed once')
  assert.deepEqual((await view.snapshotRoots()).map(String).sort(), [onlyA.cid, onlyB.cid].map(String).sort())

  const fresh = randomBytes(500)
  await view.put(cidOf(fresh), fresh)
  await view.addSnapshotRoot(cidOf(fresh))
  assert.equal(await replica.has(cidOf(fresh)), true, 'writes land in the write store')
  assert.equal(await a.has(cidOf(fresh)), false)
  assert.deepEqual((await replica.snapshotRoots()).map(String), [cidOf(fresh).toString()])

  const readOnly = unionBlockStore({ stores: () => [a] })
  await assert.rejects(readOnly.put(cidOf(fresh), fresh), ReadOnlyStoreError)
  assert.equal(await a.has(cidOf(fresh)), false)
})

test('get with verify passes over a corrupt copy when another store holds a good one', async (t) => {
  const [a, b] = await stores(t, 2)
  const { cid, bytes } = await block(a, 50_000)
  await b.put(cid, bytes); await b.flush()
  const loc = (await a.location(cid))!
  const fd = openSync(a.log.path(loc.segment), 'r+')
  const one = Buffer.alloc(1); readSync(fd, one, 0, 1, loc.offset + 10); one[0] ^= 0xff; writeSync(fd, one, 0, 1, loc.offset + 10); closeSync(fd)
  await assert.rejects(unionBlockStore({ stores: () => [a] }).get(cid, { verify: true }), CorruptBlockError)
  assert.deepEqual(Buffer.from(await unionBlockStore({ stores: () => [a, b] }).get(cid, { verify: true })), bytes)
})

test('a union reads many blocks at once from the stores that hold them and writes many to its write store', async (t) => {
  const [a, b, replica] = await stores(t, 3)
  const onlyA = await block(a)
  const onlyB = await block(b, 2000)
  const both = await block(a, 3000)
  await b.put(both.cid, both.bytes); await b.flush()
  const view = unionBlockStore({ stores: () => [replica, a, b], write: replica })
  const asked = [onlyB.cid, both.cid, onlyA.cid]
  const got = new Map<number, Buffer>()
  for await (const { index, bytes } of view.getMany!(asked)) {
    assert.equal(got.has(index), false, 'each block once')
    got.set(index, Buffer.from(bytes))
  }
  assert.deepEqual([...got.keys()].sort(), [0, 1, 2])
  assert.ok(got.get(0)!.equals(onlyB.bytes) && got.get(1)!.equals(both.bytes) && got.get(2)!.equals(onlyA.bytes))
  await assert.rejects(async () => { for await (const _ of view.getMany!([onlyA.cid, cidOf(randomBytes(9))])) { /* none */ } }, { name: 'BlockNotFoundError' })

  const good = randomBytes(700)
  const refused = await view.putMany!([{ cid: cidOf(good), bytes: good }, { cid: cidOf(randomBytes(5)), bytes: randomBytes(5) }])
  assert.deepEqual(refused.map(e => e?.name), [undefined, 'CidMismatchError'])
  assert.equal(await replica.has(cidOf(good)), true, 'written to the write store')
  assert.equal(await a.has(cidOf(good)), false)
  await assert.rejects(unionBlockStore({ stores: () => [a] }).putMany!([{ cid: cidOf(good), bytes: good }]), ReadOnlyStoreError)
})

test('a union locates each block once, in the first store that holds it, and reads located blocks from their own stores', async (t) => {
  const [a, b] = await stores(t, 2)
  const onlyA = await block(a, 100_000)
  const both = await block(a, 3000)
  await b.put(both.cid, both.bytes); await b.flush()
  const onlyB = await block(b, 200_000)
  const view = unionBlockStore({ stores: () => [a, b] })
  const all = new LocatedList()
  for await (const batch of view.located!(1)) for (let i = 0; i < batch.count; i++) all.push(batch, i)
  assert.deepEqual(Array.from({ length: all.count }, (_, i) => CID.decode(all.cid(i)).toString()).sort(), [onlyA.cid, both.cid, onlyB.cid].map(String).sort())
  const want = new Map([onlyA, both, onlyB].map(x => [x.cid.toString(), x.bytes]))
  let n = 0
  for await (const { index, bytes } of view.readLocated!(all)) {
    assert.ok(Buffer.from(bytes).equals(want.get(CID.decode(all.cid(index)).toString())!))
    n++
  }
  assert.equal(n, 3)
})
