// Every BlockStore in chunkstore/ runs the conformance suite (testing/block-store-suite.ts);
// the fault-injecting wrapper also shows that faults reach the caller as errors and leave
// what was stored before intact.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { closeSync, openSync, readSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { cidOf, CorruptBlockError, LocalBlockStore, readBlocks, storeBlocks, unionBlockStore } from './index.ts'
import { blockStoreSuite, faultyBlockStore, memoryBlockStore, removeDir, tempDir, type Faults } from './testing/index.ts'
import { StoreCorruptError } from './errors.ts'

/** Flips a byte in the middle of the block's bytes in its segment file. */
function corruptLocal (store: LocalBlockStore) {
  return async (cid: CID): Promise<void> => {
    const loc = (await store.location(cid))!
    const fd = openSync(store.log.path(loc.segment), 'r+')
    const b = Buffer.alloc(1); const at = loc.offset + (loc.length >> 1)
    readSync(fd, b, 0, 1, at); b[0] ^= 0xff; writeSync(fd, b, 0, 1, at); closeSync(fd)
  }
}

blockStoreSuite({
  name: 'LocalBlockStore',
  async open () {
    const dir = tempDir('cairn-conform-')
    const open = async (): Promise<LocalBlockStore> => await LocalBlockStore.open(join(dir, 'index'), join(dir, 'segments'))
    let store = await open()
    return {
      store,
      corrupt: async cid => { await corruptLocal(store)(cid) },
      reopen: async () => { await store.close(); store = await open(); return store },
      close: async () => { await store.close(); removeDir(dir) }
    }
  }
})

blockStoreSuite({
  name: 'unionBlockStore over a local store and an in-memory one',
  async open () {
    const dir = tempDir('cairn-conform-')
    const local = await LocalBlockStore.open(join(dir, 'index'), join(dir, 'segments'))
    const other = memoryBlockStore()
    return {
      store: unionBlockStore({ stores: () => [other, local], write: local }),
      corrupt: corruptLocal(local),
      close: async () => { await local.close(); removeDir(dir) }
    }
  }
})

blockStoreSuite({
  name: 'memoryBlockStore',
  async open () {
    const store = memoryBlockStore()
    return { store, corrupt: async cid => { store.corrupt(cid) }, reopen: async () => store.crash(), close: async () => {} }
  }
})

blockStoreSuite({
  name: 'faultyBlockStore with latency and no faults',
  async open () {
    const inner = memoryBlockStore()
    return { store: faultyBlockStore(inner, { latencyMs: 1 }), corrupt: async cid => { inner.corrupt(cid) }, close: async () => {} }
  }
})

test('memoryBlockStore: a crash loses only what no flush made durable', async () => {
  const store = memoryBlockStore()
  const a = randomBytes(100); const b = randomBytes(100)
  await store.put(cidOf(a), a); await store.flush()
  await store.put(cidOf(b), b)
  const after = store.crash()
  assert.equal(await after.has(cidOf(a)), true)
  assert.equal(await after.has(cidOf(b)), false)
})

test('faults reach the caller as errors, and blocks stored before them stay intact', async () => {
  const inner = memoryBlockStore()
  const faults: Faults = {}
  const store = faultyBlockStore(inner, faults)
  const blocks = Array.from({ length: 6 }, () => { const bytes = randomBytes(3000); return { cid: cidOf(bytes), bytes } })
  await storeBlocks(store, blocks.slice(0, 3))
  // A medium that refuses writes halfway (a full disk, a bucket refusing PUTs).
  faults.fail = (method, cid) => method === 'put' && cid?.equals(blocks[4].cid) === true ? new StoreCorruptError('injected: the medium refused the write') : undefined
  await assert.rejects(storeBlocks(store, blocks.slice(3)), StoreCorruptError)
  assert.deepEqual(await store.hasMany(blocks.map(b => b.cid)), [true, true, true, true, false, false])
  // A rerun once the medium is back completes the set.
  faults.fail = undefined
  await storeBlocks(store, blocks)
  assert.deepEqual(await store.hasMany(blocks.map(b => b.cid)), blocks.map(() => true))
  // A torn read is caught by verify, never returned as good bytes; the stored copy is untouched.
  faults.shortRead = cid => cid.equals(blocks[1].cid)
  await assert.rejects(store.get(blocks[1].cid, { verify: true }), CorruptBlockError)
  faults.shortRead = undefined
  assert.deepEqual(Buffer.from(await store.get(blocks[1].cid, { verify: true })), Buffer.from(blocks[1].bytes))
  // A failing read stops a bulk read with that error.
  faults.fail = method => method === 'get' ? new StoreCorruptError('injected: read error') : undefined
  const reading = async (): Promise<void> => { for await (const _ of readBlocks(store, blocks.map(b => b.cid))) { /* drain */ } }
  await assert.rejects(reading(), StoreCorruptError)
})
