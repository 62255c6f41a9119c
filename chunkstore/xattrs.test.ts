// Extended attributes and ACLs (issue 20, SPEC F6): one tree holding every namespace the kernel
// shows root — user.*, trusted.*, security.capability, POSIX ACLs — on files, a directory and
// a symlink, with binary values and the largest value the file system takes, is backed up and
// restored; the attributes must come back byte for byte. Then an unprivileged restore (the CLI
// run as `nobody`) must warn about what it may not set and restore the rest.
// Needs root (trusted.*, setcap) and setfattr, setfacl, setcap (apt: attr, acl, libcap2-bin).
import test, { after, before, describe } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, chownSync, copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { openRepository } from './index.ts'
import type { LocalRepository, SnapshotRecord } from './index.ts'
import { CAIRN_BIN, PASSPHRASE, ROOT, createStore, removeDir, tempDir, writeRandom } from './testing/index.ts'
import { readXattrs, writeXattrs } from './xattrs.ts'

const NOBODY = 65534

/** `getfattr` of every entry below `dir` (not through links), as path → sorted "name=0xHEX" lines: an independent reader. */
function dump (dir: string): Record<string, string[]> {
  const text = execFileSync('getfattr', ['-R', '-h', '-d', '-m', '-', '-e', 'hex', '.'], { cwd: dir, encoding: 'utf8' })
  const out: Record<string, string[]> = {}
  for (const block of text.split('\n\n')) {
    const lines = block.split('\n').filter(l => l !== '')
    if (lines.length === 0) continue
    out[lines[0].replace('# file: ', '')] = lines.slice(1).sort()
  }
  return out
}

/** The largest value one attribute can have on the file system holding `dir`, found by trying. */
function largestValue (dir: string): number {
  const probe = join(dir, 'probe')
  writeFileSync(probe, '')
  let lo = 0; let hi = 1 << 16
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    if (writeXattrs(probe, [['user.p', new Uint8Array(mid)]]).length === 0) lo = mid; else hi = mid - 1
  }
  return lo
}

