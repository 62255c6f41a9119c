// The local-directory archive device: the BlockStore conformance suite on a real folder, its
// faults (a missing folder, a cut-off pack, a crash between a pack and its catalogue), and the
// DR case at the library level: back up, archive, lose the store, restore from the archive
// with only the escrowed config.json and keys.json, compare byte for byte; and the device's
// write lock between two runs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { cidOf, LocalBlockStore, openRepository, BlockNotFoundError } from '../../chunkstore/index.ts'
import { blockStoreSuite, createStore, PASSPHRASE, removeDir, tempDir, treePrint, writeRandom } from '../../chunkstore/testing/index.ts'
import { ArchiveDamagedError, ArchiveDeviceUnavailableError, copyBlocks, encodePack, localDirectoryMedium, openArchiveDevice, openPackBlockStore, scanPack, snapshotSelection, verifyBlocks, type ArchiveMedium, type DeviceRecord, type PackBlockStore } from './index.ts'

const open = async (dir: string, packSize = 64 << 10): Promise<PackBlockStore> => await openPackBlockStore(await localDirectoryMedium({ device: 'nas-1', dir }), { packSize })

/** Flips a byte in the middle of `cid`'s bytes in whichever pack holds it. */
async function corruptIn (dir: string, cid: CID): Promise<void> {
  for (const name of readdirSync(join(dir, 'packs')).filter(n => n.endsWith('.pack'))) {
    const path = join(dir, 'packs', name)
    const pack = readFileSync(path)
    const e = scanPack(pack).find(x => Buffer.from(x.cid).equals(cid.bytes))
    if (e === undefined) continue
    pack[e.offset + (e.length >> 1)] ^= 0xff
    writeFileSync(path, pack)
  }
}

blockStoreSuite({
  name: 'archive device: local directory (pack store)',
  async open () {
    const dir = tempDir('cairn-archive-dir-')
    let store = await open(dir)
    return {
      store,
      reopen: async () => { store = await open(dir); return store },
      corrupt: async cid => { await corruptIn(dir, cid) },
      close: async () => { removeDir(dir) }
    }
  }
})

const blocks = (n: number, size = 20_000): Array<{ cid: CID, bytes: Uint8Array }> => Array.from({ length: n }, () => { const bytes = randomBytes(size); return { cid: cidOf(bytes), bytes } })

test('local directory: a missing folder, a cut-off pack and a crash before a catalogue are named, and a rerun completes', async () => {
  const dir = tempDir('cairn-archive-faults-')
  try {
    await assert.rejects(localDirectoryMedium({ device: 'nas-1', dir: join(dir, 'unmounted') }), (err: Error) => err instanceof ArchiveDeviceUnavailableError && err.message.includes('nas-1'))
    const device = join(dir, 'dev'); mkdirSync(device)
    const some = blocks(12)
    const store = await open(device)
    for (const b of some) await store.put(b.cid, b.bytes)
    await store.flush()
    const packs = readdirSync(join(device, 'packs')).filter(n => n.endsWith('.pack'))
    assert.ok(packs.length >= 2, 'small packs: several')
    // A pack whose catalogue never got written (a crash between the two) is not listed...
    const orphan = blocks(3)
    writeFileSync(join(device, 'packs', `${'0'.repeat(64)}.pack`), encodePack(orphan.map(b => ({ cid: b.cid.bytes, bytes: b.bytes }))).pack)
    const again = await open(device)
    assert.deepEqual(await again.hasMany(orphan.map(b => b.cid)), [false, false, false])
    // ...and a cut-off pack is reported by get and by verify, the other packs still readable.
    const victim = join(device, 'packs', packs[0])
    const inVictim = scanPack(readFileSync(victim)).map(e => Buffer.from(e.cid).toString('hex'))
    truncateSync(victim, 100)
    const reopened = await open(device)
    const lost = some.filter(b => inVictim.includes(Buffer.from(b.cid.bytes).toString('hex')))
    const kept = some.filter(b => !inVictim.includes(Buffer.from(b.cid.bytes).toString('hex')))
    assert.ok(lost.length > 0 && kept.length > 0)
    await assert.rejects(reopened.get(lost[0].cid), (err: Error) => err instanceof ArchiveDamagedError && err.message.includes('nas-1'))
    for (const b of kept) assert.deepEqual(Buffer.from(await reopened.get(b.cid, { verify: true })), Buffer.from(b.bytes))
    const v = await verifyBlocks(reopened)
    assert.equal(v.blocks, some.length)
    assert.equal(v.bad.length, lost.length)
    // A rerun puts the lost blocks again (their copies fail the check), after which all verify.
    for (const b of some) await reopened.put(b.cid, b.bytes)
    await reopened.flush()
    assert.equal((await verifyBlocks(await open(device))).bad.length, 0)
    await assert.rejects((await open(device)).get(orphan[0].cid), BlockNotFoundError)
    const rerun = await open(device)
    for (const b of orphan) await rerun.put(b.cid, b.bytes)
    await rerun.flush()
    assert.deepEqual(await (await open(device)).hasMany(orphan.map(b => b.cid)), [true, true, true])
  } finally {
    removeDir(dir)
  }
})

