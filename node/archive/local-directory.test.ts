// The local-directory archive device: the BlockStore conformance suite on a real folder, its
// faults (a missing folder, a cut-off pack, a crash between a pack and its catalogue), and the
// DR case at the library level: back up, archive, lose the store, restore from the archive
// with only the escrowed config.json and keys.json, compare byte for byte.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { cidOf, LocalBlockStore, openRepository, BlockNotFoundError, type BlockStore } from '../../chunkstore/index.ts'
import { blockStoreSuite, createStore, PASSPHRASE, removeDir, tempDir, treePrint, writeRandom } from '../../chunkstore/testing/index.ts'
import { ArchiveDamagedError, ArchiveDeviceUnavailableError, copyBlocks, encodePack, localDirectoryMedium, openPackBlockStore, scanPack, verifyBlocks } from './index.ts'

const open = async (dir: string, packSize = 64 << 10): Promise<BlockStore> => await openPackBlockStore(await localDirectoryMedium({ device: 'nas-1', dir }), { packSize })

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
