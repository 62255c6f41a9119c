// A damaged store loses nothing that can be saved (issue 12): the real `cairn` binary against
// stores damaged on purpose — an index deleted or flipped, a segment record flipped with its
// committed length gone, a snapshot record or a data block corrupt. Every read-only command
// (snapshots, ls, check, restore) must leave every byte of the store as it was: the store
// folder is hashed before and after each.
// test-suite: processes
import test, { after, before } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { CID } from 'multiformats/cid'
import { initRepository, LocalBlockStore } from './index.ts'
import { cairn, dirBytes, FAST_KDF, PASSPHRASE, removeDir, tempDir, treePrint, writeRandom } from './testing/index.ts'
import type { CliResult } from './testing/index.ts'
import { ValueLog } from './value-log.ts'

const work = tempDir('cairn-damage-')
after(() => removeDir(work))

let template = ''
let src = ''
let snapshotId = ''

before(async () => {
  src = join(work, 'src')
  mkdirSync(join(src, 'd'), { recursive: true })
  // Files of one chunk (inline), of several chunks, and small ones: every record kind.
  for (let i = 0; i < 40; i++) writeRandom(join(src, i % 2 === 0 ? 'd' : '', `f${i}`), 2000 + i * 997)
  writeRandom(join(src, 'big'), 5 << 20)
  template = join(work, 'template')
  await initRepository(template, { passphrase: PASSPHRASE, kdf: FAST_KDF, chunker: { kind: 'fixed', size: 128 << 10 } })
  const r = await cairn(['backup', src, '--store', template, '--json'])
  assert.equal(r.code, 0, r.stderr)
  snapshotId = JSON.parse(r.stdout).id
})

let copies = 0
function copyOf (): string {
  const dir = join(work, `store-${++copies}`)
  execFileSync('cp', ['-a', template, dir])
  return dir
}

function flip (path: string, at: number): void {
  const fd = openSync(path, 'r+')
  const b = Buffer.alloc(1)
  readSync(fd, b, 0, 1, at)
  writeSync(fd, Buffer.of(b[0] ^ 0x10), 0, 1, at)
  closeSync(fd)
}

/** Runs a command that only reads and asserts that not a byte of the store changed. */
async function readOnly (store: string, args: string[]): Promise<CliResult> {
  const before = dirBytes(store)
  const r = await cairn([...args, '--store', store])
  assert.deepEqual(dirBytes(store), before, `"cairn ${args.join(' ')}" changed the store (exit ${r.code}: ${r.stderr})`)
  return r
}

async function restoresWhole (store: string): Promise<void> {
  const out = join(work, `out-${++copies}`)
  const r = await readOnly(store, ['restore', 'latest', '--target', out])
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.deepEqual(treePrint(join(out, src)), treePrint(src))
}

