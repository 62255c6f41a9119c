// The BlockStore contract as the mesh relies on it: put verifies the CID, a block already
// present is not stored twice, and a copy that no longer matches its CID is replaced (F14).
import test from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, openSync, readSync, rmSync, writeSync, closeSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { cidOf, CidMismatchError, CorruptBlockError, LocalBlockStore } from './index.ts'

async function withStore (fn: (store: LocalBlockStore, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-blocks-'))
  try {
    const store = await LocalBlockStore.open(join(dir, 'index'), join(dir, 'segments'))
    try { await fn(store, dir) } finally { await store.close() }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

test('put refuses bytes that do not match the CID and stores nothing', async () => {
  await withStore(async store => {
    const bytes = randomBytes(1000)
    const cid = cidOf(randomBytes(1000))
    await assert.rejects(store.put(cid, bytes), CidMismatchError)
    assert.equal(await store.has(cid), false)
  })
})

test('a block put twice is stored once', async () => {
  await withStore(async (store, dir) => {
    const bytes = randomBytes(100_000)
    const cid = cidOf(bytes)
    await store.put(cid, bytes); await store.flush()
    const size = statSync(join(dir, 'segments', '00000001.seg')).size
    await store.put(cid, bytes); await store.flush()
    assert.equal(statSync(join(dir, 'segments', '00000001.seg')).size, size)
    assert.deepEqual(Buffer.from(await store.get(cid, { verify: true })), bytes)
  })
})

test('putting good bytes over a corrupt copy repairs the block', async () => {
  await withStore(async store => {
    const bytes = randomBytes(100_000)
    const cid: CID = cidOf(bytes)
    await store.put(cid, bytes); await store.flush()
    const loc = (await store.location(cid))!
    const path = store.log.path(loc.segment)
    const fd = openSync(path, 'r+')
    const b = Buffer.alloc(1); readSync(fd, b, 0, 1, loc.offset + 500); b[0] ^= 0xff; writeSync(fd, b, 0, 1, loc.offset + 500); closeSync(fd)
    await assert.rejects(store.get(cid, { verify: true }), CorruptBlockError)
    await store.put(cid, bytes); await store.flush()
    assert.deepEqual(Buffer.from(await store.get(cid, { verify: true })), bytes)
  })
})