test('DR from a local-directory archive: store and index gone, escrowed config and keys only, restored byte for byte', async () => {
  const dir = tempDir('cairn-archive-dr-')
  try {
    const src = join(dir, 'src'); mkdirSync(join(src, 'sub'), { recursive: true })
    writeRandom(join(src, 'big.bin'), 3 << 20)
    writeRandom(join(src, 'sub', 'small.txt'), 3000)
    writeFileSync(join(src, 'empty'), '')
    const storeDir = join(dir, 'store')
    const repo = await createStore(storeDir)
    await repo.backup({ paths: [src] })
    writeRandom(join(src, 'sub', 'later.bin'), 200_000)
    await repo.backup({ paths: [src] })
    const device = join(dir, 'archive'); mkdirSync(device)
    const first = await copyBlocks(repo.blocks, await open(device, 1 << 20))
    assert.ok(first.blocksWritten > 0 && first.rootsAdded === 2)
    // Each segment (every block in it wanted, none on the device) is a pack of its own, its bytes as they lie in the store.
    const segments = readdirSync(join(storeDir, 'segments')).filter(n => n.endsWith('.seg'))
    const copies = readdirSync(join(device, 'packs')).filter(n => n.endsWith('.pack')).map(n => readFileSync(join(device, 'packs', n))).filter(p => p.subarray(0, 8).toString() === 'CAIRNSG1')
    assert.equal(copies.length, segments.length)
    for (const seg of segments) {
      const bytes = readFileSync(join(storeDir, 'segments', seg))
      assert.ok(copies.some(p => p.equals(bytes.subarray(0, p.length))), `${seg} copied as it lies`)
    }
    assert.equal(copies.reduce((n, p) => n + scanPack(p).length, 0), first.blocksWritten)
    // A second run writes nothing new: dedup against the device's catalogue.
    const second = await copyBlocks(repo.blocks, await open(device, 1 << 20))
    assert.equal(second.blocksWritten, 0)
    assert.equal(second.blocksPresent, first.blocksWritten)
    await repo.close()
    // Escrow keeps config.json and keys.json; everything else of the store is lost.
    const escrow = join(dir, 'escrow'); mkdirSync(escrow)
    for (const f of ['config.json', 'keys.json']) copyFileSync(join(storeDir, f), join(escrow, f))
    rmSync(storeDir, { recursive: true, force: true })
    // The archive device holds no key material.
    for (const f of readdirSync(device, { recursive: true }) as string[]) assert.ok(!f.endsWith('keys.json'), f)

    const fresh = join(dir, 'rebuilt')
    const blocksOut = await LocalBlockStore.open(join(fresh, 'index'), join(fresh, 'segments'))
    const back = await copyBlocks(await open(device), blocksOut)
    assert.equal(back.blocksWritten, first.blocksWritten)
    await blocksOut.close()
    for (const f of ['config.json', 'keys.json']) copyFileSync(join(escrow, f), join(fresh, f))
    const restored = await openRepository(fresh, { passphrase: PASSPHRASE })
    try {
      const target = join(dir, 'target')
      const snap = (await restored.snapshots()).at(-1)!
      const r = await restored.restore({ snapshot: snap.id, target, conflict: 'overwrite' })
      assert.deepEqual(r.failed, [])
      assert.deepEqual(treePrint(join(target, src), { contents: true }), treePrint(src, { contents: true }))
    } finally {
      await restored.close()
    }
  } finally {
    removeDir(dir)
  }
})