test('D1: a missing index is refused by every command, naming "cairn repair index", and the rebuild brings every snapshot back', async () => {
  for (const damage of ['CURRENT', 'index']) {
    const store = copyOf()
    rmSync(join(store, 'index', ...(damage === 'CURRENT' ? ['CURRENT'] : [])), { recursive: true })
    const readers = damage === 'CURRENT' ? [['snapshots'], ['check'], ['restore', 'latest', '--target', join(work, 'nowhere')]] : [['snapshots']]
    for (const args of readers) {
      const r = await readOnly(store, args)
      assert.equal(r.code, 1, `${args[0]}: ${r.stdout}`)
      assert.match(r.stderr, /^cairn: The store's index .* "cairn repair index --store .*\n$/)
    }
    const segments = dirBytes(join(store, 'segments'))
    for (const args of damage === 'CURRENT' ? [['prune'], ['backup', src]] : []) {
      const r = await cairn([...args, '--store', store])
      assert.equal(r.code, 1, `${args[0]} must refuse: ${r.stdout}`)
      assert.match(r.stderr, /cairn repair index/)
    }
    assert.deepEqual(dirBytes(join(store, 'segments')), segments, 'nothing was deleted from the segments')
    const repair = await cairn(['repair', 'index', '--store', store])
    assert.equal(repair.code, 0, repair.stdout + repair.stderr)
    assert.match(repair.stdout, /, 1 snapshot$/m)
    if (damage === 'index') continue
    const snaps = await readOnly(store, ['snapshots', '--json'])
    assert.deepEqual(JSON.parse(snaps.stdout).map((s: { id: string }) => s.id), [snapshotId])
    await restoresWhole(store)
  }
})

test('D2: with no committed length, a flipped bit in one record of a segment costs that record only; nothing read-only cuts anything', async () => {
  const store = copyOf()
  const log = new ValueLog(join(store, 'segments'), undefined, { readOnly: true })
  const seg = log.segments().map(n => ({ n, records: log.scan(n, 0).records })).sort((a, b) => b.records.length - a.records.length)[0]
  log.close()
  assert.ok(seg.records.length >= 8, `segment ${seg.n} holds ${seg.records.length} records`)
  const victim = seg.records[Math.floor(seg.records.length / 4)]
  flip(join(store, 'segments', `${String(seg.n).padStart(8, '0')}.seg`), victim.location.offset + 10)
  // The index forgets what it knew of the segment (as a lost or rebuilt index would).
  const db = new ClassicLevel<Buffer, Buffer>(join(store, 'index'), { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  await db.open()
  const g = Buffer.alloc(5); g[0] = 0x67; g.writeUInt32BE(seg.n, 1)
  await db.del(g)
  await db.close()
  const size = statSync(join(store, 'segments', `${String(seg.n).padStart(8, '0')}.seg`)).size

  // A private index copy left by a killed read-only command (its process is gone) is removed by the next one.
  const stale = join(tmpdir(), 'cairn-index-view-4194303-stale')
  mkdirSync(stale, { recursive: true })
  const listed = await readOnly(store, ['snapshots'])
  assert.equal(listed.code, 0, listed.stderr)
  assert.equal(existsSync(stale), false, 'the stale copy is gone')
  // A command that writes re-indexes the segment: every record after the bad one is kept.
  const blocks = await LocalBlockStore.open(join(store, 'index'), join(store, 'segments'))
  try {
    assert.equal(statSync(join(store, 'segments', `${String(seg.n).padStart(8, '0')}.seg`)).size, size, 'the segment was not cut')
    const after = seg.records.slice(seg.records.indexOf(victim) + 1)
    for (const r of after) assert.ok(await blocks.has(CID.decode(r.cid)), 'an intact record after the bad one is indexed')
    assert.ok(blocks.damage.some(d => d.includes(`segment ${seg.n}`)), blocks.damage.join('; '))
  } finally {
    await blocks.close()
  }
})

test('D3: one corrupt snapshot record is reported for itself; the others list, restore and check, and it can be forgotten', async () => {
  const store = copyOf()
  writeRandom(join(src, 'later'), 3000)
  const second = await cairn(['backup', src, '--store', store, '--json'])
  rmSync(join(src, 'later'))
  assert.equal(second.code, 0, second.stderr)
  const blocks = await LocalBlockStore.open(join(store, 'index'), join(store, 'segments'), { readOnly: true })
  const loc = await blocks.location(CID.parse(snapshotId))
  await blocks.close()
  assert.ok(loc !== undefined)
  flip(join(store, 'segments', `${String(loc.segment).padStart(8, '0')}.seg`), loc.offset + 40)

  const listed = await readOnly(store, ['snapshots', '--json'])
  assert.equal(listed.code, 3, listed.stderr)
  assert.deepEqual(JSON.parse(listed.stdout).map((s: { id: string }) => s.id), [JSON.parse(second.stdout).id])
  assert.match(listed.stderr, new RegExp(`snapshot ${snapshotId} is damaged.*cairn forget`))
  const check = await readOnly(store, ['check', '--read-data'])
  assert.equal(check.code, 1)
  assert.match(check.stdout, new RegExp(`snapshot ${snapshotId}: its record block no longer matches its id`))
  const ls = await readOnly(store, ['ls', snapshotId.slice(0, 20)])
  assert.equal(ls.code, 1)
  assert.match(ls.stderr, /cannot be read.*The other snapshots are unaffected/)
  const forget = await cairn(['forget', snapshotId.slice(0, 20), '--store', store])
  assert.equal(forget.code, 0, forget.stderr)
  assert.equal((await readOnly(store, ['snapshots'])).code, 0)
})

test('D4: a flipped bit in an index table is found by check, named, and "repair index" rebuilds from the segments', async () => {
  const store = copyOf()
  // Compact the log into a table first (a writing open does), so the entries live in an .ldb.
  await (await LocalBlockStore.open(join(store, 'index'), join(store, 'segments'))).close()
  const table = readdirSync(join(store, 'index')).filter(n => n.endsWith('.ldb')).map(n => join(store, 'index', n)).sort((a, b) => statSync(b).size - statSync(a).size)[0]
  flip(table, Math.floor(statSync(table).size / 3))
  const check = await readOnly(store, ['check'])
  assert.equal(check.code, 1, check.stdout)
  assert.match(check.stderr, /^cairn: The store's index .* is damaged \(\d+\.ldb: data block at offset \d+ fails its checksum.*"cairn repair index/)
  const restore = await readOnly(store, ['restore', 'latest', '--target', join(work, 'd4')])
  assert.equal(restore.code, 1, 'restore reads no damaged index')
  assert.match(restore.stderr, /^cairn: The store's index .* is damaged \(\d+\.ldb: .*"cairn repair index/)
  const repair = await cairn(['repair', 'index', '--store', store])
  assert.equal(repair.code, 0, repair.stdout + repair.stderr)
  assert.equal((await readOnly(store, ['check', '--read-data'])).code, 0)
  await restoresWhole(store)
})

test('D6, D7: a corrupt block costs one file: named with its block, never left half-written, restored by a rerun once repaired', async () => {
  const store = copyOf()
  const blocks = await LocalBlockStore.open(join(store, 'index'), join(store, 'segments'), { readOnly: true })
  let biggest = { cid: new Uint8Array(), segment: 0, offset: 0, length: 0 }
  for await (const e of blocks.entries()) if (e.loc.length > biggest.length) biggest = { cid: Uint8Array.from(e.cid), ...e.loc }
  await blocks.close()
  const seg = join(store, 'segments', `${String(biggest.segment).padStart(8, '0')}.seg`)
  flip(seg, biggest.offset + 100)
  const out = join(work, 'd7')
  const r = await readOnly(store, ['restore', 'latest', '--target', out])
  assert.equal(r.code, 3, r.stdout + r.stderr)
  assert.match(r.stderr, new RegExp(`^cairn: not restored: ${join(out, src, 'big')}: Block ${CID.decode(biggest.cid).toString()} is corrupt`, 'm'))
  assert.equal(existsSync(join(out, src, 'big')), false, 'no partial file under the name')
  const leftovers: string[] = []
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n)
      if (lstatSync(p).isDirectory()) walk(p); else if (lstatSync(p).size === 0 || n.startsWith('.cairn-partial')) leftovers.push(p)
    }
  }
  walk(out)
  assert.deepEqual(leftovers, [], 'no placeholders or temporary files')
  const expected = treePrint(src)
  const got = treePrint(join(out, src))
  delete expected.big
  assert.deepEqual(got, expected, 'everything else was restored')
  flip(seg, biggest.offset + 100) // a good copy is back (as a repair from a peer would put it)
  const rerun = await readOnly(store, ['restore', 'latest', '--target', out, '--conflict', 'skip'])
  assert.equal(rerun.code, 0, rerun.stdout + rerun.stderr)
  assert.deepEqual(treePrint(join(out, src)), treePrint(src))
})

test('repair snapshots: a snapshot with a damaged block gets a stand-in without that file; a full backup then heals them all', async () => {
  const store = copyOf()
  const blocks = await LocalBlockStore.open(join(store, 'index'), join(store, 'segments'), { readOnly: true })
  let biggest = { segment: 0, offset: 0, length: 0 }
  for await (const e of blocks.entries()) if (e.loc.length > biggest.length) biggest = { ...e.loc }
  await blocks.close()
  flip(join(store, 'segments', `${String(biggest.segment).padStart(8, '0')}.seg`), biggest.offset + 100)
  const r = await cairn(['repair', 'snapshots', '--store', store, '--json'])
  assert.equal(r.code, 0, r.stderr)
  const [repair] = JSON.parse(r.stdout).snapshots
  assert.equal(repair.from, snapshotId)
  assert.deepEqual(repair.lost, [`${src}/big`])
  const snaps = JSON.parse((await readOnly(store, ['snapshots', '--json'])).stdout)
  assert.deepEqual(snaps.map((s: { id: string }) => s.id), [snapshotId, repair.id], 'the original is kept; the stand-in is the latest')
  assert.deepEqual(snaps[1].repaired, { from: snapshotId, lost: [`${src}/big`] })
  const out = join(work, 'repaired-out')
  assert.equal((await readOnly(store, ['restore', 'latest', '--target', out])).code, 0)
  const expected = treePrint(src)
  delete expected.big
  assert.deepEqual(treePrint(join(out, src)), expected)
  const full = await cairn(['backup', '--level', 'full', src, '--store', store])
  assert.equal(full.code, 0, full.stderr)
  assert.equal((await readOnly(store, ['check', '--read-data'])).code, 0, 'the damaged block was stored again, for every snapshot')
})

test('D8: restored mtimes are exact to the nanosecond', async () => {
  const store = copyOf()
  const dir = join(work, 'times')
  mkdirSync(dir)
  const want = new Map<string, bigint>()
  for (let i = 0; i < 60; i++) {
    const p = join(dir, `t${i}`)
    writeRandom(p, 10)
    const ns = 1_700_000_000_000_000_000n + BigInt(i) * 7_777_777_777n + BigInt((i * 7919) % 1000)
    execFileSync('touch', ['-m', '-d', `@${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`, p])
    want.set(`t${i}`, lstatSync(p, { bigint: true }).mtimeNs)
  }
  const b = await cairn(['backup', dir, '--store', store])
  assert.equal(b.code, 0, b.stderr)
  const out = join(work, 'times-out')
  assert.equal((await readOnly(store, ['restore', 'latest', '--target', out])).code, 0)
  const wrong: string[] = []
  for (const [name, ns] of want) {
    const got = lstatSync(join(out, dir, name), { bigint: true }).mtimeNs
    if (got !== ns) wrong.push(`${name}: ${got} instead of ${ns}`)
  }
  assert.deepEqual(wrong, [])
})

test('D5: a full disk is named as such, in one line; the store stays readable, and once space is freed the backup finishes', async () => {
  // A small tmpfs (root only: the tests run as root here and in CI) holds the store.
  const mnt = join(work, 'small-disk')
  mkdirSync(mnt)
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=12m', 'tmpfs', mnt])
  try {
    const store = join(mnt, 'store')
    await initRepository(store, { passphrase: PASSPHRASE, kdf: FAST_KDF })
    const data = join(work, 'too-big')
    mkdirSync(data)
    for (let i = 0; i < 4; i++) writeRandom(join(data, `f${i}`), 4 << 20)
    const full = await cairn(['backup', data, '--store', store])
    assert.equal(full.code, 1, full.stdout)
    assert.match(full.stderr, new RegExp(`^cairn: The disk holding ${store} is full \\(no space left on the device\\)\\. Free some space[^\\n]*\\n$`))
    const listed = await readOnly(store, ['snapshots'])
    assert.equal(listed.code, 0, `still readable while the disk is full: ${listed.stderr}`)
    execFileSync('mount', ['-o', 'remount,size=64m', mnt])
    const again = await cairn(['backup', data, '--store', store])
    assert.equal(again.code, 0, again.stderr)
    assert.equal((await readOnly(store, ['check', '--read-data'])).code, 0)
  } finally {
    execFileSync('umount', ['-l', mnt])
  }
})
