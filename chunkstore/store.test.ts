// The store itself: dedup, compression, chunkers, check, bad keys and configs, forget and
// prune, and the checked-in golden sample that guards the on-disk formats (issue 2).
import test, { after, describe } from 'node:test'
import assert from 'node:assert/strict'
import { appendFileSync, closeSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  FIXED_SIZES, InvalidOptionError, LastSnapshotError, openRepository, readKeyFile, StoreCorruptError, StoreNotFoundError, unlockKeys
} from './index.ts'
import { WrongPassphraseError, KeyFileError } from '../crypto/index.ts'
import { createStore, dirBytes, dirSize, fileHash, PASSPHRASE, removeDir, ROOT, tempDir, treePrint, writeRandom } from './testing/index.ts'

const MiB = 1 << 20
// One data-path worker per pool: these tests are about the store, not the pipeline, and a pool
// start costs a core for a while. restore.test.ts, crash.test.ts and the CLI tests run the default pool.
process.env.CAIRN_WORKERS ??= '1'
const dirs: string[] = []
after(() => { for (const d of dirs) removeDir(d) })
function work (): string {
  const d = tempDir()
  dirs.push(d)
  return d
}

/** Text that zstd shrinks a lot but that no chunk of it repeats exactly. */
function compressible (bytes: number): Buffer {
  const lines: string[] = []
  let n = 0
  for (let i = 0; n < bytes; i++) { const l = `record ${i}: status=ok, user=user${i % 97}, path=/srv/data/${i % 13}/file-${i}.dat\n`; lines.push(l); n += l.length }
  return Buffer.from(lines.join('')).subarray(0, bytes)
}

const segmentFiles = (store: string): string[] => readdirSync(join(store, 'segments')).filter(n => n.endsWith('.seg')).sort()
/** The store's largest segment file: with one big file backed up, almost all of it is data blocks. */
const largestSegment = (store: string): string => segmentFiles(store).map(n => join(store, 'segments', n)).sort((a, b) => statSync(b).size - statSync(a).size)[0]

describe('dedup', () => {
  test('backing up the same data twice stores no new data chunks and almost no bytes', async () => {
    const w = work()
    const src = join(w, 'src')
    mkdirSync(src)
    writeRandom(join(src, 'a'), 3 * MiB)
    writeRandom(join(src, 'b'), 100_000)
    const repo = await createStore(join(w, 'store'))
    try {
      const first = await repo.backup({ paths: [src] })
      const before = dirSize(join(w, 'store', 'segments'))
      const second = await repo.backup({ paths: [src], level: 'full', task: 'again' })
      await repo.blocks.flush()
      const grown = dirSize(join(w, 'store', 'segments')) - before
      assert.equal(first.stats.bytesNew, 3 * MiB + 100_000)
      assert.equal(second.stats.bytesRead, 3 * MiB + 100_000)
      assert.equal(second.stats.chunksNew, 0)
      assert.equal(second.stats.bytesNew, 0)
      assert.ok(grown < 4096, `the store grew by ${grown} bytes`)
    } finally { await repo.close() }
  })

  test('two copies of one file in one backup are stored once', async () => {
    const w = work()
    const src = join(w, 'src')
    mkdirSync(join(src, 'x'), { recursive: true })
    mkdirSync(join(src, 'y'))
    const data = writeRandom(join(src, 'x', 'copy'), 2 * MiB)
    writeFileSync(join(src, 'y', 'copy'), data)
    const repo = await createStore(join(w, 'store'))
    try {
      const snap = await repo.backup({ paths: [src] })
      assert.equal(snap.stats.bytesTotal, 4 * MiB)
      assert.equal(snap.stats.bytesNew, 2 * MiB)
      assert.ok(dirSize(join(w, 'store', 'segments')) < 2 * MiB + 64 * 1024)
    } finally { await repo.close() }
  })
})

