// Disk images (issue 20, SPEC F6) on real loop devices: a 256 MiB disk with a GPT and two
// partitions (ext4, FAT) is imaged, changed through a mount, imaged again (the store grows by
// about the change), and restored onto another loop device, which must read back identical
// and mount. Needs root, losetup, sgdisk (apt: gdisk), mkfs.ext4, mkfs.vfat (dosfstools) and
// mcopy (mtools): the FAT partition is written and read with mtools, as this kernel has no vfat.
// A device that shrinks mid-backup, and one partition restored into another disk's partition.
import test, { after, before, describe } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { LocalRepository, SnapshotRecord } from './index.ts'
import { DeviceInUseError, IMAGE_PIECE, ImageSourceVanishedError, ImageTargetTooSmallError, NotADiskImageError, PathNotFoundError, describeImage } from './index.ts'
import { createStore, fileHash, removeDir, tempDir, writeRandom } from './testing/index.ts'

const MiB = 1 << 20
const LONG_LINK = '../'.repeat(30) + 'a-target-longer-than-the-60-bytes-an-inode-holds'
const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })

/** A loop device over a new sparse file of `size` bytes (or over `file` as it is), with partition scanning on. */
function loop (file: string, size?: number): string {
  if (size !== undefined) {
    writeFileSync(file, '')
    execFileSync('truncate', ['-s', String(size), file])
  }
  return sh('losetup', ['-f', '--show', '-P', file]).trim()
}