test('retention on a local directory: an expired set goes with what only it needed; a later set that deduplicated against it still restores byte for byte', async () => {
  const dir = tempDir('cairn-archive-expiry-')
  try {
    const src = join(dir, 'src'); mkdirSync(src)
    writeRandom(join(src, 'kept.bin'), 400_000)
    writeRandom(join(src, 'gone.bin'), 400_000)
    const storeDir = join(dir, 'store')
    const repo = await createStore(storeDir)
    const device = join(dir, 'archive'); mkdirSync(device)
    // An archive run's set, as the archive job records it: its snapshot's blocks, expiring at `expiresAt`.
    const archive = async (id: string, expiresAt: string): Promise<CID[]> => {
      const snap = (await repo.snapshots()).at(-1)!
      const only = await snapshotSelection(repo, [snap])
      assert.ok(only !== undefined)
      const store = await open(device)
      await copyBlocks(repo.blocks, store, { only })
      await store.addSet({ id, createdAt: '2026-01-01T00:00:00Z', expiresAt, roots: only.roots, blocks: only.blocks })
      return only.blocks
    }
    await repo.backup({ paths: [src] })
    const first = await archive('run-1', '2026-02-01T00:00:00Z')
    rmSync(join(src, 'gone.bin'))
    writeRandom(join(src, 'new.bin'), 100_000)
    await repo.backup({ paths: [src] })
    const second = await archive('run-2', '2026-03-01T00:00:00Z')
    const only1 = first.filter(c => !second.some(d => d.equals(c)))
    assert.ok(only1.length > 0 && second.some(c => first.some(d => d.equals(c))), 'the second set needs blocks the first one wrote, and the first has its own')
    // Blocks archived with no set (by `cairn archive run`, or before sets were recorded) are never expired.
    const unclaimed = blocks(2)
    const loose = await open(device)
    for (const b of unclaimed) await loose.put(b.cid, b.bytes)
    await loose.flush()
    const packBytes = (): number => readdirSync(join(device, 'packs')).filter(n => n.endsWith('.pack')).reduce((n, f) => n + readFileSync(join(device, 'packs', f)).length, 0)
    const before = packBytes()

    const early = await (await open(device)).expire(new Date('2026-01-31T00:00:00Z'))
    assert.deepEqual(early, { sets: [], packs: 0, bytes: 0, roots: 0, kept: [] })
    const out = await (await open(device)).expire(new Date('2026-02-02T00:00:00Z'))
    assert.deepEqual(out.sets, ['run-1'])
    assert.equal(out.roots, 1)
    assert.ok(out.packs > 0 && out.bytes > 0, JSON.stringify(out))
    assert.equal(packBytes(), before - out.bytes)
    const after = await open(device)
    assert.deepEqual((await after.snapshotRoots()).map(String), [(await repo.snapshots()).at(-1)!.id])
    assert.ok((await after.hasMany(second)).every(Boolean), 'every block of the set in force is still there')
    assert.ok((await after.hasMany(only1)).some(h => !h), 'blocks only the expired set needed are gone')
    assert.deepEqual(await after.hasMany(unclaimed.map(b => b.cid)), [true, true])
    assert.deepEqual((await after.sets()).map(s => s.id), ['run-2'])
    assert.equal((await verifyBlocks(after)).bad.length, 0)

    // DR from what is left: the store is lost; the later set restores byte for byte.
    await repo.close()
    const escrow = join(dir, 'escrow'); mkdirSync(escrow)
    for (const f of ['config.json', 'keys.json']) copyFileSync(join(storeDir, f), join(escrow, f))
    rmSync(storeDir, { recursive: true, force: true })
    const fresh = join(dir, 'rebuilt')
    const blocksOut = await LocalBlockStore.open(join(fresh, 'index'), join(fresh, 'segments'))
    await copyBlocks(await open(device), blocksOut)
    await blocksOut.close()
    for (const f of ['config.json', 'keys.json']) copyFileSync(join(escrow, f), join(fresh, f))
    const restored = await openRepository(fresh, { passphrase: PASSPHRASE })
    try {
      const target = join(dir, 'target')
      const snaps = await restored.snapshots()
      assert.equal(snaps.length, 1)
      const r = await restored.restore({ snapshot: snaps[0].id, target, conflict: 'overwrite' })
      assert.deepEqual(r.failed, [])
      assert.deepEqual(treePrint(join(target, src), { contents: true }), treePrint(src, { contents: true }))
    } finally { await restored.close() }

    // When the last set expires too, only the unclaimed blocks stay.
    const last = await (await open(device)).expire(new Date('2026-03-02T00:00:00Z'))
    assert.deepEqual(last.sets, ['run-2'])
    const empty = await open(device)
    assert.deepEqual(await empty.snapshotRoots(), [])
    assert.ok((await empty.hasMany(second)).every(h => !h))
    assert.deepEqual(await empty.hasMany(unclaimed.map(b => b.cid)), [true, true])
  } finally {
    removeDir(dir)
  }
})