describe('compression', () => {
  test('compressible data is stored much smaller with compression on than off', async () => {
    const w = work()
    const src = join(w, 'src')
    mkdirSync(src)
    writeFileSync(join(src, 'log.txt'), compressible(4 * MiB))
    const off = await createStore(join(w, 'off'), { compression: 0 })
    const on = await createStore(join(w, 'on'))
    try {
      const a = await off.backup({ paths: [src] })
      const b = await on.backup({ paths: [src] })
      assert.equal(a.stats.bytesNew, 4 * MiB)
      assert.equal(b.stats.bytesNew, 4 * MiB)
      assert.ok(a.stats.bytesStored >= 4 * MiB, `off stored ${a.stats.bytesStored}`)
      assert.ok(b.stats.bytesStored < MiB, `on stored ${b.stats.bytesStored}`)
      const out = join(w, 'out')
      await on.restore({ snapshot: b.id, target: out })
      assert.equal(fileHash(join(out, src, 'log.txt')), fileHash(join(src, 'log.txt')))
    } finally { await off.close(); await on.close() }
  })

  test('random data is stored raw, not bigger, when compression is on; --compression off per backup works', async () => {
    const w = work()
    const src = join(w, 'src')
    mkdirSync(src)
    writeRandom(join(src, 'random'), 2 * MiB)
    const repo = await createStore(join(w, 'store'))
    try {
      const snap = await repo.backup({ paths: [src] })
      // Per-block overhead only: the sealing tag and nonce, no zstd expansion.
      assert.ok(snap.stats.bytesStored < 2 * MiB + 8 * 1024, `stored ${snap.stats.bytesStored}`)
      writeFileSync(join(src, 'text'), compressible(MiB))
      const plain = await repo.backup({ paths: [src], compression: 0, task: 'off' })
      assert.equal(plain.stats.bytesNew, MiB)
      assert.ok(plain.stats.bytesStored >= MiB)
    } finally { await repo.close() }
  })
})

describe('fixed-size chunker', () => {
  test('each fixed size cuts a file into size-byte chunks; the 4 KiB one restores exactly and all check clean', async () => {
    const w = work()
    const src = join(w, 'src')
    mkdirSync(src)
    const repo = await createStore(join(w, 'store'))
    try {
      assert.deepEqual(FIXED_SIZES, [4096, 128 * 1024, 256 * 1024, 512 * 1024, MiB])
      for (const size of FIXED_SIZES) {
        const file = join(src, `f-${size}`)
        writeRandom(file, 2 * MiB + 123) // random, so no chunk of one run dedups against another
        const snap = await repo.backup({ paths: [file], chunker: { kind: 'fixed', size }, task: `fixed-${size}` })
        assert.equal(snap.stats.chunksNew, Math.ceil((2 * MiB + 123) / size), `fixed:${size}`)
        if (size === 4096) {
          const out = join(w, `out-${size}`)
          await repo.restore({ snapshot: snap.id, target: out })
          assert.equal(fileHash(join(out, file)), fileHash(file))
        }
      }
      assert.deepEqual((await repo.check({ readData: true })).errors, [])
    } finally { await repo.close() }
  })

  test('a fixed size that is not offered is refused with InvalidOptionError', async () => {
    const w = work()
    const src = join(w, 'src')
    mkdirSync(src)
    writeFileSync(join(src, 'f'), 'x')
    const repo = await createStore(join(w, 'store'))
    try {
      await assert.rejects(repo.backup({ paths: [src], chunker: { kind: 'fixed', size: 64 * 1024 } }), InvalidOptionError)
      assert.deepEqual(await repo.snapshots(), [])
    } finally { await repo.close() }
  })
})

