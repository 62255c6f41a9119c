// Restore from an archive whose packs are whole store segments (issue 16): the rebuilt store
// takes each as a segment of its own, as its bytes lie and in the order they were archived, checking every
// block against its CID; a damaged block in such a pack is refused and fails the rebuild naming
// it; a rebuild cut off mid-copy leaves a store that a rerun completes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { LocalBlockStore, openRepository, SEGMENT_MAGIC } from '../../chunkstore/index.ts'
import { createStore, PASSPHRASE, removeDir, tempDir, treePrint, writeRandom } from '../../chunkstore/testing/index.ts'
import { copyBlocks, localDirectoryMedium, openPackBlockStore, scanPack, type PackBlockStore } from './index.ts'

const open = async (dir: string): Promise<PackBlockStore> => await openPackBlockStore(await localDirectoryMedium({ device: 'nas-1', dir }), { packSize: 1 << 20 })
const segmentFiles = (store: string): string[] => readdirSync(join(store, 'segments')).filter(n => n.endsWith('.seg')).sort()
/** The device's segment pack holding the most blocks (at least two), and its blocks. */
function largestSegmentPack (device: string): { path: string, bytes: Buffer, entries: ReturnType<typeof scanPack> } {
  const packs = readdirSync(join(device, 'packs')).filter(n => n.endsWith('.pack')).map(n => ({ path: join(device, 'packs', n), bytes: readFileSync(join(device, 'packs', n)) }))
    .filter(p => p.bytes.subarray(0, 8).equals(SEGMENT_MAGIC)).map(p => ({ ...p, entries: scanPack(p.bytes) })).sort((a, b) => b.entries.length - a.entries.length)
  assert.ok(packs.length > 0 && packs[0].entries.length >= 2, 'a segment pack of several blocks')
  return packs[0]
}

/** A source folder backed up twice into a store, archived to a folder device, the store's keys in escrow. */
async function archived (dir: string): Promise<{ src: string, store: string, device: string, escrow: string, blocks: number }> {
  const src = join(dir, 'src'); mkdirSync(join(src, 'sub'), { recursive: true })
  writeRandom(join(src, 'big.bin'), 3 << 20)
  writeRandom(join(src, 'sub', 'small.txt'), 3000)
  const store = join(dir, 'store')
  const repo = await createStore(store)
  await repo.backup({ paths: [src] })
  writeRandom(join(src, 'sub', 'later.bin'), 200_000)
  await repo.backup({ paths: [src] })
  const device = join(dir, 'archive'); mkdirSync(device)
  const r = await copyBlocks(repo.blocks, await open(device))
  await repo.close()
  const escrow = join(dir, 'escrow'); mkdirSync(escrow)
  for (const f of ['config.json', 'keys.json']) copyFileSync(join(store, f), join(escrow, f))
  return { src, store, device, escrow, blocks: r.blocksWritten }
}

/** Rebuilds a store at `fresh` from `device` (what `cairn archive restore` does), then restores its latest snapshot and compares it with `src`. */
async function rebuildAndRestore (fresh: string, device: string, escrow: string, src: string): Promise<number> {
  const blocks = await LocalBlockStore.open(join(fresh, 'index'), join(fresh, 'segments'))
  let written
  try { written = (await copyBlocks(await open(device), blocks)).blocksWritten } finally { await blocks.close() }
  for (const f of ['config.json', 'keys.json']) copyFileSync(join(escrow, f), join(fresh, f))
  const repo = await openRepository(fresh, { passphrase: PASSPHRASE })
  try {
    const target = join(fresh, '..', `${fresh.split('/').at(-1)!}-target`)
    const snap = (await repo.snapshots()).at(-1)!
    const r = await repo.restore({ snapshot: snap.id, target, conflict: 'overwrite' })
    assert.deepEqual(r.failed, [])
    assert.deepEqual(treePrint(join(target, src), { contents: true }), treePrint(src, { contents: true }))
  } finally {
    await repo.close()
  }
  return written
}

test('restore from whole-segment packs: the rebuilt store\'s segments are the original\'s bytes in the original order, and it restores byte for byte', async () => {
  const dir = tempDir('cairn-segment-restore-')
  try {
    const { src, store, device, escrow, blocks } = await archived(dir)
    const fresh = join(dir, 'rebuilt')
    assert.equal(await rebuildAndRestore(fresh, device, escrow, src), blocks)
    const original = segmentFiles(store)
    const rebuilt = segmentFiles(fresh)
    assert.ok(original.length >= 2, `several segments (${original.length})`)
    assert.equal(rebuilt.length, original.length, 'one segment of the rebuilt store per segment pack, and nothing written block by block')
    // Each rebuilt segment is one original segment's bytes (up to its committed length), each
    // original taken once. The order is the one the archive's copies finished in: mostly the
    // store's, but the archive copies two segments at once, so neighbours may swap.
    const left = original.map(name => readFileSync(join(store, 'segments', name)))
    for (const name of rebuilt) {
      const bytes = readFileSync(join(fresh, 'segments', name))
      const i = left.findIndex(from => bytes.length > SEGMENT_MAGIC.length && from.length >= bytes.length && from.subarray(0, bytes.length).equals(bytes))
      assert.ok(i >= 0, `rebuilt ${name} (${bytes.length} bytes) is the start of an original segment not matched yet`)
      left.splice(i, 1)
    }
  } finally {
    removeDir(dir)
  }
})

test('restore from whole-segment packs: a damaged block in a segment pack is refused, and the rebuild fails naming it', async () => {
  const dir = tempDir('cairn-segment-restore-bad-')
  try {
    const { device } = await archived(dir)
    const { path, bytes: pack, entries } = largestSegmentPack(device)
    const victim = entries.at(-1)!
    pack[victim.offset + (victim.length >> 1)] ^= 0xff
    writeFileSync(path, pack)
    const fresh = join(dir, 'rebuilt')
    const blocks = await LocalBlockStore.open(join(fresh, 'index'), join(fresh, 'segments'))
    try {
      await assert.rejects(copyBlocks(await open(device), blocks), (err: Error) => err.name === 'CidMismatchError' && err.message.includes(CID.decode(victim.cid).toString()))
      assert.equal(await blocks.has(CID.decode(victim.cid)), false, 'the damaged block is not indexed')
      assert.equal(await blocks.has(CID.decode(entries[0].cid)), true, 'the intact blocks of its segment are')
    } finally {
      await blocks.close()
    }
  } finally {
    removeDir(dir)
  }
})

test('restore from whole-segment packs: a segment copy cut off by a crash leaves a store that a rerun completes', async () => {
  const dir = tempDir('cairn-segment-restore-crash-')
  try {
    const { src, device, escrow, blocks } = await archived(dir)
    // What a kill -9 in the middle of the kernel copy leaves: the new store's index, and the
    // first segment pack's bytes cut mid-record as its first segment, nothing of it indexed.
    const fresh = join(dir, 'rebuilt')
    await (await LocalBlockStore.open(join(fresh, 'index'), join(fresh, 'segments'))).close()
    const { path, entries } = largestSegmentPack(device)
    const cut = join(fresh, 'segments', '00000001.seg')
    copyFileSync(path, cut)
    // Its last record cut short; the ones before are whole.
    truncateSync(cut, entries.at(-1)!.offset + 1)
    const written = await rebuildAndRestore(fresh, device, escrow, src)
    assert.ok(written > 0 && written < blocks, `the rerun wrote what the cut copy lacked (${written} of ${blocks})`)
  } finally {
    removeDir(dir)
  }
})