describe('disk image of a GPT disk on a loop device', () => {
  let work: string
  let repo: LocalRepository
  const loops: string[] = []
  const mounts: string[] = []
  let disk: string
  let first: SnapshotRecord
  let second: SnapshotRecord
  let mnt: string
  let bigHash: string

  const mount = (dev: string, at: string): void => { mkdirSync(at, { recursive: true }); sh('mount', [dev, at]); mounts.push(at) }
  const umount = (at: string): void => { sh('umount', [at]); mounts.splice(mounts.indexOf(at), 1) }

  before(async () => {
    work = tempDir()
    disk = loop(join(work, 'disk.img'), 256 * MiB)
    loops.push(disk)
    sh('sgdisk', ['-n1:2048:+120M', '-t1:8300', '-c1:system', '-n2:0:0', '-t2:0700', '-c2:data', disk])
    sh('partx', ['-u', disk])
    sh('mkfs.ext4', ['-q', '-L', 'sysfs', `${disk}p1`])
    sh('mkfs.vfat', ['-n', 'DATA', `${disk}p2`])
    mnt = join(work, 'mnt')
    mount(`${disk}p1`, join(mnt, '1'))
    writeRandom(join(mnt, '1', 'big'), 24 * MiB)
    writeRandom(join(mnt, '1', 'keep'), 4 * MiB)
    bigHash = fileHash(join(mnt, '1', 'big'))
    // For browsing the partition from the store: a folder with a file of known mode and time,
    // a short and a long symlink, a folder of 300 entries (an htree), a file with a hole and
    // one with an unwritten (preallocated) extent.
    const etc = join(mnt, '1', 'etc')
    mkdirSync(join(etc, 'many'), { recursive: true })
    writeFileSync(join(etc, 'hosts'), '127.0.0.1 localhost\n', { mode: 0o640 })
    utimesSync(join(etc, 'hosts'), 1577836800, 1577836800)
    symlinkSync('hosts', join(etc, 'link'))
    symlinkSync(LONG_LINK, join(etc, 'far'))
    for (let i = 0; i < 300; i++) writeFileSync(join(etc, 'many', `entry-with-a-long-name-${i}`), String(i))
    sh('truncate', ['-s', String(3 * MiB), join(etc, 'holey')])
    sh('dd', ['if=/dev/urandom', `of=${join(etc, 'holey')}`, 'bs=4096', 'count=1', 'seek=300', 'conv=notrunc', 'status=none'])
    sh('fallocate', ['-l', String(MiB), join(etc, 'prealloc')])
    // Deleted: its 8 MiB stay on the disk in free blocks, which the image skips by default.
    writeRandom(join(mnt, '1', 'gone'), 8 * MiB)
    sh('sync', [])
    rmSync(join(mnt, '1', 'gone'))
    writeRandom(join(work, 'photo.jpg'), 8 * MiB)
    sh('mcopy', ['-i', `${disk}p2`, join(work, 'photo.jpg'), '::/photo.jpg'])
    repo = await createStore(join(work, 'store'))
  })
  after(async () => {
    for (const m of [...mounts].reverse()) try { sh('umount', [m]) } catch {}
    for (const l of loops) try { sh('losetup', ['-d', l]) } catch {}
    await repo?.close()
    removeDir(work)
  })

  test('a device mounted read-write is refused, and nothing is stored', async () => {
    const before = (await repo.snapshots()).length
    await assert.rejects(repo.backupImage({ device: disk }), (err: Error) => err instanceof DeviceInUseError && /mounted read-write at .*--crash-consistent/.test(err.message))
    assert.equal((await repo.snapshots()).length, before)
    sh('sync', [])
    umount(join(mnt, '1'))
  })

  test('the first image records the partition table and stores about the data, not the zeros', async () => {
    first = await repo.backupImage({ device: disk, task: 'disk' })
    const m = await repo.imageManifest(first.id)
    assert.ok(m !== undefined)
    assert.equal(m.table?.label, 'gpt')
    assert.equal(m.size, 256 * MiB)
    assert.equal(m.consistency, 'unmounted')
    assert.deepEqual(m.partitions.map(p => [p.number, p.name, p.fsType, p.fsLabel, p.size]), [[1, 'system', 'ext4', 'sysfs', 120 * MiB], [2, 'data', 'vfat', 'DATA', m.partitions[1].size]])
    assert.deepEqual(m.regions.map(r => r.name), ['table-head.img', 'partition-1.img', 'partition-2.img', 'table-tail.img'])
    assert.equal(m.regions.reduce((n, r) => n + r.size, 0), m.size)
    // 36 MiB of random files plus file system metadata; the ~220 MiB of zeros cost one chunk,
    // and the deleted file's 8 MiB in free blocks are neither read nor stored.
    assert.ok(first.stats.bytesNew > 36 * MiB && first.stats.bytesNew < 42 * MiB, `stored ${first.stats.bytesNew} bytes`)
    const skipped = m.partitions[0].unusedSkipped
    assert.equal(skipped?.by, 'ext4 block bitmap (dumpe2fs)')
    assert.ok((skipped?.bytes ?? 0) > 72 * MiB, `skipped ${skipped?.bytes} bytes`)
    assert.equal(m.partitions[1].unusedSkipped, undefined)
    assert.equal(first.stats.bytesRead, 256 * MiB - (skipped?.bytes ?? 0))
  })

  test('a device that shrinks mid-backup: a clear error, no snapshot recorded, the store checks clean', async () => {
    // Its backing file is cut and the loop device told its new size (losetup -c) while the
    // backup is held after its first 8 MiB (CAIRN_TEST_IMAGE_HOLD, a test-only hold).
    const file = join(work, 'vanish.img')
    writeRandom(file, 32 * MiB)
    const dev = loop(file)
    loops.push(dev)
    const before = (await repo.snapshots()).map(s => s.id)
    const hold = join(work, 'vanish.hold')
    process.env.CAIRN_TEST_IMAGE_HOLD = `${8 * MiB}:${hold}`
    try {
      let settled = false
      const backup = repo.backupImage({ device: dev, task: 'vanish' }).finally(() => { settled = true })
      backup.catch(() => {})
      while (!existsSync(hold) && !settled) await new Promise(resolve => setTimeout(resolve, 20))
      assert.ok(existsSync(hold), 'the backup did not reach its hold')
      sh('truncate', ['-s', String(16 * MiB), file])
      sh('losetup', ['-c', dev])
      rmSync(hold)
      await assert.rejects(backup, (err: Error) => err instanceof ImageSourceVanishedError &&
        /ended at byte 16777216 of the 33554432 it had when the backup began: it vanished, shrank or failed during the backup\. No snapshot was recorded/.test(err.message))
    } finally {
      delete process.env.CAIRN_TEST_IMAGE_HOLD
    }
    assert.deepEqual((await repo.snapshots()).map(s => s.id), before)
    assert.deepEqual((await repo.check({ readData: true })).errors, [])
  })

  test('with everyBlock, free blocks are read too: restored byte for byte, the deleted file included', async () => {
    const all = await repo.backupImage({ device: disk, task: 'every', everyBlock: true })
    const m = await repo.imageManifest(all.id)
    assert.equal(m?.partitions[0].unusedSkipped, undefined)
    assert.equal(all.stats.bytesRead, 256 * MiB)
    const file = join(work, 'every.img')
    await repo.restoreImage({ snapshot: all.id, target: file })
    sh('cmp', [disk, file])
  })

  test('a second image after a small change stores about the change', async () => {
    mount(`${disk}p1`, join(mnt, '1'))
    writeRandom(join(mnt, '1', 'new'), 2 * MiB)
    umount(join(mnt, '1'))
    writeRandom(join(work, 'note.txt'), 1 * MiB)
    sh('mcopy', ['-i', `${disk}p2`, join(work, 'note.txt'), '::/note.txt'])
    second = await repo.backupImage({ device: disk, task: 'disk' })
    // 3 MiB of new data; the rest is the file systems' metadata and journal (64 KiB chunks).
    assert.ok(second.stats.bytesNew >= 3 * MiB && second.stats.bytesNew < 8 * MiB, `stored ${second.stats.bytesNew} bytes for a 3 MiB change`)
  })

  test('files of the ext4 partition are listed and restored from the stored chunks, without restoring the partition', async () => {
    const top = await repo.imageLs({ snapshot: second.id, partition: 1 })
    assert.deepEqual(top.map(e => [e.name, e.kind]), [['big', 'file'], ['etc', 'dir'], ['keep', 'file'], ['lost+found', 'dir'], ['new', 'file']])
    assert.equal(top[0].size, 24 * MiB)
    const etc = await repo.imageLs({ snapshot: second.id, partition: 1, path: '/etc' })
    assert.deepEqual(etc.map(e => e.name), ['far', 'holey', 'hosts', 'link', 'many', 'prealloc'])
    assert.equal((await repo.imageLs({ snapshot: second.id, partition: 1, path: '/etc/many' })).length, 300)
    const out = join(work, 'got')
    const r = await repo.imageGet({ snapshot: second.id, partition: 1, paths: ['/big', '/etc'], target: out })
    assert.deepEqual([r.files, r.dirs, r.symlinks, r.warnings], [304, 2, 2, []])
    assert.equal(fileHash(join(out, 'big')), bigHash)
    assert.equal(readFileSync(join(out, 'etc', 'hosts'), 'utf8'), '127.0.0.1 localhost\n')
    assert.equal(statSync(join(out, 'etc', 'hosts')).mode & 0o7777, 0o640)
    assert.equal(statSync(join(out, 'etc', 'hosts')).mtimeMs, 1577836800_000)
    assert.equal(readlinkSync(join(out, 'etc', 'link')), 'hosts')
    assert.equal(readlinkSync(join(out, 'etc', 'far')), LONG_LINK)
    assert.equal(readFileSync(join(out, 'etc', 'many', 'entry-with-a-long-name-299'), 'utf8'), '299')
    const holey = readFileSync(join(out, 'etc', 'holey'))
    assert.equal(holey.length, 3 * MiB)
    assert.ok(holey.subarray(0, 300 * 4096).every(b => b === 0) && !holey.subarray(300 * 4096, 301 * 4096).every(b => b === 0))
    assert.deepEqual(readFileSync(join(out, 'etc', 'prealloc')), Buffer.alloc(MiB))
    // Nothing is overwritten; a FAT partition and a missing path get clear errors.
    await assert.rejects(repo.imageGet({ snapshot: second.id, partition: 1, paths: ['/keep', '/big'], target: out }), /big exists; restore into an empty folder/)
    await assert.rejects(repo.imageLs({ snapshot: second.id, partition: 2 }), /partition 2 holds vfat; only ext4/)
    await assert.rejects(repo.imageLs({ snapshot: second.id, partition: 1, path: '/nope' }), PathNotFoundError)
  })

  test('restored onto another loop device: identical bytes, and both partitions mount with the files', async () => {
    // The target holds other data: the image's zero regions must come back as zeros.
    writeRandom(join(work, 'copy.img'), 300 * MiB)
    const copy = loop(join(work, 'copy.img'))
    loops.push(copy)
    const r = await repo.restoreImage({ snapshot: second.id, target: copy, readBack: true })
    assert.equal(r.verified, 'read back')
    assert.equal(r.bytes, 256 * MiB)
    assert.deepEqual(r.warnings, [])
    // A loop device zeroes ranges itself (BLKZEROOUT): only the chunks with data are written.
    assert.equal(r.zeros, 'zeroed by the device (BLKZEROOUT)')
    assert.ok(r.bytesWritten < 64 * MiB, `wrote ${r.bytesWritten} bytes`)
    // Partition 2 (FAT) and the tables byte for byte; in partition 1 the free blocks were
    // recorded as zeros (the source still holds the deleted file there), so it is checked
    // by fsck and its files.
    const m = await repo.imageManifest(second.id)
    const [p1, p2] = m?.partitions ?? []
    sh('cmp', ['-n', String(p1.offset), disk, copy])
    sh('cmp', ['-i', String(p2.offset), '-n', String(256 * MiB - p2.offset), disk, copy])
    sh('fsck.ext4', ['-fn', `${copy}p1`])
    mount(`${copy}p1`, join(work, 'r1'))
    mount(`${disk}p1`, join(mnt, '1'))
    assert.equal(fileHash(join(work, 'r1', 'new')), fileHash(join(mnt, '1', 'new')))
    assert.equal(fileHash(join(work, 'r1', 'big')), fileHash(join(mnt, '1', 'big')))
    sh('fsck.vfat', ['-n', `${copy}p2`])
    sh('mcopy', ['-i', `${copy}p2`, '::/note.txt', join(work, 'note-restored.txt')])
    assert.equal(fileHash(join(work, 'note-restored.txt')), fileHash(join(work, 'note.txt')))
  })

  test('a mounted target, a too-small target and a snapshot of files are refused, the target unchanged', async () => {
    // The source's first partition is mounted (previous test).
    await assert.rejects(repo.restoreImage({ snapshot: second.id, target: disk }), DeviceInUseError)
    const small = join(work, 'small.img')
    writeFileSync(small, Buffer.alloc(MiB, 7))
    const hash = fileHash(small)
    await assert.rejects(repo.restoreImage({ snapshot: second.id, target: small }), ImageTargetTooSmallError)
    assert.equal(fileHash(small), hash)
    const src = join(work, 'files')
    mkdirSync(src)
    writeFileSync(join(src, 'a'), 'a')
    const files = await repo.backup({ paths: [src] })
    await assert.rejects(repo.restoreImage({ snapshot: files.id, target: small }), NotADiskImageError)
    assert.equal(fileHash(small), hash)
  })

  test('one partition restored into an existing partition of another disk; too small or mounted refused, unchanged', async () => {
    // Another disk with its own table: a 60 MiB partition (too small for the 120 MiB one) and a 130 MiB one.
    const other = loop(join(work, 'other.img'), 256 * MiB)
    loops.push(other)
    sh('sgdisk', ['-n1:2048:+60M', '-n2:0:+130M', other])
    sh('partx', ['-u', other])
    const table = sh('sfdisk', ['--dump', other])
    sh('dd', ['if=/dev/urandom', `of=${other}p1`, 'bs=1M', 'count=60', 'status=none'])
    const smallHash = fileHash(`${other}p1`)
    await assert.rejects(repo.restoreImage({ snapshot: second.id, target: `${other}p1`, partition: 1 }),
      (err: Error) => err instanceof ImageTargetTooSmallError && /holds 62914560 bytes; the image needs 125829120\. Nothing was written/.test(err.message))
    assert.equal(fileHash(`${other}p1`), smallHash)
    sh('mkfs.ext4', ['-q', `${other}p2`])
    mount(`${other}p2`, join(work, 'o2'))
    await assert.rejects(repo.restoreImage({ snapshot: second.id, target: `${other}p2`, partition: 1 }), DeviceInUseError)
    umount(join(work, 'o2'))
    await assert.rejects(repo.restoreImage({ snapshot: second.id, target: `${other}p2`, partition: 7 }), /the image has no partition 7; it has 1, 2/)
    const r = await repo.restoreImage({ snapshot: second.id, target: `${other}p2`, partition: 1, readBack: true })
    assert.deepEqual([r.partition, r.bytes, r.verified, r.warnings], [1, 120 * MiB, 'read back', []])
    const m = await repo.imageManifest(second.id)
    assert.equal(r.sha256, m?.partitions[0].sha256)
    // The other disk's table and first partition are as they were; its second holds the file system.
    assert.equal(sh('sfdisk', ['--dump', other]), table)
    assert.equal(fileHash(`${other}p1`), smallHash)
    sh('fsck.ext4', ['-fn', `${other}p2`])
    mount(`${other}p2`, join(work, 'o2'))
    assert.equal(fileHash(join(work, 'o2', 'new')), fileHash(join(mnt, '1', 'new')))
    umount(join(work, 'o2'))
  })

  test('restored over an existing image file full of other data: zero regions punched, identical bytes', async () => {
    const file = join(work, 'old.img')
    writeRandom(file, 260 * MiB)
    const r = await repo.restoreImage({ snapshot: second.id, target: file })
    assert.equal(r.zeros, 'punched into a hole')
    assert.ok(r.bytesWritten < 64 * MiB, `wrote ${r.bytesWritten} bytes`)
    // The file keeps its length; its first 256 MiB are the image, byte for byte.
    assert.equal(statSync(file).size, 260 * MiB)
    const m = await repo.imageManifest(second.id)
    assert.equal(execFileSync('sh', ['-c', `head -c ${256 * MiB} "$0" | sha256sum`, file], { encoding: 'utf8' }).slice(0, 64), m?.sha256)
  })

  test('restored into a new image file: sparse where the disk was zeros, same SHA-256', async () => {
    const file = join(work, 'restored.img')
    const r = await repo.restoreImage({ snapshot: first.id, target: file })
    const m = await repo.imageManifest(first.id)
    assert.equal(r.sha256, m?.sha256)
    assert.ok(r.bytesWritten < 64 * MiB, `wrote ${r.bytesWritten} bytes`)
    assert.equal(sh('sfdisk', ['--json', file]).includes('"label": "gpt"'), true)
  })
})

test('a region over 1 GiB is stored as pieces that cover it in order', () => {
  const work = tempDir()
  try {
    const file = join(work, 'big.img')
    writeFileSync(file, '')
    execFileSync('truncate', ['-s', String(2.5 * 2 ** 30), file])
    const d = describeImage(file)
    assert.equal(d.table, null)
    assert.deepEqual(d.regions, [
      { name: 'whole.img.000', offset: 0, size: IMAGE_PIECE },
      { name: 'whole.img.001', offset: IMAGE_PIECE, size: IMAGE_PIECE },
      { name: 'whole.img.002', offset: 2 * IMAGE_PIECE, size: 0.5 * 2 ** 30 }
    ])
  } finally {
    removeDir(work)
  }
})