describe('check', () => {
  test('a store checks clean; a corrupted byte inside a data block is then found by check --read-data', async () => {
    const w = work()
    const src = join(w, 'src')
    const store = join(w, 'store')
    mkdirSync(src)
    writeRandom(join(src, 'f'), MiB)
    const repo = await createStore(store)
    await repo.backup({ paths: [src] })
    const clean = await repo.check({ readData: true })
    assert.deepEqual(clean.errors, [], 'a store just written checks clean')
    assert.ok(clean.bytesChecked >= MiB)
    await repo.close()
    // The largest segment is almost all one 1 MiB data block, so its middle byte belongs to that block.
    const path = largestSegment(store)
    const size = statSync(path).size
    const fd = openSync(path, 'r+')
    const b = Buffer.alloc(1)
    readSync(fd, b, 0, 1, Math.floor(size / 2))
    writeSync(fd, Buffer.of(b[0] ^ 0x01), 0, 1, Math.floor(size / 2))
    closeSync(fd)
    const again = await openRepository(store, { passphrase: PASSPHRASE })
    try {
      const r = await again.check({ readData: true })
      assert.equal(r.errors.length, 1, r.errors.join('\n'))
      assert.match(r.errors[0], /block \S+: bytes do not match its address/)
      assert.equal(r.badBlocks.length, 1, 'the corrupt block is named for repair (F14)')
      assert.ok(r.errors[0].includes(r.badBlocks[0]))
      await assert.rejects(again.restore({ snapshot: 'latest', target: join(w, 'out') }))
    } finally { await again.close() }
  })

  test('a torn record at the end of a segment (a crash mid-write) is cut off when the store is next opened', async () => {
    const w = work()
    const src = join(w, 'src')
    const store = join(w, 'store')
    mkdirSync(src)
    writeRandom(join(src, 'f'), 100_000)
    const repo = await createStore(store)
    await repo.backup({ paths: [src] })
    await repo.close()
    const [seg] = segmentFiles(store)
    const path = join(store, 'segments', seg)
    const size = statSync(path).size
    // The start of a record whose length says more bytes follow than the file holds.
    appendFileSync(path, Buffer.from([0x00, 0x10, 0x00, 0x00, 0x24, 0x01, 0x55, 0x12]))
    const again = await openRepository(store, { passphrase: PASSPHRASE })
    try {
      assert.equal(statSync(path).size, size, 'the torn tail was truncated')
      assert.deepEqual((await again.check({ readData: true })).errors, [])
      const out = join(w, 'out')
      await again.restore({ snapshot: 'latest', target: out })
      assert.equal(fileHash(join(out, src, 'f')), fileHash(join(src, 'f')))
    } finally { await again.close() }
  })

  test('a deleted segment file is found by check, also without --read-data', async () => {
    const w = work()
    const src = join(w, 'src')
    const store = join(w, 'store')
    mkdirSync(src)
    // Past 64 MiB the value log starts a second segment: the first then holds only data
    // blocks, and the tree nodes and the snapshot record stay readable.
    writeRandom(join(src, 'big'), 70 * MiB)
    const repo = await createStore(store)
    await repo.backup({ paths: [src] })
    await repo.close()
    const segs = segmentFiles(store)
    assert.ok(segs.length >= 2, `segments: ${segs.join(', ')}`)
    unlinkSync(largestSegment(store))
    // Any other command refuses: the index points at bytes that are gone.
    await assert.rejects(openRepository(store, { passphrase: PASSPHRASE }), { name: 'IndexDamagedError', message: /segment \d+ is missing.*cairn repair index/ })
    const again = await openRepository(store, { passphrase: PASSPHRASE, readOnly: true, reportDamage: true })
    try {
      const quick = await again.check()
      assert.match(quick.errors[0], /segment \d+ is missing/)
      assert.ok(quick.badBlocks.length > 0, 'check reports the missing blocks')
      assert.equal(quick.badBlocks.length, quick.errors.length - 1, 'each unreadable block is named for repair')
      const full = await again.check({ readData: true })
      assert.ok(full.errors.length > 1)
    } finally { await again.close() }
  })
})

