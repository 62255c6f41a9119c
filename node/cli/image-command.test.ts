// `cairn image backup|show|restore` through the installed bin (issue 20): an image file with a
// GPT is imaged, its table shown, restored to a new file that must be byte-identical, and a
// restore onto a file that is too small fails with a clear message and leaves it as it was.
// An image file rather than a loop device: chunkstore/disk-image.test.ts covers devices.
import test from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
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
