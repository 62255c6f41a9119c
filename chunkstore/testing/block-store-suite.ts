// The BlockStore conformance suite (restic's internal/backend/test/suite.go and kopia's
// blobtesting.VerifyStorage are the models): every place that holds sealed blocks — the local
// store, the union view, the in-memory store, the fault-injecting wrapper and each archive
// device — runs these same tests, so the contract in chunkstore/block-store.ts is checked
// rather than trusted. A new implementation calls `blockStoreSuite` from its own test file.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { OperationAbortedError } from '../../crypto/index.ts'
import { BlockNotFoundError, CidMismatchError, CorruptBlockError, cidOf, locatedBlocks, readBlocks, readLocatedBlocks, storeBlocks, BLOCK_CID_LENGTH, type BlockStore } from '../index.ts'

export interface StoreUnderTest {
  store: BlockStore
  /**
   * The same place opened again (after closing `store`), as a restart would find it. Absent
   * for a store that does not outlive its process.
   */
  reopen?: () => Promise<BlockStore>
  /** Flips a byte of the stored copy of `cid`, as a failing medium would. Absent: not tested. */
  corrupt?: (cid: CID) => Promise<void>
  /** Closes whatever is open and removes what the test made. */
  close: () => Promise<void>
}

export interface BlockStoreSuiteInit {
  /** The implementation's name, shown in the test names. */
  name: string
  /** A new, empty store for one test. */
  open: () => Promise<StoreUnderTest>
}

const block = (size: number): { cid: CID, bytes: Uint8Array } => {
  const bytes = randomBytes(size)
  return { cid: cidOf(bytes), bytes }
}

const key = (c: CID): string => c.toString()

