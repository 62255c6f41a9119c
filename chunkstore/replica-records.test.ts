// A mesh replica holds several sites' blocks (F13): opened with one site's keys it lists that
// site's snapshots and restores them; a damaged record is still an error; prune refuses, since
// marking with one key would sweep the other sites' data.
import test, { after } from 'node:test'
import assert from 'node:assert/strict'
import { closeSync, mkdirSync, openSync, readSync, writeSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { createStore, fileHash, PASSPHRASE, removeDir, restoredPath, tempDir, writeRandom } from './testing/fixtures.ts'
import { openRepository, type LocalRepository } from './index.ts'

process.env.CAIRN_WORKERS ??= '1'
const dirs: string[] = []
after(() => { for (const d of dirs) removeDir(d) })
function work (): string { const d = tempDir(); dirs.push(d); return d }

/** Copies every block and snapshot root of `from` into `to`, as replication does. */
async function replicate (from: LocalRepository, to: LocalRepository): Promise<void> {
  for await (const cid of from.blocks.cids()) await to.blocks.put(cid, await from.blocks.get(cid))
  for (const r of await from.blocks.snapshotRoots()) await to.blocks.addSnapshotRoot(r)
  await to.blocks.flush()
}

test('a store holding another store\'s snapshots lists and restores its own; prune refuses', async () => {
  const w = work()
  const src = join(w, 'src'); mkdirSync(src)
  writeRandom(join(src, 'mine.bin'), 300_000)
  const other = join(w, 'other-src'); mkdirSync(other)
  writeRandom(join(other, 'theirs.bin'), 200_000)
  const mine = await createStore(join(w, 'mine'))
  const theirs = await createStore(join(w, 'theirs'))
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

test('a damaged snapshot record is reported, not taken for another store\'s', async () => {
  const w = work()
  const src = join(w, 'src'); mkdirSync(src)
  writeRandom(join(src, 'a.bin'), 50_000)
  const repo = await createStore(join(w, 'store'))
  await repo.backup({ paths: [src] })
  const loc = await repo.blocks.location((await repo.blocks.snapshotRoots())[0])
  await repo.close()
  assert.ok(loc !== undefined)
  // Flip a byte inside the record's sealed bytes.
  const seg = join(w, 'store', 'segments', `${String(loc.segment).padStart(8, '0')}.seg`)
  const fd = openSync(seg, 'r+')
  const at = loc.offset + loc.length - 5
  const b = Buffer.alloc(1); readSync(fd, b, 0, 1, at); b[0] ^= 0xff; writeSync(fd, b, 0, 1, at); closeSync(fd)
  const again = await openRepository(join(w, 'store'), { passphrase: PASSPHRASE })
  try {
    await assert.rejects(again.snapshots(), { name: 'CorruptBlockError' })
  } finally { await again.close() }
})
