// A mesh replica holds several sites' blocks (F13): opened with one site's keys it lists that
// site's snapshots and restores them; a damaged record is still an error; prune refuses, since
// marking with one key would sweep the other sites' data. A repository opened over a replica
// the process already holds (the node daemon's mesh replica) reads, and changes nothing there.
import test, { after } from 'node:test'
import assert from 'node:assert/strict'
import { closeSync, copyFileSync, mkdirSync, openSync, readSync, writeSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { createStore, fileHash, PASSPHRASE, removeDir, restoredPath, tempDir, writeRandom } from './testing/index.ts'
import { LocalBlockStore, openRepository, openRepositoryOver, type LocalRepository } from './index.ts'

process.env.CAIRN_WORKERS ??= '1'
const dirs: string[] = []
after(() => { for (const d of dirs) removeDir(d) })
function work (): string { const d = tempDir(); dirs.push(d); return d }

/** Copies every block and snapshot root of `from` into `to`, as replication does. */
async function replicate (from: LocalRepository, to: Pick<LocalRepository, 'blocks'>): Promise<void> {
  for await (const cid of from.blocks.cids()) await to.blocks.put(cid, await from.blocks.get(cid))
  for (const r of await from.blocks.snapshotRoots()) await to.blocks.addSnapshotRoot(r)
  await to.blocks.flush()
}

/** Two stores, `mine` and `theirs`, and a source folder of one file for each. */
async function twoSites (w: string): Promise<{ src: string, other: string, mine: LocalRepository, theirs: LocalRepository }> {
  const src = join(w, 'src'); mkdirSync(src)
  writeRandom(join(src, 'mine.bin'), 300_000)
  const other = join(w, 'other-src'); mkdirSync(other)
  writeRandom(join(other, 'theirs.bin'), 200_000)
  return { src, other, mine: await createStore(join(w, 'mine')), theirs: await createStore(join(w, 'theirs')) }
}

test('a store holding another store\'s snapshots lists and restores its own; prune refuses', async () => {
  const w = work()
  const { src, other, mine, theirs } = await twoSites(w)
  try {
    const own = await mine.backup({ paths: [src] })
    await theirs.backup({ paths: [other] })
    await replicate(theirs, mine)
    assert.equal((await mine.blocks.snapshotRoots()).length, 2)

    const listed = await mine.snapshots()
    assert.deepEqual(listed.map(s => s.id), [own.id])
    const target = join(w, 'restored')
    await mine.restore({ snapshot: 'latest', target })
    assert.equal(fileHash(join(restoredPath(target, src), 'mine.bin')), fileHash(join(src, 'mine.bin')))
    assert.equal((await mine.check({ readData: true })).errors.length, 0)

    const segments = readdirSync(join(w, 'mine', 'segments')).length
    await assert.rejects(mine.prune(), { name: 'SharedReplicaError', message: /holds 1 snapshot of other stores/ })
    assert.equal(readdirSync(join(w, 'mine', 'segments')).length, segments, 'prune removed nothing')
    assert.equal((await theirs.snapshots()).length, 1)
  } finally { await mine.close(); await theirs.close() }
})

test('a damaged snapshot record is reported for itself, not taken for another store\'s; the others keep working (D3)', async () => {
  const w = work()
  const src = join(w, 'src'); mkdirSync(src)
  writeRandom(join(src, 'a.bin'), 50_000)
  const repo = await createStore(join(w, 'store'))
  const damaged = await repo.backup({ paths: [src] })
  writeRandom(join(src, 'b.bin'), 50_000)
  const intact = await repo.backup({ paths: [src] })
  const loc = await repo.blocks.location(CID.parse(damaged.id))
  await repo.close()
  assert.ok(loc !== undefined)
  // Flip a byte inside the record's sealed bytes.
  const seg = join(w, 'store', 'segments', `${String(loc.segment).padStart(8, '0')}.seg`)
  const fd = openSync(seg, 'r+')
  const at = loc.offset + loc.length - 5
  const b = Buffer.alloc(1); readSync(fd, b, 0, 1, at); b[0] ^= 0xff; writeSync(fd, b, 0, 1, at); closeSync(fd)
  const again = await openRepository(join(w, 'store'), { passphrase: PASSPHRASE })
  try {
    assert.deepEqual((await again.snapshots()).map(s => s.id), [intact.id])
    assert.deepEqual((await again.damagedSnapshots()).map(d => d.id), [damaged.id])
    await assert.rejects(again.resolveSnapshot(damaged.id.slice(0, 20)), { name: 'SnapshotDamagedError' })
    const check = await again.check()
    assert.ok(check.errors.some(e => e.includes(damaged.id)), check.errors.join('\n'))
    await assert.rejects(again.prune(), { name: 'SnapshotDamagedError' }, 'prune cannot tell what the damaged one needs')
    assert.deepEqual((await again.forgetSnapshots([damaged.id.slice(0, 20)])).map(s => s.id), [damaged.id])
    assert.deepEqual(await again.damagedSnapshots(), [])
    const target = join(w, 'out')
    await again.restore({ snapshot: 'latest', target })
    assert.equal(fileHash(join(restoredPath(target, src), 'b.bin')), fileHash(join(src, 'b.bin')))
  } finally { await again.close() }
})

test('a repository over a replica the process holds open reads one site\'s snapshots, changes nothing, and leaves the replica open', async () => {
  const w = work()
  const { src, other, mine: lost, theirs } = await twoSites(w)
  const blocks = await LocalBlockStore.open(join(w, 'replica', 'index'), join(w, 'replica', 'segments'))
  const escrow = join(w, 'escrow'); mkdirSync(escrow)
  try {
    const snap = await lost.backup({ paths: [src], task: 't1' })
    await theirs.backup({ paths: [other] })
    await replicate(lost, { blocks })
    await replicate(theirs, { blocks })
    for (const f of ['config.json', 'keys.json']) copyFileSync(join(w, 'mine', f), join(escrow, f))

    const dr = await openRepositoryOver(escrow, blocks, { passphrase: PASSPHRASE })
    assert.equal(dr.shared, true)
    assert.deepEqual((await dr.snapshots()).map(s => [s.id, s.task]), [[snap.id, 't1']])
    const target = join(w, 'restored')
    await dr.restore({ snapshot: snap.id, target })
    assert.equal(fileHash(join(restoredPath(target, src), 'mine.bin')), fileHash(join(src, 'mine.bin')))
    assert.equal((await dr.check({ readData: true })).errors.length, 0)

    const roots = (await blocks.snapshotRoots()).map(String).sort()
    const segments = readdirSync(join(w, 'replica', 'segments')).length
    for (const change of [async () => await dr.prune(), async () => await dr.forget({ keepLast: 1 }), async () => await dr.removeSnapshot(snap.id, { force: true }), async () => await dr.backup({ paths: [src] })]) {
      await assert.rejects(change(), { name: 'SharedReplicaError', message: /DR copy.*nothing was changed/ })
    }
    assert.deepEqual((await blocks.snapshotRoots()).map(String).sort(), roots, 'no snapshot root was removed')
    assert.equal(readdirSync(join(w, 'replica', 'segments')).length, segments, 'no segment was written or dropped')

    await dr.close()
    assert.equal((await blocks.snapshotRoots()).length, 2, 'closing the repository left the replica open')
    await assert.rejects(openRepositoryOver(join(w, 'theirs'), blocks, { passphrase: 'not the passphrase' }), { name: 'WrongPassphraseError' })
  } finally { await lost.close(); await theirs.close(); await blocks.close() }
})
