// `cairn` end to end (issue 2): the real binary (node node/bin/cairn.js) in child processes
// against stores in temp folders. Every bad input must exit 1 with one line `cairn: …` on
// stderr and no stack trace; usage errors exit 2; a backup with warnings exits 3.
// test-suite: processes
import test, { after, before, describe } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import {
  closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, utimesSync, writeFileSync, writeSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { initRepository } from '../../chunkstore/index.ts'
import { runCairn } from '../../chunkstore/testing/index.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const PASS = 'cli test passphrase'
const FAST_KDF = { N: 1024, r: 8, p: 1 }

const work = mkdtempSync(join(tmpdir(), 'cairn-cli-'))
after(() => rmSync(work, { recursive: true, force: true }))

interface Run { code: number | null, stdout: string, stderr: string }

async function cairn (args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return await runCairn(args, { env: { CAIRN_PASSPHRASE: PASS, CAIRN_STORE: undefined, CAIRN_DEBUG: undefined, ...env } })
}

/** Exit 1, exactly one line `cairn: …` on stderr matching `pattern`, no stack trace. */
function assertOneLineError (r: Run, pattern: RegExp): void {
  assert.equal(r.code, 1, `exit code (stdout: ${r.stdout}, stderr: ${r.stderr})`)
  assert.match(r.stderr, /^cairn: [^\n]+\n$/, `one line on stderr, got: ${JSON.stringify(r.stderr)}`)
  assert.doesNotMatch(r.stderr, /\n\s+at /)
  assert.match(r.stderr, pattern)
}

function usage (r: Run): void {
  assert.equal(r.code, 2, `exit code (stdout: ${r.stdout}, stderr: ${r.stderr})`)
  assert.doesNotMatch(r.stderr, /\n\s+at /)
  assert.notEqual(r.stderr, '')
}

function hash (p: string): string {
  return createHash('sha256').update(readFileSync(p)).digest('hex')
}

/** Relative path → content hash (or `dir`) of every file below `dir`. */
function contents (dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (p: string): void => {
    for (const n of readdirSync(p).sort()) {
      const f = join(p, n)
      if (lstatSync(f).isDirectory()) { out[relative(dir, f)] = 'dir'; walk(f) } else out[relative(dir, f)] = hash(f)
    }
  }
  walk(dir)
  return out
}

async function fastStore (name: string): Promise<string> {
  const store = join(work, name)
  await initRepository(store, { passphrase: PASS, kdf: FAST_KDF })
  return store
}

// The suites below use stores of their own, so they run side by side (each one's steps in order).
describe('cairn', { concurrency: true }, () => {
  describe('cairn init', { concurrency: 1 }, () => {
    test('init creates a store (default scrypt) that the other commands open; a second init into it is refused', async () => {
      const store = join(work, 'init-store')
      const r = await cairn(['init', '--store', store, '--json'])
      assert.equal(r.code, 0, r.stderr)
      const info = JSON.parse(r.stdout)
      assert.equal(info.format, 'cairn-store')
      assert.equal(info.store, store)
      const list = await cairn(['snapshots', '--store', store])
      assert.equal(list.code, 0, list.stderr)
      assert.match(list.stdout, /0 snapshots/)
      const again = await cairn(['init', '--store', store])
      assertOneLineError(again, /is not empty/)
    })

    test('CAIRN_STORE names the store when --store is absent', async () => {
      const store = await fastStore('env-store')
      const r = await cairn(['snapshots', '--json'], { CAIRN_STORE: store })
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual(JSON.parse(r.stdout), [])
    })
  })

  describe('backup, list, restore, check, forget, prune', { concurrency: 1 }, () => {
    let store: string
    let src: string
    const ids: string[] = []

    before(async () => {
      store = await fastStore('main-store')
      src = join(work, 'src')
      mkdirSync(join(src, 'docs'), { recursive: true })
      mkdirSync(join(src, 'media'))
      writeFileSync(join(src, 'docs', 'readme.txt'), 'read me\n')
      writeFileSync(join(src, 'docs', 'notes.txt'), 'notes, version one\n')
      writeFileSync(join(src, 'media', 'blob.bin'), randomBytes(1 << 20))
    })

    test('backup --json prints the snapshot record; the text form prints its id and a summary', async () => {
      const r = await cairn(['backup', src, '--store', store, '--json'])
      assert.equal(r.code, 0, r.stderr)
      const snap = JSON.parse(r.stdout)
      assert.match(snap.id, /^bafk/)
      assert.equal(snap.stats.files, 3)
      assert.deepEqual(snap.paths, [src])
      ids.push(snap.id)
      writeFileSync(join(src, 'docs', 'notes.txt'), 'notes, version two, longer\n')
      const t = await cairn(['backup', src, '--store', store, '--task', 'default'])
      assert.equal(t.code, 0, t.stderr)
      const m = /^snapshot (\S+) saved$/m.exec(t.stdout)
      assert.ok(m !== null, t.stdout)
      assert.match(t.stdout, /3 files \(2 unchanged\)/)
      ids.push(m[1])
    })

    test('snapshots --json lists both records, oldest first; the table lists them too', async () => {
      const r = await cairn(['snapshots', '--store', store, '--json'])
      assert.equal(r.code, 0, r.stderr)
      const list = JSON.parse(r.stdout)
      assert.deepEqual(list.map((s: { id: string }) => s.id), ids)
      assert.equal(list[1].parent, ids[0])
      assert.equal('rootId' in list[0], false)
      const table = await cairn(['snapshots', '--store', store])
      assert.match(table.stdout, /2 snapshots/)
      assert.ok(table.stdout.includes(ids[1].slice(0, 16)))
    })

    test('ls latest lists the files of the newest snapshot; --json gives entries', async () => {
      const r = await cairn(['ls', 'latest', join(src, 'docs'), '--store', store, '--json'])
      assert.equal(r.code, 0, r.stderr)
      const entries = JSON.parse(r.stdout)
      assert.deepEqual(entries.map((e: { path: string }) => e.path), [join(src, 'docs', 'notes.txt'), join(src, 'docs', 'readme.txt')])
      assert.equal(entries[0].size, 'notes, version two, longer\n'.length)
      const text = await cairn(['ls', 'latest', '--store', store])
      assert.equal(text.code, 0, text.stderr)
      assert.ok(text.stdout.includes(join(src, 'media', 'blob.bin')))
    })

    test('restore latest reproduces the folder; an older snapshot by unique id prefix restores its own version', async () => {
      const out = join(work, 'restore-latest')
      const r = await cairn(['restore', 'latest', '--target', out, '--store', store])
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /restored 3 files/)
      assert.deepEqual(contents(join(out, src)), contents(src))
      const old = join(work, 'restore-old')
      const o = await cairn(['restore', ids[0].slice(0, 20), '--target', old, '--store', store])
      assert.equal(o.code, 0, o.stderr)
      assert.equal(readFileSync(join(old, src, 'docs', 'notes.txt'), 'utf8'), 'notes, version one\n')
    })

    test('restore --include restores only that path; --conflict skip keeps existing files', async () => {
      const out = join(work, 'restore-include')
      const r = await cairn(['restore', 'latest', '--target', out, '--include', join(src, 'docs'), '--store', store])
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual(readdirSync(join(out, src)), ['docs'])
      writeFileSync(join(out, src, 'docs', 'readme.txt'), 'locally edited')
      utimesSync(join(out, src, 'docs', 'readme.txt'), new Date('2001-01-01'), new Date('2001-01-01'))
      const s = await cairn(['restore', 'latest', '--target', out, '--conflict', 'skip', '--store', store])
      assert.equal(s.code, 0, s.stderr)
      assert.match(s.stdout, /2 existing entries kept \(skip\)/)
      assert.equal(readFileSync(join(out, src, 'docs', 'readme.txt'), 'utf8'), 'locally edited')
      assert.equal(hash(join(out, src, 'media', 'blob.bin')), hash(join(src, 'media', 'blob.bin')))
      const k = await cairn(['restore', 'latest', '--target', out, '--conflict', 'keep-newer', '--store', store])
      assert.equal(k.code, 0, k.stderr)
      assert.equal(readFileSync(join(out, src, 'docs', 'readme.txt'), 'utf8'), 'read me\n')
    })

    test('check and check --read-data report no errors', async () => {
      const r = await cairn(['check', '--store', store])
      assert.equal(r.code, 0, r.stdout + r.stderr)
      assert.match(r.stdout, /checked 2 snapshots, .*: no errors/)
      const d = await cairn(['check', '--read-data', '--store', store, '--json'])
      assert.equal(d.code, 0, d.stdout + d.stderr)
      const res = JSON.parse(d.stdout)
      assert.deepEqual(res.errors, [])
      assert.ok(res.bytesChecked >= 1 << 20)
    })

    test('forget --keep-last 1 removes the older snapshot, prune reclaims it, and the newest still restores', async () => {
      const f = await cairn(['forget', '--keep-last', '1', '--store', store, '--json'])
      assert.equal(f.code, 0, f.stderr)
      assert.deepEqual(JSON.parse(f.stdout).map((s: { id: string }) => s.id), [ids[0]])
      const p = await cairn(['prune', '--store', store])
      assert.equal(p.code, 0, p.stderr)
      assert.match(p.stdout, /removed \d+ blocks, freed/)
      const list = JSON.parse((await cairn(['snapshots', '--store', store, '--json'])).stdout)
      assert.deepEqual(list.map((s: { id: string }) => s.id), [ids[1]])
      const last = await cairn(['forget', '--keep-last', '1', '--store', store, '--json'])
      assert.deepEqual(JSON.parse(last.stdout), [], 'the last snapshot of a task is never forgotten')
      const c = await cairn(['check', '--read-data', '--store', store])
      assert.equal(c.code, 0, c.stdout + c.stderr)
      const out = join(work, 'restore-after-prune')
      assert.equal((await cairn(['restore', 'latest', '--target', out, '--store', store])).code, 0)
      assert.deepEqual(contents(join(out, src)), contents(src))
    })

    test('a backup that skips an entry saves the snapshot and exits 3 with the warning', async () => {
      const odd = join(work, 'with-fifo')
      mkdirSync(odd)
      writeFileSync(join(odd, 'plain'), 'plain')
      execFileSync('mkfifo', [join(odd, 'pipe')])
      const r = await cairn(['backup', odd, '--store', store, '--task', 'fifo'])
      assert.equal(r.code, 3, r.stderr)
      // The warning is on stderr, the summary on stdout: a first backup of a task is a full one.
      assert.match(r.stderr, /^cairn: warning: .*pipe: skipped/m)
      assert.doesNotMatch(r.stdout, /pipe: skipped/)
      assert.match(r.stdout, /task fifo, full\n/)
      assert.match(r.stdout, /  1 file \(0 unchanged\), \d+ folders, 0 symlinks/)
      assert.match(r.stdout, /1 warning \(on stderr\)/)
      assert.doesNotMatch(r.stdout, /\d\.\d{5,} B\/s/, 'no raw fractions of a byte')
      const list = JSON.parse((await cairn(['snapshots', '--store', store, '--task', 'fifo', '--json'])).stdout)
      assert.equal(list.length, 1)
    })

    test('backup --chunker fixed:128K and --compression off are accepted', async () => {
      const r = await cairn(['backup', join(src, 'media'), '--store', store, '--task', 'fixed', '--chunker', 'fixed:128K', '--compression', 'off', '--level', 'full', '--json'])
      assert.equal(r.code, 0, r.stderr)
      const snap = JSON.parse(r.stdout)
      assert.equal(snap.stats.chunksNew, 8) // 1 MiB in 128 KiB chunks, none of them stored before
      assert.ok(snap.stats.bytesStored >= 1 << 20)
    })
  })

  describe('cairn key', { concurrency: 1 }, () => {
    test('key add, list, opening with the new passphrase, remove; removing the last slot is refused', async () => {
      const store = await fastStore('key-store')
      const newPass = join(work, 'new-pass.txt')
      writeFileSync(newPass, 'a second passphrase\n')
      const add = await cairn(['key', 'add', '--new-passphrase-file', newPass, '--label', 'laptop', '--store', store, '--json'])
      assert.equal(add.code, 0, add.stderr)
      const added = JSON.parse(add.stdout)
      const list = JSON.parse((await cairn(['key', 'list', '--store', store, '--json'])).stdout)
      assert.equal(list.length, 2)
      assert.deepEqual(list.map((s: { label: string }) => s.label).sort(), ['laptop', 'passphrase'])
      assert.equal(JSON.stringify(list).includes('wrapped'), false, 'key list shows no wrapped keys')
      const withNew = await cairn(['snapshots', '--store', store, '--json'], { CAIRN_PASSPHRASE: 'a second passphrase' })
      assert.equal(withNew.code, 0, withNew.stderr)
      const first = list.find((s: { id: string }) => s.id !== added.id).id
      const rm = await cairn(['key', 'remove', first, '--store', store], { CAIRN_PASSPHRASE: 'a second passphrase' })
      assert.equal(rm.code, 0, rm.stderr)
      assertOneLineError(await cairn(['snapshots', '--store', store]), /passphrase/i)
      assertOneLineError(await cairn(['key', 'remove', added.id, '--store', store], { CAIRN_PASSPHRASE: 'a second passphrase' }), /last key slot/)
      assertOneLineError(await cairn(['key', 'remove', 'no-such-slot', '--store', store], { CAIRN_PASSPHRASE: 'a second passphrase' }), /No key slot/)
      assert.equal(JSON.parse((await cairn(['key', 'list', '--store', store, '--json'])).stdout).length, 1)
    })
  })

  describe('bad input: exit 1 with one line, and the store is not changed', { concurrency: 1 }, () => {
    let store: string
    let src: string

    /** Every file of the store with its size and hash. */
    function storeBytes (): Record<string, string> {
      const out: Record<string, string> = {}
      const walk = (p: string): void => {
        for (const n of readdirSync(p).sort()) {
          const f = join(p, n)
          if (lstatSync(f).isDirectory()) walk(f); else out[relative(store, f)] = `${statSync(f).size}:${hash(f)}`
        }
      }
      walk(store)
      return out
    }

    before(async () => {
      store = await fastStore('bad-input-store')
      src = join(work, 'bad-src')
      mkdirSync(src)
      writeFileSync(join(src, 'f'), randomBytes(1 << 20))
      const r = await cairn(['backup', src, '--store', store])
      assert.equal(r.code, 0, r.stderr)
    })

    test('a wrong passphrase', async () => {
      const before = storeBytes()
      assertOneLineError(await cairn(['snapshots', '--store', store], { CAIRN_PASSPHRASE: 'wrong' }), /passphrase/i)
      assertOneLineError(await cairn(['backup', src, '--store', store], { CAIRN_PASSPHRASE: 'wrong' }), /passphrase/i)
      assert.deepEqual(storeBytes(), before)
    })

    test('no passphrase at all (no CAIRN_PASSPHRASE, no terminal)', async () => {
      assertOneLineError(await cairn(['snapshots', '--store', store], { CAIRN_PASSPHRASE: undefined }), /A passphrase is needed/)
      assertOneLineError(await cairn(['snapshots', '--store', store, '--passphrase-file', join(work, 'missing-file')]), /Cannot read the passphrase file/)
    })

    test('a missing store', async () => {
      assertOneLineError(await cairn(['snapshots', '--store', join(work, 'no-such-store')]), /No Cairn store at/)
      assertOneLineError(await cairn(['backup', src, '--store', join(work, 'no-such-store')]), /No Cairn store at/)
    })

    test('a path that does not exist', async () => {
      const before = storeBytes()
      assertOneLineError(await cairn(['backup', join(work, 'no-such-path'), '--store', store]), /does not exist/)
      // Opening the store rewrites LevelDB's own files; the data, keys and config stay byte-identical.
      const data = (b: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(b).filter(([k]) => !k.startsWith('index/')))
      assert.deepEqual(data(storeBytes()), data(before))
      assert.equal(JSON.parse((await cairn(['snapshots', '--store', store, '--json'])).stdout).length, 1)
    })

    test('an unknown snapshot id, and latest of an empty store', async () => {
      assertOneLineError(await cairn(['restore', 'bafkreizzzzzz', '--target', join(work, 'nowhere'), '--store', store]), /No snapshot matches "bafkreizzzzzz"/)
      assertOneLineError(await cairn(['ls', 'zzz', '--store', store]), /No snapshot matches/)
      const empty = await fastStore('empty-store')
      assertOneLineError(await cairn(['restore', 'latest', '--target', join(work, 'nowhere'), '--store', empty]), /No snapshot matches "latest"/)
    })

    test('a path that is not in the snapshot (ls and restore --include)', async () => {
      assertOneLineError(await cairn(['ls', 'latest', '/no/such/dir', '--store', store]), /does not exist/)
      assertOneLineError(await cairn(['restore', 'latest', '--target', join(work, 'inc'), '--include', '/no/such/dir', '--store', store]), /does not exist/)
    })

    test('a corrupt chunk during restore', async () => {
      const copy = join(work, 'corrupt-store')
      execFileSync('cp', ['-a', store, copy])
      // The largest segment is almost all the 1 MiB data block: its middle byte is inside it.
      const seg = readdirSync(join(copy, 'segments')).filter(n => n.endsWith('.seg')).map(n => join(copy, 'segments', n))
        .sort((a, b) => statSync(b).size - statSync(a).size)[0]
      const mid = Math.floor(statSync(seg).size / 2)
      const fd = openSync(seg, 'r+')
      const b = Buffer.alloc(1)
      readSync(fd, b, 0, 1, mid)
      writeSync(fd, Buffer.of(b[0] ^ 0x80), 0, 1, mid)
      closeSync(fd)
      // Everything readable is restored; the damaged file is listed with its block, and the exit code is 3.
      const restore = await cairn(['restore', 'latest', '--target', join(work, 'from-corrupt'), '--store', copy])
      assert.equal(restore.code, 3, restore.stdout + restore.stderr)
      assert.match(restore.stderr, /^cairn: not restored: \S+\/f: Block bafk\w+ is corrupt/m)
      const check = await cairn(['check', '--read-data', '--store', copy])
      assert.equal(check.code, 1)
      assert.match(check.stdout, /: 1 error\n/)
    })

    test('the store in use by another process', async () => {
      // A backup holds the index lock; an interrupted run must not leave it locked.
      const held = spawn(process.execPath, ['-e', `
        const { ClassicLevel } = require(${JSON.stringify(join(ROOT, 'node_modules', 'classic-level'))})
        const db = new ClassicLevel(${JSON.stringify(join(store, 'index'))})
        db.open().then(() => { process.stdout.write('open\\n'); setTimeout(() => {}, 60000) })
      `], { stdio: ['ignore', 'pipe', 'inherit'] })
      try {
        await new Promise<void>(resolve => held.stdout.once('data', () => resolve()))
        assertOneLineError(await cairn(['snapshots', '--store', store]), /open in another process/)
      } finally {
        held.kill('SIGKILL')
        await new Promise(resolve => held.on('close', resolve))
      }
      assert.equal((await cairn(['snapshots', '--store', store])).code, 0)
    })
  })

  describe('usage errors exit 2', { concurrency: true }, () => {
    const store = join(work, 'usage-store')
    const cases: Array<[string, string[]]> = [
      ['an unknown command', ['frobnicate']],
      ['an unknown option', ['snapshots', '--store', store, '--frob']],
      ['backup without a path', ['backup', '--store', store]],
      ['restore without --target', ['restore', 'latest', '--store', store]],
      ['a chunk size that is not offered', ['backup', '/tmp', '--store', store, '--chunker', 'fixed:3K']],
      ['a chunker that does not parse', ['backup', '/tmp', '--store', store, '--chunker', 'rabin']],
      ['a compression level out of range', ['backup', '/tmp', '--store', store, '--compression', '99']],
      ['an unknown conflict mode', ['restore', 'latest', '--target', '/tmp/x', '--store', store, '--conflict', 'merge']],
      ['an unknown backup level', ['backup', '/tmp', '--store', store, '--level', 'differential']],
      ['forget --keep-last that is not a number', ['forget', '--keep-last', 'some', '--store', store]]
    ]
    for (const [what, args] of cases) {
      test(what, async () => usage(await cairn(args)))
    }
  })
})
