// The BlockStore contract as the mesh relies on it: put verifies the CID, a block already
// present is not stored twice, and a copy that no longer matches its CID is replaced (F14).
import test from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, openSync, readSync, rmSync, writeSync, closeSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { BlockNotFoundError, cidOf, CidMismatchError, CorruptBlockError, DiskFullError, LocalBlockStore, LocatedList, unionBlockStore } from './index.ts'
import { OperationAbortedError } from '../crypto/index.ts'

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

test('putMany stores each good block once, refuses a mismatched one, and answers per block', async () => {
  await withStore(async store => {
    const a = randomBytes(5000)
    const b = randomBytes(70_000)
    const wrong = { cid: cidOf(randomBytes(10)), bytes: randomBytes(10) }
    await store.put(cidOf(a), a)
    const out = await store.putMany([{ cid: cidOf(a), bytes: a }, { cid: cidOf(b), bytes: b }, wrong, { cid: cidOf(b), bytes: b }])
    assert.deepEqual(out.map(e => e?.name), [undefined, undefined, 'CidMismatchError', undefined])
    assert.equal(await store.has(wrong.cid), false)
    await store.flush()
    let copies = 0
    for await (const e of store.entries()) if (Buffer.from(e.cid).equals(cidOf(b).bytes)) copies++
    assert.equal(copies, 1)
    assert.deepEqual(Buffer.from(await store.get(cidOf(b), { verify: true })), b)
  })
})

test('getMany yields every block once with its position, read in segment order, written or still buffered', async () => {
  await withStore(async store => {
    // Sizes around the read-span and write-buffer limits, and more than one write buffer in all.
    const blocks = [10, 70_000, 1, 5 << 20, 300_000, 2000, 1 << 20].map(n => randomBytes(n)).map(bytes => ({ cid: cidOf(bytes), bytes }))
    await store.putMany(blocks.slice(0, 4))
    await store.flush()
    await store.putMany(blocks.slice(4)) // not flushed: still in the write buffer or on its way to the file
    const asked = [...blocks].reverse().map(b => b.cid)
    const seen: number[] = []
    for await (const { index, bytes } of store.getMany(asked)) {
      seen.push(index)
      assert.ok(Buffer.from(bytes).equals(blocks[blocks.length - 1 - index].bytes), `block ${index}`)
    }
    assert.deepEqual([...seen].sort(), asked.map((_, i) => i).sort())
    const locs = await Promise.all(seen.map(async i => (await store.location(asked[i]))!))
    for (let i = 1; i < locs.length; i++) assert.ok(locs[i - 1].segment < locs[i].segment || (locs[i - 1].segment === locs[i].segment && locs[i - 1].offset < locs[i].offset), 'segment order')
    await assert.rejects(async () => { for await (const _ of store.getMany([cidOf(randomBytes(8))])) { /* none */ } }, BlockNotFoundError)
  })
})

test('blocks read back intact while their write buffers are still being written, and after reopening', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-blocks-'))
  try {
    const blocks = Array.from({ length: 40 }, (_, i) => randomBytes(200_000 + i)).map(bytes => ({ cid: cidOf(bytes), bytes }))
    let store = await LocalBlockStore.open(join(dir, 'index'), join(dir, 'segments'))
    for (const b of blocks) {
      await store.put(b.cid, b.bytes)
      assert.deepEqual(Buffer.from(await store.get(b.cid, { verify: true })), b.bytes) // 8 MiB in all: reads overlap buffers in flight
    }
    await store.close()
    store = await LocalBlockStore.open(join(dir, 'index'), join(dir, 'segments'))
    for (const b of blocks) assert.deepEqual(Buffer.from(await store.get(b.cid, { verify: true })), b.bytes)
    await store.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a block found absent by one lookup is found present once stored, before and after a flush', async () => {
  await withStore(async store => {
    const bytes = randomBytes(3000)
    const cid = cidOf(bytes)
    assert.deepEqual(await store.hasMany([cid]), [false])
    await store.put(cid, bytes)
    assert.deepEqual(await store.hasMany([cid]), [true])
    await store.flush()
    assert.deepEqual(await store.hasMany([cid]), [true])
    assert.deepEqual((await store.putMany([{ cid, bytes }])), [undefined])
    let copies = 0
    for await (const e of store.entries()) if (Buffer.from(e.cid).equals(cid.bytes)) copies++
    assert.equal(copies, 1)
  })
})