test('one writer at a time: a second run waits for the device\'s lock, so its expiry keeps what the first run\'s new set needs; a lock left by a dead process is taken over', async () => {
  const dir = tempDir('cairn-archive-lock-')
  let repo: Awaited<ReturnType<typeof createStore>> | undefined
  try {
    const src = join(dir, 'src'); mkdirSync(src)
    writeRandom(join(src, 'a.bin'), 300_000)
    repo = await createStore(join(dir, 'store'))
    await repo.backup({ paths: [src] })
    const only = await snapshotSelection(repo, [(await repo.snapshots())[0]])
    assert.ok(only !== undefined)
    const device = join(dir, 'archive'); mkdirSync(device)
    const record: DeviceRecord = { name: 'nas-1', created: '2026-01-01T00:00:00Z', config: { type: 'dir', path: device }, hasSecret: false }
    // An earlier run's set, expired by February.
    const first = await openArchiveDevice(record, undefined, { lock: { purpose: 'run 1' } })
    await copyBlocks(repo.blocks, first.store, { only })
    await first.store.addSet({ id: 'run-1', createdAt: '2026-01-01T00:00:00Z', expiresAt: '2026-02-01T00:00:00Z', roots: only.roots, blocks: only.blocks })
    await first.close()
    assert.equal(existsSync(join(device, 'lock')), false, 'released on close')

    // Run 2 finds every block there (dedup) and has not recorded its set yet when run 3 comes to expire.
    const second = await openArchiveDevice(record, undefined, { lock: { purpose: 'run 2' } })
    const copied = await copyBlocks(repo.blocks, second.store, { only })
    assert.equal(copied.blocksWritten, 0)
    assert.equal(JSON.parse(readFileSync(join(device, 'lock'), 'utf8')).purpose, 'run 2')
    const waited: string[] = []
    let thirdOpened = false
    const third = openArchiveDevice(record, undefined, { lock: { purpose: 'run 3', pollMs: 20, onWait: h => { waited.push(h?.purpose ?? '') } } }).then(d => { thirdOpened = true; return d })
    await new Promise(resolve => setTimeout(resolve, 200))
    assert.equal(thirdOpened, false, 'run 3 waits while run 2 holds the device')
    assert.deepEqual(waited, ['run 2'])
    await second.store.addSet({ id: 'run-2', createdAt: '2026-01-15T00:00:00Z', roots: only.roots, blocks: only.blocks })
    await second.close()
    const d3 = await third
    try {
      const out = await d3.store.expire(new Date('2026-02-02T00:00:00Z'))
      assert.deepEqual({ sets: out.sets, packs: out.packs, roots: out.roots }, { sets: ['run-1'], packs: 0, roots: 0 }, 'run 2\'s set needs every pack')
      assert.ok((await d3.store.hasMany(only.blocks)).every(Boolean))
      assert.equal((await verifyBlocks(d3.store)).bad.length, 0)
    } finally { await d3.close() }

    // A lock whose process (on this host) is gone is taken over; a stop ends a wait.
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
    writeFileSync(join(device, 'lock'), JSON.stringify({ version: 1, host: hostname(), pid: Number(gone.stdout), purpose: 'a crashed run', since: '2026-01-01T00:00:00Z' }))
    const taken = await openArchiveDevice(record, undefined, { lock: { purpose: 'run 4' } })
    const stop = new AbortController()
    const waiting = openArchiveDevice(record, undefined, { lock: { purpose: 'run 5', pollMs: 20, signal: stop.signal, onWait: () => { stop.abort(new Error('stopped by the operator')) } } })
    await assert.rejects(waiting, { name: 'OperationAbortedError' })
    await taken.close()
    assert.equal(existsSync(join(device, 'lock')), false)
  } finally {
    await repo?.close()
    removeDir(dir)
  }
})