describe('bad keys and configs change nothing', () => {
  let template: string | undefined
  /** A copy of one small store with a snapshot (made once). */
  async function smallStore (): Promise<{ store: string }> {
    if (template === undefined) {
      const w = work()
      mkdirSync(join(w, 'src'))
      writeFileSync(join(w, 'src', 'f'), 'data')
      const repo = await createStore(join(w, 'store'))
      await repo.backup({ paths: [join(w, 'src')] })
      await repo.close()
      template = join(w, 'store')
    }
    const store = join(work(), 'store')
    cpSync(template, store, { recursive: true })
    return { store }
  }

  test('a wrong passphrase gives WrongPassphraseError and leaves every store file byte-identical', async () => {
    const { store } = await smallStore()
    const before = dirBytes(store)
    await assert.rejects(openRepository(store, { passphrase: 'not the passphrase' }), (err: Error) => {
      assert.ok(err instanceof WrongPassphraseError)
      assert.equal(err.name, 'WrongPassphraseError')
      return true
    })
    assert.deepEqual(dirBytes(store), before)
  })

  test('a read-only open with keys still being derived: the index is copied meanwhile, and a key error is told, the copy removed and the store unchanged', async () => {
    const { store } = await smallStore()
    const before = dirBytes(store)
    const views = (): string[] => readdirSync(tmpdir()).filter(n => n.startsWith(`cairn-index-view-${process.pid}-`))
    const had = views()
    const keys = Promise.reject(new WrongPassphraseError())
    await assert.rejects(openRepository(store, { keys, readOnly: true }), WrongPassphraseError)
    assert.deepEqual(views(), had, 'no private index copy left behind')
    assert.deepEqual(dirBytes(store), before)
    const good = (await unlockKeys(store, PASSPHRASE)).keys
    const repo = await openRepository(store, { keys: new Promise(resolve => setTimeout(() => resolve(good), 50)), readOnly: true })
    try { assert.equal((await repo.snapshots()).length, 1) } finally { await repo.close() }
    assert.deepEqual(dirBytes(store), before)
  })

  test('a key file that is not JSON gives KeyFileError and changes nothing', async () => {
    const { store } = await smallStore()
    writeFileSync(join(store, 'keys.json'), '{"format": "cairn-keyfile", "ver')
    const before = dirBytes(store)
    await assert.rejects(openRepository(store, { passphrase: PASSPHRASE }), (err: Error) => err.name === 'KeyFileError' && err instanceof KeyFileError && /not valid JSON/.test(err.message))
    assert.deepEqual(dirBytes(store), before)
  })

  test('a key file whose wrapped key was altered is refused without changing anything', async () => {
    const { store } = await smallStore()
    const file = readKeyFile(store)
    const wrapped = Buffer.from(file.slots[0].wrapped, 'base64')
    wrapped[wrapped.length - 1] ^= 0xff
    file.slots[0].wrapped = wrapped.toString('base64')
    writeFileSync(join(store, 'keys.json'), JSON.stringify(file))
    const before = dirBytes(store)
    await assert.rejects(openRepository(store, { passphrase: PASSPHRASE }), (err: Error) => err.name === 'WrongPassphraseError' || err.name === 'KeyFileError')
    assert.deepEqual(dirBytes(store), before)
  })

  test('a missing key file gives StoreCorruptError and changes nothing', async () => {
    const { store } = await smallStore()
    unlinkSync(join(store, 'keys.json'))
    const before = dirBytes(store)
    await assert.rejects(openRepository(store, { passphrase: PASSPHRASE }), StoreCorruptError)
    assert.deepEqual(dirBytes(store), before)
  })

  test('a corrupt config.json gives StoreCorruptError and changes nothing', async () => {
    const { store } = await smallStore()
    writeFileSync(join(store, 'config.json'), 'not json at all')
    const before = dirBytes(store)
    await assert.rejects(openRepository(store, { passphrase: PASSPHRASE }), StoreCorruptError)
    assert.deepEqual(dirBytes(store), before)
  })

  test('a config of an unknown format version gives StoreCorruptError and changes nothing', async () => {
    const { store } = await smallStore()
    const config = JSON.parse(readFileSync(join(store, 'config.json'), 'utf8'))
    writeFileSync(join(store, 'config.json'), JSON.stringify({ ...config, version: 99 }))
    const before = dirBytes(store)
    await assert.rejects(openRepository(store, { passphrase: PASSPHRASE }), (err: Error) => err instanceof StoreCorruptError && /version 99/.test(err.message))
    assert.deepEqual(dirBytes(store), before)
  })

  test('opening a store that does not exist gives StoreNotFoundError and creates nothing', async () => {
    const w = work()
    await assert.rejects(openRepository(join(w, 'nope'), { passphrase: PASSPHRASE }), StoreNotFoundError)
    assert.equal(existsSync(join(w, 'nope')), false)
    mkdirSync(join(w, 'empty'))
    await assert.rejects(openRepository(join(w, 'empty'), { passphrase: PASSPHRASE }), StoreNotFoundError)
    assert.deepEqual(readdirSync(join(w, 'empty')), [])
  })
})

