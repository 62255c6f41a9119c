// `cairn image backup|show|restore` through the installed bin (issue 20): an image file with a
// GPT is imaged, its table shown, restored to a new file that must be byte-identical, and a
// restore onto a file that is too small fails with a clear message and leaves it as it was;
// one partition alone (--partition) restores into a file of its size.
// An image file rather than a loop device: chunkstore/disk-image.test.ts covers devices. Then
// `image ls|get` read files of an ext4 partition from the store.
import test from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cairn, fileHash, removeDir, tempDir, writeRandom } from '../../chunkstore/testing/index.ts'

test('an image file is backed up, shown with its partition table, and restored byte for byte', async () => {
  const work = tempDir()
  try {
    const disk = join(work, 'disk.img')
    writeRandom(disk, 4 << 20)
    execFileSync('truncate', ['-s', String(32 << 20), disk])
    execFileSync('sgdisk', ['-n1:2048:+10M', '-c1:boot', '-n2:0:0', '-c2:data', disk], { stdio: 'ignore' })
    const store = join(work, 'store')
    assert.equal((await cairn(['init', '--store', store])).code, 0)
    const b = await cairn(['image', 'backup', disk, '--store', store, '--task', 'disk', '--json'])
    assert.equal(b.code, 0, b.stderr)
    const snap = JSON.parse(b.stdout)
    assert.deepEqual(snap.paths, [disk])
    const show = await cairn(['image', 'show', snap.id, '--store', store])
    assert.equal(show.code, 0, show.stderr)
    assert.match(show.stdout, /GPT partition table/)
    assert.match(show.stdout, /^1 .* boot/m)
    assert.match(show.stdout, /^2 .* data/m)
    const out = join(work, 'out.img')
    const r = await cairn(['image', 'restore', snap.id, '--store', store, '--target', out, '--read-back'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /read back: SHA-256 [0-9a-f]{64} matches/)
    assert.equal(fileHash(out), fileHash(disk))
    // Again over the restored file, without reading it back: the bytes written are checked.
    const again = await cairn(['image', 'restore', snap.id, '--store', store, '--target', out])
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /zero regions punched into a hole\); as written: SHA-256 [0-9a-f]{64} matches/)
    assert.equal(fileHash(out), fileHash(disk))
    // One partition alone, into a new file: the first partition's 10 MiB from the disk's 1 MiB on.
    const part = join(work, 'boot.img')
    const p = await cairn(['image', 'restore', snap.id, '--store', store, '--target', part, '--partition', '1'])
    assert.equal(p.code, 0, p.stderr)
    assert.match(p.stdout, /^restored partition 1, 10\.0 MiB, to .*boot\.img .*; as written: SHA-256 [0-9a-f]{64} matches$/m)
    execFileSync('cmp', ['-i', `${1 << 20}:0`, '-n', String(10 << 20), disk, part])
    assert.equal(statSync(part).size, 10 << 20)
    const small = join(work, 'small.img')
    writeFileSync(small, 'too small')
    const bad = await cairn(['image', 'restore', snap.id, '--store', store, '--target', small])
    assert.notEqual(bad.code, 0)
    assert.match(bad.stderr, /holds 9 bytes; the image needs 33554432\. Nothing was written/)
    assert.equal(execFileSync('cat', [small], { encoding: 'utf8' }), 'too small')
  } finally {
    removeDir(work)
  }
})

test('files of an ext4 partition are listed and restored from an image snapshot (image ls, image get)', async () => {
  const work = tempDir()
  try {
    const src = join(work, 'src')
    mkdirSync(join(src, 'docs'), { recursive: true })
    writeFileSync(join(src, 'docs', 'hello.txt'), 'hello from the partition\n')
    const disk = join(work, 'disk.img')
    execFileSync('truncate', ['-s', String(32 << 20), disk])
    execFileSync('sgdisk', ['-n1:2048:+16M', '-c1:root', disk], { stdio: 'ignore' })
    // The file system is made and filled in place (mke2fs -d), at the partition's offset: no mount, no loop device.
    execFileSync('mkfs.ext4', ['-q', '-F', '-d', src, '-E', `offset=${2048 * 512}`, disk, '16M'], { stdio: 'ignore' })
    const store = join(work, 'store')
    assert.equal((await cairn(['init', '--store', store])).code, 0)
    const b = await cairn(['image', 'backup', disk, '--store', store])
    assert.equal(b.code, 0, b.stderr)
    const show = await cairn(['image', 'show', 'latest', '--store', store])
    assert.match(show.stdout, /^1 .* ext4 .* MiB not read, restored as zeros$/m)
    const ls = await cairn(['image', 'ls', 'latest', '/docs', '--partition', '1', '--store', store])
    assert.equal(ls.code, 0, ls.stderr)
    assert.match(ls.stdout, /^-0644 .* 25 .* hello\.txt$/m)
    const out = join(work, 'out')
    const get = await cairn(['image', 'get', 'latest', '/docs', '--target', out, '--store', store])
    assert.equal(get.code, 0, get.stderr)
    assert.match(get.stdout, /restored 1 file \(25 B\), 1 folder, 0 symlinks into/)
    assert.equal(execFileSync('cat', [join(out, 'docs', 'hello.txt')], { encoding: 'utf8' }), 'hello from the partition\n')
    const bad = await cairn(['image', 'ls', 'latest', '--partition', 'two', '--store', store])
    assert.notEqual(bad.code, 0)
    assert.match(bad.stderr, /--partition takes a partition number/)
  } finally {
    removeDir(work)
  }
})