test('segments copied two at a time, committed behind the copies: a failed sync is told, nothing catalogued is missing, and a rerun completes', async () => {
  const dir = tempDir('cairn-archive-behind-')
  try {
    const device = join(dir, 'dev'); mkdirSync(device)
    // Files laid out as segments are (magic, then the blocks' bytes); putSegment copies them as they are.
    const segments = Array.from({ length: 6 }, (_, i) => {
      const list = blocks(4, 10_000)
      const path = join(dir, `${i}.seg`)
      writeFileSync(path, Buffer.concat([Buffer.from('CAIRNSG1'), ...list.map(b => b.bytes)]))
      let offset = 8
      const entries = list.map(b => { const e = { cid: b.cid.bytes, offset, length: b.bytes.length }; offset += b.bytes.length; return e })
      return { path, length: offset, entries, blocks: list }
    })
    const medium = await localDirectoryMedium({ device: 'nas-1', dir: device })
    let copying = 0
    let most = 0
    let syncs = 0
    // A fault-injecting wrapper around the real folder: the third sync fails.
    const faulty: ArchiveMedium = {
      ...medium,
      copyFile: async (...a) => {
        most = Math.max(most, ++copying)
        try { await medium.copyFile!(...a) } finally { copying-- }
      },
      sync: async (names, o) => {
        if (++syncs === 3) throw new Error('the disk went away')
        await medium.sync!(names, o)
      }
    }
    // Two segments a batch: three batches, one committed while the next is copied.
    const store = await openPackBlockStore(faulty, { commitBytes: 80_000 })
    const told = (await Promise.allSettled(segments.map(async s => { await store.putSegment(s) })))
      .flatMap(r => r.status === 'rejected' ? [(r.reason as Error).message] : [])
    await store.flush().catch((err: Error) => { told.push(err.message) })
    // Told to the calls waiting on that commit (both copies' calls, or the flush), never lost.
    assert.ok(told.length > 0 && told.every(m => m === 'the disk went away'), told.join('; '))
    assert.equal(most, 2, 'two copies at once')
    // Whatever a catalogue names is there and whole.
    const after = await open(device)
    assert.equal((await verifyBlocks(after)).bad.length, 0)
    // A rerun puts what is missing; then every block is there.
    const all = segments.flatMap(s => s.blocks)
    for (const s of segments) {
      if (!(await after.hasMany(s.blocks.map(b => b.cid))).every(Boolean)) await after.putSegment(s)
    }
    await after.flush()
    const last = await open(device)
    assert.ok((await last.hasMany(all.map(b => b.cid))).every(Boolean))
    const v = await verifyBlocks(last)
    assert.equal(v.bad.length, 0)
    assert.equal(v.blocks, all.length)
  } finally {
    removeDir(dir)
  }
})

test('whole segments: a segment holding blocks the run does not want goes block by block, and no unwanted block is catalogued', async () => {
  const dir = tempDir('cairn-archive-segments-')
  try {
    const src = join(dir, 'src'); mkdirSync(src)
    writeRandom(join(src, 'a.bin'), 600_000)
    const repo = await createStore(join(dir, 'store'))
    await repo.backup({ paths: [src] })
    writeRandom(join(src, 'b.bin'), 600_000)
    await repo.backup({ paths: [src] })
    const [first, second] = await repo.snapshots()
    // The second snapshot's selection: every data block (a.bin's and b.bin's), not the first snapshot's record and tree.
    const only = await snapshotSelection(repo, [second])
    assert.ok(only !== undefined)
    const device = join(dir, 'archive'); mkdirSync(device)
    const r = await copyBlocks(repo.blocks, await open(device, 1 << 20), { only })
    assert.equal(r.blocksWritten, only.blocks.length)
    const packs = readdirSync(join(device, 'packs')).filter(n => n.endsWith('.pack')).map(n => readFileSync(join(device, 'packs', n)))
    const kinds = packs.map(p => p.subarray(0, 8).toString())
    assert.ok(kinds.includes('CAIRNSG1') && kinds.includes('CAIRNPK1'), `a segment copy and a pack of single blocks: ${kinds.join(', ')}`)
    const after = await open(device)
    assert.deepEqual(await after.hasMany([CID.parse(first.id)]), [false], 'the first snapshot\'s record is not catalogued')
    assert.ok((await after.hasMany(only.blocks)).every(Boolean))
    assert.equal((await verifyBlocks(after)).bad.length, 0)
    await repo.close()
  } finally {
    removeDir(dir)
  }
})