test('a hole in the newest segment (a later buffer landed, an earlier one not): the intact record after it is kept and indexed, a torn tail is cut', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-blocks-'))
  try {
    const kept = randomBytes(50_000)
    let store = await LocalBlockStore.open(join(dir, 'index'), join(dir, 'segments'))
    await store.put(cidOf(kept), kept)
    await store.flush()
    await store.close()
    // After the close: before it, a direct-I/O segment ends in a padded page.
    const seg = join(dir, 'segments', '00000001.seg')
    const committed = statSync(seg).size
    // As a crash between two buffer writes leaves it: zeros where the first buffer should be,
    // then a whole record of the second.
    const lost = randomBytes(1000)
    const cid = cidOf(lost).bytes
    const record = Buffer.concat([Buffer.alloc(4), Buffer.of(cid.length), cid, Buffer.of(0), lost])
    record.writeUInt32LE(record.length - 4, 0)
    const fd = openSync(seg, 'r+')
    writeSync(fd, record, 0, record.length, committed + 4096)
    // … and the first half of a third record: a torn tail.
    writeSync(fd, record, 0, record.length >> 1, committed + 4096 + record.length)
    closeSync(fd)
    store = await LocalBlockStore.open(join(dir, 'index'), join(dir, 'segments'))
    assert.equal(statSync(seg).size, committed + 4096 + record.length, 'the torn tail is cut, nothing before it')
    assert.deepEqual(Buffer.from(await store.get(cidOf(lost), { verify: true })), lost, 'the record after the hole is indexed')
    assert.deepEqual(Buffer.from(await store.get(cidOf(kept), { verify: true })), kept)
    await store.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('located lists every block with its place, flushed or not; readLocated reads chosen ones in disk order into reused buffers', async () => {
  await withStore(async store => {
    // Large blocks (reads on the pool into the store's reused buffers) and small ones (read in place).
    const blocks = Array.from({ length: 120 }, (_, i) => randomBytes(i % 10 === 0 ? 300_000 + i : 500 + i * 13))
    for (const b of blocks.slice(0, 80)) await store.put(cidOf(b), b)
    await store.flush()
    for (const b of blocks.slice(80)) await store.put(cidOf(b), b) // pending: written, not yet indexed
    const all = new LocatedList()
    let batches = 0
    for await (const batch of store.located(32)) {
      batches++
      assert.ok(batch.count <= 32)
      for (let i = 0; i < batch.count; i++) all.push(batch, i)
    }
    assert.ok(batches >= 4)
    const byCid = new Map(blocks.map(b => [cidOf(b).toString(), b]))
    assert.equal(all.count, blocks.length)
    for (let i = 0; i < all.count; i++) assert.equal(all.lengths[i], byCid.get(CID.decode(all.cid(i)).toString())!.length)
    // Every other one, as a replication round picks the blocks a peer lacks.
    const chosen = new LocatedList()
    for (let i = 0; i < all.count; i += 2) chosen.push(all, i)
    const seen = new Set<number>()
    let last = { segment: -1, offset: -1 }
    for await (const { index, bytes } of store.readLocated(chosen)) {
      assert.equal(seen.has(index), false)
      seen.add(index)
      const place = { segment: chosen.segments[index], offset: chosen.offsets[index] }
      assert.ok(place.segment > last.segment || (place.segment === last.segment && place.offset > last.offset), 'in disk order')
      last = place
      // Checked before the next block is asked for: the bytes are only valid until then.
      assert.ok(Buffer.from(bytes).equals(byCid.get(CID.decode(chosen.cid(index)).toString())!), `block ${index}`)
    }
    assert.equal(seen.size, chosen.count)
  })
})

test('every BlockStore call takes a signal: once it is aborted the call, or an iteration at its next block, stops with OperationAbortedError', async () => {
  await withStore(async store => {
    const blocks = Array.from({ length: 40 }, () => randomBytes(3000)).map(bytes => ({ cid: cidOf(bytes), bytes }))
    await store.putMany(blocks)
    await store.flush()
    await store.addSnapshotRoot(blocks[0].cid)
    const gone = AbortSignal.abort('stop')
    const aborted = { name: 'OperationAbortedError', code: 'OPERATION_ABORTED' }
    for (const view of [store, unionBlockStore({ stores: () => [store], write: store })]) {
      const signal = gone
      await assert.rejects(view.has(blocks[0].cid, { signal }), aborted)
      await assert.rejects(view.hasMany([blocks[0].cid], { signal }), aborted)
      await assert.rejects(view.get(blocks[0].cid, { signal }), aborted)
      await assert.rejects(view.sizes([blocks[0].cid], { signal }), aborted)
      await assert.rejects(view.put(blocks[1].cid, blocks[1].bytes, { signal }), aborted)
      await assert.rejects(view.putMany!(blocks.slice(0, 2), { signal }), aborted)
      await assert.rejects(view.flush({ signal }), aborted)
      await assert.rejects(view.snapshotRoots({ signal }), aborted)
      await assert.rejects(view.snapshotRootOrigins!({ signal }), aborted)
      await assert.rejects(view.addSnapshotRoot(blocks[1].cid, undefined, { signal }), aborted)
      await assert.rejects(async () => { for await (const _ of view.cids({ signal })) { /* none */ } }, aborted)
      await assert.rejects(async () => { for await (const _ of view.getMany!(blocks.map(b => b.cid), { signal })) { /* none */ } }, aborted)
      await assert.rejects(async () => { for await (const _ of view.located!(8, { signal })) { /* none */ } }, aborted)
      // Under way: an iteration stops at the block after the abort, and what it read before stays read.
      const ac = new AbortController()
      let read = 0
      await assert.rejects(async () => {
        for await (const _ of view.getMany!(blocks.map(b => b.cid), { signal: ac.signal })) { if (++read === 3) ac.abort('enough') }
      }, (err: Error) => err instanceof OperationAbortedError && (err.cause as string) === 'enough')
      assert.ok(read >= 3 && read < blocks.length, `${read} blocks read`)
    }
    assert.equal((await store.snapshotRoots()).length, 1, 'nothing was listed by an aborted call')
  })
})

test('a full disk fails a flush with DiskFullError; once space is freed the next flush indexes every block put meanwhile', async () => {
  // A small ext4 image (root only: the tests run as root here and in CI): direct writes, as on a real disk.
  const dir = mkdtempSync(join(tmpdir(), 'cairn-full-'))
  const mnt = join(dir, 'mnt')
  execFileSync('truncate', ['-s', '24M', join(dir, 'img')])
  execFileSync('mkfs.ext4', ['-q', '-F', join(dir, 'img')])
  mkdirSync(mnt)
  execFileSync('mount', ['-o', 'loop', join(dir, 'img'), mnt])
  try {
    const store = await LocalBlockStore.open(join(mnt, 'index'), join(mnt, 'segments'))
    const filler = join(mnt, 'filler')
    execFileSync('fallocate', ['-l', String(Number(execFileSync('df', ['--output=avail', '-B1', mnt]).toString().split('\n')[1]) - (4 << 20)), filler])
    const blocks = Array.from({ length: 40 }, () => randomBytes(256 << 10))
    const put: Buffer[] = []
    let failure: unknown
    for (const b of blocks) {
      try { await store.put(cidOf(b), b); put.push(b) } catch (err) { failure = err; break }
    }
    if (failure === undefined) failure = await store.flush().then(() => undefined, err => err)
    assert.ok(failure instanceof DiskFullError, String(failure))
    rmSync(filler)
    for (const b of blocks.slice(put.length)) { await store.put(cidOf(b), b); put.push(b) }
    await store.flush()
    await store.close()
    const again = await LocalBlockStore.open(join(mnt, 'index'), join(mnt, 'segments'))
    try {
      for (const b of put) assert.deepEqual(Buffer.from(await again.get(cidOf(b), { verify: true })), b)
    } finally {
      await again.close()
    }
  } finally {
    execFileSync('umount', [mnt])
    rmSync(dir, { recursive: true, force: true })
  }
})
