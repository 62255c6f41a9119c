// Manifest pages (manifest.ts; doc/design.md "Manifest page"): the format round-trips and is
// read strictly; a backup lists exactly the blocks its snapshot reaches; a forget leaves a
// release intent and prune frees the forgotten snapshot's pages while it keeps the others';
// the pages a backup makes from the blocks it noted are those a walk of its tree gives; repair
// index writes the listings and intents again as they were.
import test, { after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { appendFileSync, linkSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { decodeManifestPage, encodeManifestPages, PAGE_ENTRIES, snapshotBlocks, type ManifestEntry } from './manifest.ts'
import { rootOf } from './snapshot-records.ts'
import { cidOf } from './codec.ts'
import { StoreCorruptError } from './errors.ts'
import { createStore, PASSPHRASE, removeDir, tempDir, writeRandom } from './testing/index.ts'
import { openRepository, repairIndex } from './repository.ts'
import type { LocalBlockStore } from './local-block-store.ts'

const dirs: string[] = []
after(() => { for (const d of dirs) removeDir(d) })

const entry = (i: number): ManifestEntry => ({ cid: cidOf(createHash('sha256').update(`block ${i}`).digest()).bytes, size: 100 + i })
const hex = (c: Uint8Array): string => Buffer.from(c).toString('hex')

async function manifestOf (blocks: LocalBlockStore, root: CID): Promise<{ listed: Set<string>, pages: Set<string> }> {
  const pages = await blocks.manifestPages(root)
  assert.ok(pages !== undefined, `snapshot ${root.toString()} has manifest pages`)
  const listed = new Set<string>()
  for (const p of pages) for (const e of decodeManifestPage(await blocks.get(p))) listed.add(hex(e.cid))
  return { listed, pages: new Set(pages.map(p => hex(p.bytes))) }
}

async function allBlocks (blocks: LocalBlockStore): Promise<Set<string>> {
  const out = new Set<string>()
  for await (const c of blocks.cids()) out.add(hex(c.bytes))
  return out
}

test('manifest pages: sorted, unique, cut at content-defined points, and read strictly', () => {
  const entries = Array.from({ length: 10_000 }, (_, i) => entry(i))
  const pages = encodeManifestPages([...entries, ...entries.slice(0, 50)])
  const back = pages.flatMap(p => decodeManifestPage(p))
  assert.equal(back.length, entries.length, 'duplicates listed once')
  for (let i = 1; i < back.length; i++) assert.ok(Buffer.compare(back[i - 1].cid, back[i].cid) < 0)
  assert.deepEqual(new Set(back.map(e => `${hex(e.cid)}:${e.size}`)), new Set(entries.map(e => `${hex(e.cid)}:${e.size}`)))
  assert.ok(pages.length > 3 && pages.every(p => decodeManifestPage(p).length <= PAGE_ENTRIES))
  // One block more changes one page: the others are the same blocks, which a replica has.
  const more = encodeManifestPages([...entries, entry(10_000)])
  const before = new Set(pages.map(p => cidOf(p).toString()))
  assert.equal(more.filter(p => !before.has(cidOf(p).toString())).length, 1)

  const page = Buffer.from(pages[0])
  assert.throws(() => decodeManifestPage(page.subarray(0, page.length - 1)), StoreCorruptError)
  assert.throws(() => decodeManifestPage(Buffer.concat([Buffer.from('CMP2'), page.subarray(4)])), StoreCorruptError)
  const swapped = Buffer.from(page)
  swapped.copy(swapped, 8, 8 + 40, 8 + 80) // entry 0 := entry 1: no longer sorted and unique
  assert.throws(() => decodeManifestPage(swapped), StoreCorruptError)
  const notACid = Buffer.from(page)
  notACid[9] = 0x70 // dag-pb codec
  assert.throws(() => decodeManifestPage(notACid), StoreCorruptError)
  assert.throws(() => encodeManifestPages([{ cid: new Uint8Array(10), size: 1 }]), RangeError)
})

test('a backup lists every block its snapshot reaches; forget leaves a release intent; prune keeps only kept snapshots\' pages', async () => {
  const base = tempDir('cairn-manifest-'); dirs.push(base)
  const src = join(base, 'src')
  mkdirSync(join(src, 'a'), { recursive: true })
  writeRandom(join(src, 'a', 'big.bin'), 600_000)
  writeFileSync(join(src, 'small.txt'), 'a small file kept inline\n')
  const repo = await createStore(join(base, 'store'))
  try {
    const blocks = repo.blocks
    const s1 = await repo.backup({ paths: [src], task: 't' })
    const m1 = await manifestOf(blocks, CID.parse(s1.id))
    // The store holds this one snapshot: every block but the pages is in its manifest.
    const stored = await allBlocks(blocks)
    assert.deepEqual(m1.listed, new Set([...stored].filter(c => !m1.pages.has(c))))
    assert.ok(m1.listed.has(hex(CID.parse(s1.id).bytes)), 'the record block is listed')

    appendFileSync(join(src, 'small.txt'), randomBytes(300_000))
    const s2 = await repo.backup({ paths: [src], task: 't' })
    const m2 = await manifestOf(blocks, CID.parse(s2.id))
    const shared = [...m1.listed].filter(c => m2.listed.has(c))
    assert.ok(shared.length > 0 && shared.length < m1.listed.size, 'day 2 shares the unchanged file\'s blocks')

    await repo.forgetSnapshots([s1.id])
    assert.deepEqual((await blocks.releaseIntents()).map(r => r.root.toString()), [s1.id])
    assert.equal(await blocks.manifestPages(CID.parse(s1.id)), undefined)
    await repo.prune()
    const left = await allBlocks(blocks)
    for (const c of m2.listed) assert.ok(left.has(c), 'a kept snapshot\'s block stays')
    for (const c of m2.pages) assert.ok(left.has(c), 'a kept snapshot\'s page stays')
    const only1 = [...m1.listed, ...m1.pages].filter(c => !m2.listed.has(c) && !m2.pages.has(c))
    assert.ok(only1.length > 0)
    for (const c of only1) assert.ok(!left.has(c), 'the forgotten snapshot\'s own blocks and pages are freed')
    assert.equal((await blocks.releaseIntents()).length, 1, 'the intent outlives prune')
  } finally {
    await repo.close()
  }
})

test('a backup\'s pages, made from the blocks it noted, are exactly those a walk of its tree gives', async () => {
  const base = tempDir('cairn-manifest-noted-'); dirs.push(base)
  const src = join(base, 'src')
  mkdirSync(join(src, 'a', 'deep'), { recursive: true })
  mkdirSync(join(src, 'gone'))
  const big = writeRandom(join(src, 'a', 'big.bin'), 700_000) // several 128 KiB chunks: a file node
  writeRandom(join(src, 'a', 'deep', 'mid.bin'), 300_000)
  writeFileSync(join(src, 'a', 'copy.bin'), big) // the same chunks twice in one run
  writeFileSync(join(src, 'small.txt'), 'inline\n')
  writeFileSync(join(src, 'empty'), '')
  writeFileSync(join(src, 'gone', 'x.txt'), 'goes on day 2\n')
  linkSync(join(src, 'small.txt'), join(src, 'a', 'hard.txt'))
  symlinkSync('small.txt', join(src, 'link'))
  const repo = await createStore(join(base, 'store'), { chunker: { kind: 'fixed', size: 128 << 10 } })
  try {
    const blocks = repo.blocks
    const walked = async (id: string): Promise<string[]> => {
      const record = CID.parse(id)
      const snap = (await repo.snapshots()).find(s => s.id === id)!
      return encodeManifestPages(await snapshotBlocks(blocks, record, rootOf(snap), async ref => await repo.loadNode(ref))).map(p => cidOf(p).toString())
    }
    const same = async (id: string, what: string): Promise<void> => {
      const pages = (await blocks.manifestPages(CID.parse(id)))!.map(c => c.toString())
      assert.deepEqual(pages, await walked(id), what)
    }
    await same((await repo.backup({ paths: [src], task: 't' })).id, 'full backup')
    await same((await repo.backup({ paths: [src], task: 't' })).id, 'no-change backup')
    appendFileSync(join(src, 'a', 'big.bin'), randomBytes(200_000))
    appendFileSync(join(src, 'small.txt'), 'day 2\n')
    rmSync(join(src, 'gone'), { recursive: true })
    writeRandom(join(src, 'a', 'deep', 'new.bin'), 400_000)
    rmSync(join(src, 'link'))
    symlinkSync('empty', join(src, 'link'))
    symlinkSync('small.txt', join(src, 'a', 'link2'))
    const day2 = await repo.backup({ paths: [src], task: 't' })
    await same(day2.id, 'day-2 backup (changed, deleted, added)')
    const links = new Map<string, string | undefined>()
    for await (const e of repo.ls(day2.id, src)) if (e.type === 'symlink') links.set(e.path.slice(src.length), e.target)
    assert.deepEqual(links, new Map([['/link', 'empty'], ['/a/link2', 'small.txt']]), 'a replaced symlink is read again, not taken from the parent')
    // Another task's first backup reuses chunks stored by the first task: their sizes come from the index.
    await same((await repo.backup({ paths: [join(src, 'a')], task: 'u' })).id, 'a first backup deduplicated against another snapshot')
    await same((await repo.backup({ paths: [src], task: 't', level: 'full' })).id, 'a full backup over a parent')
  } finally {
    await repo.close()
  }
})

test('repair index writes every snapshot\'s manifest listing and the release intents of forgotten ones again, identical; a snapshot without a manifest gets one, marked late', async () => {
  const base = tempDir('cairn-manifest-repair-'); dirs.push(base)
  const src = join(base, 'src')
  mkdirSync(src)
  const dir = join(base, 'store')
  let repo = await createStore(dir)
  const ids: string[] = []
  for (let day = 1; day <= 3; day++) {
    writeRandom(join(src, 'daily.bin'), 150_000)
    ids.push((await repo.backup({ paths: [src], task: 't' })).id)
  }
  await repo.forgetSnapshots([ids[0]])
  /** The index's manifest listings, release intents and late marks ('p', 'r', 'm'), as hex key → hex value. */
  const retentionEntries = async (blocks: LocalBlockStore): Promise<Record<string, string>> => {
    const out: Record<string, string> = {}
    for (const p of ['p', 'r', 'm']) {
      const lo = Buffer.from(p)
      for await (const [k, v] of blocks.db.iterator({ gt: lo, lt: Buffer.of(lo[0] + 1) })) out[hex(k)] = hex(v)
    }
    return out
  }
  const before = await retentionEntries(repo.blocks)
  assert.equal(Object.keys(before).filter(k => k.startsWith('72')).length, 1, 'one release intent')
  assert.equal(Object.keys(before).filter(k => k.startsWith('70')).length, 2, 'two listed manifests')
  await repo.close()

  rmSync(join(dir, 'index'), { recursive: true, force: true })
  const rebuilt = await repairIndex(dir, { passphrase: PASSPHRASE })
  assert.deepEqual(rebuilt.manifests, { written: ids.slice(1), failed: [] })
  repo = await openRepository(dir, { passphrase: PASSPHRASE })
  try {
    assert.deepEqual(await retentionEntries(repo.blocks), before, 'the same listings (same page CIDs), the same intents, nothing marked late')
    // A snapshot listed without a manifest (made before manifests existed) gets one from a walk of its tree.
    const pages = (await repo.blocks.manifestPages(CID.parse(ids[2])))!
    await repo.blocks.db.del(Buffer.concat([Buffer.from('p'), CID.parse(ids[2]).bytes]))
    assert.deepEqual(await repo.writeMissingManifests(), { written: [ids[2]], failed: [] })
    assert.deepEqual((await repo.blocks.manifestPages(CID.parse(ids[2])))!.map(String), pages.map(String))
    assert.deepEqual((await repo.blocks.lateManifests()).map(String), [ids[2]], 'marked late: replicas may list it without one')
    assert.deepEqual(await repo.writeMissingManifests(), { written: [], failed: [] }, 'once')
  } finally {
    await repo.close()
  }
})

test('stored bytes of a set of snapshots: every block they reach and their pages, each once; a snapshot without a manifest is walked', async () => {
  const base = tempDir('cairn-manifest-stored-'); dirs.push(base)
  const src = join(base, 'src')
  mkdirSync(src)
  const repo = await createStore(join(base, 'store'))
  try {
    writeRandom(join(src, 'shared.bin'), 200_000)
    writeRandom(join(src, 'daily.bin'), 100_000)
    const s1 = (await repo.backup({ paths: [src], task: 't' })).id
    writeRandom(join(src, 'daily.bin'), 100_000)
    const s2 = (await repo.backup({ paths: [src], task: 't' })).id
    // Nothing was forgotten: every block in the store is one of the two snapshots' or their pages.
    let total = 0
    let count = 0
    for await (const { loc } of repo.blocks.entries()) { total += loc.length; count++ }
    assert.deepEqual(await repo.storedBytes([s1, s2]), { bytes: total, blocks: count })
    const second = await repo.storedBytes([s2])
    assert.ok(second.bytes >= 300_000, `the second copy holds shared.bin and its daily.bin: ${second.bytes}`)
    assert.ok(total - second.bytes >= 100_000, 'the first copy\'s own daily.bin is not the second\'s')
    // Without its manifest (a snapshot from before manifests): the same blocks by a walk of its tree, its pages aside.
    const pages = (await repo.blocks.manifestPages(CID.parse(s2)))!
    const pageBytes = (await repo.blocks.sizes(pages)).reduce((n: number, s) => n + s!, 0)
    await repo.blocks.db.del(Buffer.concat([Buffer.from('p'), CID.parse(s2).bytes]))
    assert.deepEqual(await repo.storedBytes([s2]), { bytes: second.bytes - pageBytes, blocks: second.blocks - pages.length })
    await assert.rejects(repo.storedBytes(['bafkreiaaaa']), { name: 'SnapshotNotFoundError' })
  } finally {
    await repo.close()
  }
})