async function collect<T> (it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

/** Registers the suite's tests, one `describe` per implementation. */
export function blockStoreSuite (init: BlockStoreSuiteInit): void {
  const withStore = async (fn: (t: StoreUnderTest) => Promise<void>): Promise<void> => {
    const t = await init.open()
    try { await fn(t) } finally { await t.close() }
  }

  describe(`BlockStore contract: ${init.name}`, () => {
    it('get returns the bytes put, has and sizes see them, an absent block is BlockNotFoundError', async () => {
      await withStore(async ({ store }) => {
        const a = block(1); const b = block(70_000); const absent = block(10)
        await store.put(a.cid, a.bytes); await store.put(b.cid, b.bytes)
        assert.deepEqual(Buffer.from(await store.get(a.cid, { verify: true })), Buffer.from(a.bytes))
        assert.deepEqual(Buffer.from(await store.get(b.cid)), Buffer.from(b.bytes))
        assert.equal(await store.has(b.cid), true)
        assert.equal(await store.has(absent.cid), false)
        assert.deepEqual(await store.hasMany([absent.cid, b.cid, a.cid, absent.cid]), [false, true, true, false])
        assert.deepEqual(await store.sizes([b.cid, absent.cid, a.cid]), [70_000, undefined, 1])
        await assert.rejects(store.get(absent.cid), BlockNotFoundError)
      })
    })

    it('put refuses bytes that do not match the CID and stores nothing', async () => {
      await withStore(async ({ store }) => {
        const good = block(500); const other = block(500)
        await assert.rejects(store.put(other.cid, good.bytes), CidMismatchError)
        assert.equal(await store.has(other.cid), false)
        assert.equal(await store.has(good.cid), false)
        assert.deepEqual(await collect(store.cids()), [])
      })
    })

    it('a block put twice is listed once; cids lists every block exactly once', async () => {
      await withStore(async ({ store }) => {
        const blocks = Array.from({ length: 40 }, (_, i) => block(100 + i * 37))
        for (const b of blocks) await store.put(b.cid, b.bytes)
        await store.put(blocks[3].cid, blocks[3].bytes)
        await store.flush()
        await store.put(blocks[5].cid, blocks[5].bytes)
        const listed = (await collect(store.cids())).map(key).sort()
        assert.deepEqual(listed, blocks.map(b => key(b.cid)).sort())
      })
    })

    it('storeBlocks answers per block and readBlocks returns each asked block once, by position', async () => {
      await withStore(async ({ store }) => {
        const blocks = Array.from({ length: 12 }, (_, i) => block(1000 * (i + 1)))
        const wrong = { cid: block(10).cid, bytes: randomBytes(10) }
        const answers = await storeBlocks(store, [...blocks.slice(0, 6), wrong, ...blocks.slice(6)])
        assert.deepEqual(answers.map(e => e?.name), [...Array(6).fill(undefined), 'CidMismatchError', ...Array(6).fill(undefined)])
        assert.equal(await store.has(wrong.cid), false)
        const asked = [...blocks].reverse()
        const seen = new Map<number, Buffer>()
        for await (const { index, bytes } of readBlocks(store, asked.map(b => b.cid))) {
          assert.equal(seen.has(index), false, 'each position once')
          seen.set(index, Buffer.from(bytes))
        }
        assert.equal(seen.size, asked.length)
        asked.forEach((b, i) => assert.deepEqual(seen.get(i), Buffer.from(b.bytes)))
      })
    })

    it('locatedBlocks and readLocatedBlocks give back every block with its length', async () => {
      await withStore(async ({ store }) => {
        const blocks = Array.from({ length: 30 }, (_, i) => block(200 + i))
        for (const b of blocks) await store.put(b.cid, b.bytes)
        await store.flush()
        const want = new Map(blocks.map(b => [Buffer.from(b.cid.bytes).toString('hex'), Buffer.from(b.bytes)]))
        let count = 0
        for await (const batch of locatedBlocks(store, 7)) {
          assert.ok(batch.count <= 7 || store.located !== undefined)
          for await (const { index, bytes } of readLocatedBlocks(store, batch)) {
            const k = Buffer.from(batch.cids.subarray(index * BLOCK_CID_LENGTH, (index + 1) * BLOCK_CID_LENGTH)).toString('hex')
            assert.equal(batch.lengths[index], bytes.length)
            assert.deepEqual(Buffer.from(bytes), want.get(k))
            count++
          }
        }
        assert.equal(count, blocks.length)
      })
    })

    it('snapshot roots are listed; a root keeps the origin it was first listed with', async () => {
      await withStore(async ({ store }) => {
        const own = block(300); const sent = block(300)
        await store.put(own.cid, own.bytes); await store.put(sent.cid, sent.bytes)
        await store.addSnapshotRoot(own.cid)
        const origin = { site: '12D3KooWExample', received: '2026-12-07T00:00:00.000Z' }
        await store.addSnapshotRoot(sent.cid, origin)
        await store.addSnapshotRoot(sent.cid, { site: 'other', received: '2026-12-08T00:00:00.000Z' })
        assert.deepEqual((await store.snapshotRoots()).map(key).sort(), [own.cid, sent.cid].map(key).sort())
        if (store.snapshotRootOrigins !== undefined) {
          const origins = new Map((await store.snapshotRootOrigins()).map(r => [key(r.cid), r.origin]))
          assert.equal(origins.get(key(own.cid)), undefined)
          assert.deepEqual(origins.get(key(sent.cid)), origin)
        }
      })
    })

    it('a call given an aborted signal throws OperationAbortedError and stores nothing', async () => {
      await withStore(async ({ store }) => {
        const kept = block(400); const refused = block(400)
        await store.put(kept.cid, kept.bytes)
        const signal = AbortSignal.abort()
        await assert.rejects(store.put(refused.cid, refused.bytes, { signal }), OperationAbortedError)
        await assert.rejects(store.get(kept.cid, { signal }), OperationAbortedError)
        await assert.rejects(store.hasMany([kept.cid], { signal }), OperationAbortedError)
        await assert.rejects(collect(store.cids({ signal })), OperationAbortedError)
        await assert.rejects(storeBlocks(store, [refused], { signal }), OperationAbortedError)
        assert.equal(await store.has(refused.cid), false)
        assert.deepEqual(Buffer.from(await store.get(kept.cid, { verify: true })), Buffer.from(kept.bytes))
      })
    })

    it('what flush made durable is there when the store is opened again', async () => {
      await withStore(async t => {
        if (t.reopen === undefined) return
        const blocks = Array.from({ length: 10 }, (_, i) => block(5000 + i))
        for (const b of blocks) await t.store.put(b.cid, b.bytes)
        await t.store.addSnapshotRoot(blocks[0].cid)
        await t.store.flush()
        const again = await t.reopen()
        for (const b of blocks) assert.deepEqual(Buffer.from(await again.get(b.cid, { verify: true })), Buffer.from(b.bytes))
        assert.deepEqual((await again.snapshotRoots()).map(key), [key(blocks[0].cid)])
      })
    })

    it('get with verify reports a copy that no longer matches its CID; putting good bytes repairs it', async () => {
      await withStore(async t => {
        if (t.corrupt === undefined) return
        const b = block(20_000); const other = block(20_000)
        await t.store.put(b.cid, b.bytes); await t.store.put(other.cid, other.bytes); await t.store.flush()
        await t.corrupt(b.cid)
        await assert.rejects(t.store.get(b.cid, { verify: true }), CorruptBlockError)
        assert.deepEqual(Buffer.from(await t.store.get(other.cid, { verify: true })), Buffer.from(other.bytes))
        await t.store.put(b.cid, b.bytes); await t.store.flush()
        assert.deepEqual(Buffer.from(await t.store.get(b.cid, { verify: true })), Buffer.from(b.bytes))
      })
    })
  })
}