describe('forget and prune', () => {
  // Retention only looks at records: sources of one symlink each keep these backups free of file reads.
  const version = (src: string, i: number): void => {
    rmSync(join(src, 'v'), { force: true })
    symlinkSync(`version-${i}`, join(src, 'v'))
  }

  test('forget --keep-last N keeps the newest N of each task', async () => {
    const w = work()
    const src = join(w, 'src')
    mkdirSync(src)
    const repo = await createStore(join(w, 'store'))
    try {
      const made = []
      for (let i = 0; i < 4; i++) {
        version(src, i)
        made.push(await repo.backup({ paths: [src], task: 'docs' }))
      }
      const other = await repo.backup({ paths: [src], task: 'other' })
      const removed = await repo.forget({ keepLast: 2 })
      assert.deepEqual(removed.map(s => s.id).sort(), [made[0].id, made[1].id].sort())
      assert.deepEqual((await repo.snapshots()).map(s => s.id).sort(), [made[2].id, made[3].id, other.id].sort())
    } finally { await repo.close() }
  })

  test('forget --keep-days D keeps snapshots younger than D days', async () => {
    const w = work()
    const src = join(w, 'src')
    mkdirSync(src)
    const repo = await createStore(join(w, 'store'))
    try {
      const made = []
      for (let i = 0; i < 3; i++) {
        version(src, i)
        made.push(await repo.backup({ paths: [src] }))
      }
      assert.ok(Date.parse(made[0].time) < Date.parse(made[1].time))
      // Exactly one day after the second snapshot: the first is older than a day, the second is not.
      const removed = await repo.forget({ keepDays: 1, now: new Date(Date.parse(made[1].time) + 86_400_000) })
      assert.deepEqual(removed.map(s => s.id), [made[0].id])
    } finally { await repo.close() }
  })

  test('forget never removes the last snapshot of a task, whatever the policy', async () => {
    const w = work()
    const src = join(w, 'src')
    mkdirSync(src)
    version(src, 0)
    const repo = await createStore(join(w, 'store'))
    try {
      const a = await repo.backup({ paths: [src], task: 'a' })
      version(src, 1)
      await repo.backup({ paths: [src], task: 'b' })
      const b2 = await repo.backup({ paths: [src], task: 'b' })
      const removed = await repo.forget({ keepDays: 0, now: new Date(Date.now() + 365 * 86_400_000) })
      assert.equal(removed.length, 1)
      assert.deepEqual((await repo.snapshots()).map(s => s.id).sort(), [a.id, b2.id].sort())
      await assert.rejects(repo.removeSnapshot(a.id), LastSnapshotError)
      await assert.rejects(repo.forget({}), InvalidOptionError)
      await assert.rejects(repo.forget({ keepLast: 0 }), InvalidOptionError)
    } finally { await repo.close() }
  })

  test('prune after forgetting a large snapshot shrinks the store; what remains restores and checks clean', async () => {
    const w = work()
    const store = join(w, 'store')
    const big = join(w, 'big')
    const small = join(w, 'small')
    mkdirSync(big)
    mkdirSync(small)
    writeRandom(join(big, 'blob'), 12 * MiB)
    writeRandom(join(small, 'keep'), 200_000)
    let repo = await createStore(store)
    const first = await repo.backup({ paths: [big, small], task: 't' })
    writeRandom(join(big, 'blob'), 1000)
    const second = await repo.backup({ paths: [big, small], task: 't' })
    await repo.close()
    const sizeBefore = dirSize(join(store, 'segments'))
    repo = await openRepository(store, { passphrase: PASSPHRASE })
    try {
      const removed = await repo.forget({ keepLast: 1 })
      assert.deepEqual(removed.map(s => s.id), [first.id])
      const r = await repo.prune()
      assert.ok(r.bytesFreed >= 12 * MiB, `freed ${r.bytesFreed}`)
      const sizeAfter = dirSize(join(store, 'segments'))
      assert.ok(sizeBefore - sizeAfter >= 12 * MiB, `segments went from ${sizeBefore} to ${sizeAfter}`)
      const out = join(w, 'out')
      await repo.restore({ snapshot: second.id, target: out })
      assert.deepEqual(treePrint(join(out, big)), treePrint(big))
      assert.deepEqual(treePrint(join(out, small)), treePrint(small))
      assert.equal(fileHash(join(out, big, 'blob')), fileHash(join(big, 'blob')))
      assert.equal(fileHash(join(out, small, 'keep')), fileHash(join(small, 'keep')))
      assert.deepEqual((await repo.check({ readData: true })).errors, [])
    } finally { await repo.close() }
    // And again after a reopen: the index and the segments agree.
    repo = await openRepository(store, { passphrase: PASSPHRASE })
    try {
      assert.deepEqual((await repo.check({ readData: true })).errors, [])
    } finally { await repo.close() }
  })

  test('prune in a store kept open frees a later backup\'s segments, numbered after the log\'s tail', async () => {
    // A daemon keeps its stores open: the tail (tree nodes) opened with the first backup, and a
    // later backup's threads number their segments after it. A prune left those alone until the
    // tail moved on (the capacity planner's accuracy check met it: one run in four kept a day).
    const w = work()
    const store = join(w, 'store')
    const src = join(w, 'src')
    mkdirSync(src)
    writeRandom(join(src, 'keep'), 200_000)
    const repo = await createStore(store)
    try {
      await repo.backup({ paths: [src], task: 't' })
      writeRandom(join(src, 'big'), 12 * MiB)
      const second = await repo.backup({ paths: [src], task: 't' })
      unlinkSync(join(src, 'big'))
      const third = await repo.backup({ paths: [src], task: 't' })
      await repo.removeSnapshot(second.id)
      const sizeBefore = dirSize(join(store, 'segments'))
      const r = await repo.prune()
      assert.ok(r.bytesFreed >= 12 * MiB, `freed ${r.bytesFreed}`)
      const sizeAfter = dirSize(join(store, 'segments'))
      assert.ok(sizeBefore - sizeAfter >= 12 * MiB, `segments went from ${sizeBefore} to ${sizeAfter}`)
      const out = join(w, 'out')
      await repo.restore({ snapshot: third.id, target: out })
      assert.equal(fileHash(join(out, src, 'keep')), fileHash(join(src, 'keep')))
      assert.deepEqual((await repo.check({ readData: true })).errors, [])
    } finally { await repo.close() }
  })
  test('a segment losing a little at each prune is rewritten once what it lost in all of them passes the threshold', async () => {
    // One worker: the first backup's 30 files go to one segment, and each round kills one of
    // them (3 %, under prune's 10 % alone). Counting only each prune's own dead, it was never
    // rewritten; counting the file's bytes, the fourth prune (13 %) rewrites it.
    const workers = process.env.CAIRN_WORKERS
    process.env.CAIRN_WORKERS = '1'
    const w = work()
    const store = join(w, 'store')
    const src = join(w, 'src')
    mkdirSync(src)
    for (let i = 0; i < 30; i++) writeRandom(join(src, `f${i}`), 64 * 1024)
    const repo = await createStore(store)
    try {
      await repo.backup({ paths: [src], task: 't' })
      const segs = (): Array<[string, number]> => readdirSync(join(store, 'segments')).map(f => [f, statSync(join(store, 'segments', f)).size])
      const [first] = segs().sort((a, b) => b[1] - a[1])[0]
      const rewritten: boolean[] = []
      for (let round = 0; round < 4; round++) {
        writeRandom(join(src, `f${round}`), 64 * 1024)
        await repo.backup({ paths: [src], task: 't' })
        await repo.forget({ keepLast: 1 })
        await repo.prune()
        rewritten.push(!segs().some(([f]) => f === first))
      }
      assert.deepEqual(rewritten, [false, false, false, true])
      const out = join(w, 'out')
      const [last] = await repo.snapshots()
      await repo.restore({ snapshot: last.id, target: out })
      assert.deepEqual(treePrint(join(out, src)), treePrint(src))
      assert.deepEqual((await repo.check({ readData: true })).errors, [])
    } finally {
      await repo.close()
      if (workers === undefined) delete process.env.CAIRN_WORKERS
      else process.env.CAIRN_WORKERS = workers
    }
  })
})