describe('extended attributes round trip', () => {
  let work: string
  let src: string
  let out: string
  let repo: LocalRepository
  let snap: SnapshotRecord
  let biggest: number
  const S = (rel: string): string => join(src, rel)

  before(async () => {
    work = tempDir()
    chmodSync(work, 0o755)
    src = join(work, 'src')
    mkdirSync(src)
    writeFileSync(S('plain'), 'no attributes\n')
    writeFileSync(S('user'), 'user attributes\n')
    execFileSync('setfattr', ['-n', 'user.text', '-v', 'hello', S('user')])
    writeXattrs(S('user'), [['user.binary', new Uint8Array([0, 1, 2, 0xff, 0xfe, 0, 0x80])], ['user.empty', new Uint8Array()]])
    biggest = largestValue(work)
    writeFileSync(S('large-value'), 'x')
    assert.deepEqual(writeXattrs(S('large-value'), [['user.big', randomBytes(biggest)]]), [])
    // A file of several chunks has a node of its own (a one-chunk file's attributes sit in its directory's entry).
    writeRandom(S('multi-chunk'), 3 << 20)
    execFileSync('setfattr', ['-n', 'user.chunks', '-v', 'many', S('multi-chunk')])
    writeFileSync(S('acl'), 'acl\n')
    execFileSync('setfacl', ['-m', `u:${NOBODY}:rw,g:${NOBODY}:r`, S('acl')])
    copyFileSync('/bin/true', S('ping-like'))
    execFileSync('setcap', ['cap_net_raw+ep', S('ping-like')])
    writeFileSync(S('trusted'), 'root only\n')
    execFileSync('setfattr', ['-n', 'trusted.secret', '-v', '0x00c0ffee', S('trusted')])
    mkdirSync(S('dir'))
    execFileSync('setfattr', ['-n', 'user.dir', '-v', 'on a directory', S('dir')])
    execFileSync('setfacl', ['-d', '-m', `u:${NOBODY}:rx`, S('dir')])
    writeFileSync(S('dir/inside'), 'no attributes of its own\n')
    symlinkSync('../plain', S('dir/link'))
    // user.* is not allowed on a symlink by Linux; trusted.* is.
    execFileSync('setfattr', ['-h', '-n', 'trusted.link', '-v', 'on the link itself', S('dir/link')])
    // A name that is not UTF-8 (the binding takes text paths; getfattr/setfattr are used for it), ending in a newline.
    const odd = Buffer.concat([Buffer.from(src + '/'), Buffer.from([0x6f, 0x64, 0x64, 0xff, 0x0a])])
    writeFileSync(odd, 'odd name\n')
    assert.deepEqual(writeXattrs(odd, [['user.odd', new Uint8Array([0xff, 0, 0x0a])], ['user.plain', Buffer.from('x')]]), [])
    repo = await createStore(join(work, 'store'))
    snap = await repo.backup({ paths: [src] })
    out = join(work, 'out')
    await repo.restore({ snapshot: snap.id, target: out })
  })
  after(async () => {
    await repo?.close()
    removeDir(work)
  })

  test('every attribute of every entry comes back byte for byte', () => {
    const want = dump(src)
    assert.ok(want.user.length === 3 && Object.values(want).filter(v => v.some(l => l.startsWith('user.odd=0xff000a'))).length === 1 && want['large-value'].length === 1 && want['multi-chunk'].length === 1 && want.trusted.length === 1, 'the fixture has its attributes')
    assert.ok(want['ping-like'].some(l => l.startsWith('security.capability=')), 'the fixture has a capability')
    assert.ok(want['acl'].some(l => l.startsWith('system.posix_acl_access=')), 'the fixture has an ACL')
    assert.ok(want['dir'].some(l => l.startsWith('system.posix_acl_default=')), 'the fixture has a default ACL')
    assert.ok(want['dir/link'].some(l => l.startsWith('trusted.link=')), 'the fixture has an attribute on a symlink')
    assert.deepEqual(dump(join(out, src)), want)
    assert.deepEqual(snap.stats.warnings, [])
  })

  test('binary, empty and the largest values are exact', () => {
    const back = new Map(readXattrs(join(out, S('user'))).xattrs.map(([n, v]) => [n, Buffer.from(v)]))
    assert.deepEqual(back.get('user.binary'), Buffer.from([0, 1, 2, 0xff, 0xfe, 0, 0x80]))
    assert.deepEqual(back.get('user.empty'), Buffer.alloc(0))
    // ext4 without ea_inode keeps attributes in one block: a value just under 4 KiB.
    assert.ok(biggest >= 3900, `the file system took a value of only ${biggest} bytes`)
    const [big] = readXattrs(join(out, S('large-value'))).xattrs
    assert.deepEqual(Buffer.from(big[1]), Buffer.from(readXattrs(S('large-value')).xattrs[0][1]))
    assert.equal(big[1].length, biggest)
  })

  test('the capability still works as one: getcap reads it on the restored copy', () => {
    assert.match(execFileSync('getcap', [join(out, S('ping-like'))], { encoding: 'utf8' }), /cap_net_raw[=+]ep/)
  })

  test('--no-xattrs on restore leaves them out', async () => {
    const bare = join(work, 'bare')
    await repo.restore({ snapshot: snap.id, target: bare, xattrs: false })
    assert.deepEqual(readXattrs(join(bare, S('user'))).xattrs, [])
    assert.equal(readFileSync(join(bare, S('user')), 'utf8'), 'user attributes\n')
  })

  test('a backup with xattrs off records none, and the next one with them on finds them on unchanged files', async () => {
    const off = await repo.backup({ paths: [src], task: 'off', xattrs: false })
    assert.equal(off.stats.files, 9)
    const on = await repo.backup({ paths: [src], task: 'off' })
    // The parent recorded no attributes: the 8 files that have some (dir/inside inherits dir's
    // default ACL) are read again; the one without, plain, comes from the cache.
    assert.equal(on.stats.filesUnchanged, 1)
    const full = join(work, 'full')
    await repo.restore({ snapshot: on.id, target: full })
    assert.deepEqual(dump(join(full, src)), dump(src))
  })

  test('restored as nobody: the attributes it may not set are warnings, the rest is restored', async () => {
    // Another process (the CLI as installed, run by setpriv as uid 65534): a process cannot drop root for a part of itself.
    const store = join(work, 'store')
    await repo.close()
    execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, store])
    const target = join(work, 'nobody')
    mkdirSync(target)
    chownSync(target, NOBODY, NOBODY)
    const r = spawnSync('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', process.execPath, CAIRN_BIN, 'restore', snap.id, '--store', store, '--target', target], {
      cwd: ROOT, encoding: 'utf8', env: { ...process.env, CAIRN_PASSPHRASE: PASSPHRASE, HOME: target }
    })
    execFileSync('chown', ['-R', '0:0', store])
    repo = await openRepository(store, { passphrase: PASSPHRASE })
    // Warnings, not failures: the restore succeeds (the CLI's exit code 3 is for entries not restored at all).
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stderr, /trusted\.secret not restored \(EPERM\)/)
    assert.match(r.stderr, /security\.capability not restored \(EPERM\)/)
    assert.match(r.stderr, /trusted\.link not restored \(EPERM\)/)
    const R = (rel: string): string => join(target, src, rel)
    // Everything else is there: contents, user attributes, the ACL (the owner may set it).
    assert.equal(readFileSync(R('trusted'), 'utf8'), 'root only\n')
    const user = dump(join(target, src))
    assert.deepEqual(user.user, dump(src).user)
    assert.deepEqual(user.acl, dump(src).acl)
    assert.deepEqual(user.dir, dump(src).dir)
  })
})