describe('golden sample store (format v1)', () => {
  // chunkstore/testdata/store-v1 was written once by Cairn's first data path (default scrypt,
  // default CDC, zstd 3, xsalsa20-poly1305) and is never regenerated: if this test fails, an
  // on-disk format (config, key file, index, segment, block, tree node, snapshot record) changed.
  const SAMPLE = join(ROOT, 'chunkstore', 'testdata', 'store-v1')
  const SNAPSHOT = 'bafkreick3sspr3jkwbrfqtwn5xakdptd5efrk6im5dqbmo7utdvkvsrsnm'
  const SOURCE = '/tmp/cairn-golden-v1/src'

  test('the sample opens with its passphrase, lists its snapshot, restores both files exactly, and checks clean', async () => {
    const w = work()
    const store = join(w, 'store-v1')
    cpSync(SAMPLE, store, { recursive: true })
    const sampleBytes = dirBytes(SAMPLE)
    const repo = await openRepository(store, { passphrase: 'golden sample v1' })
    try {
      const snaps = await repo.snapshots()
      assert.equal(snaps.length, 1)
      assert.equal(snaps[0].id, SNAPSHOT)
      assert.equal(snaps[0].task, 'golden')
      assert.deepEqual(snaps[0].paths, [SOURCE])
      assert.equal(snaps[0].stats.files, 2)
      const entries = []
      for await (const e of repo.ls('latest', SOURCE)) entries.push({ path: e.path, type: e.type, size: e.size, mode: e.mode & 0o7777, mtime: e.mtime })
      assert.deepEqual(entries, [
        { path: `${SOURCE}/hello.txt`, type: 'file', size: 14, mode: 0o644, mtime: '2024-01-02T03:04:05.677Z' },
        { path: `${SOURCE}/notes.txt`, type: 'file', size: 18690, mode: 0o600, mtime: '2024-01-02T03:04:05.677Z' }
      ])
      const out = join(w, 'out')
      await repo.restore({ snapshot: SNAPSHOT, target: out })
      assert.equal(readFileSync(join(out, SOURCE, 'hello.txt'), 'utf8'), 'Hello, Cairn!\n')
      assert.equal(fileHash(join(out, SOURCE, 'notes.txt')), '2916e5128c9d2460b0f61e36c22082c4312889e168682df4c9772d5fbe2b86ae')
      assert.equal(Math.round(statSync(join(out, SOURCE, 'notes.txt')).mtimeMs), Date.parse('2024-01-02T03:04:05.678Z'))
      assert.deepEqual((await repo.check({ readData: true })).errors, [])
    } finally { await repo.close() }
    assert.deepEqual(dirBytes(SAMPLE), sampleBytes, 'the checked-in sample itself is never written')
    rmSync(store, { recursive: true, force: true })
  })

  test('the sample refuses a wrong passphrase', async () => {
    await assert.rejects(openRepository(SAMPLE, { passphrase: 'golden sample v2' }), WrongPassphraseError)
  })
})
