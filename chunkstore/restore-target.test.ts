// Where a restore may write (issue 13, H1): kernel file systems are refused before anything is
// written, whatever the path is called; folders are made one by one (Node's recursive mkdir never
// returns under /proc/self/fd, which hung the daemon); a symbolic link inside the target that
// leads outside it is not followed.
import test, { after, before } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { LocalRepository, SnapshotRecord } from './index.ts'
import { checkRestoreTarget } from './index.ts'
import { createStore, removeDir, tempDir } from './testing/fixtures.ts'

let work: string
let repo: LocalRepository
let snap: SnapshotRecord
let src: string

before(async () => {
  work = tempDir()
  src = join(work, 'src')
  mkdirSync(join(src, 'sub', 'deeper'), { recursive: true })
  writeFileSync(join(src, 'sub', 'deeper', 'f.txt'), 'restore me\n')
  repo = await createStore(join(work, 'store'))
  snap = await repo.backup({ paths: [src] })
})
after(async () => {
  await repo?.close()
  removeDir(work)
})

test('a restore to /proc/self/fd is refused at once instead of hanging the process', async () => {
  await assert.rejects(repo.restore({ snapshot: snap.id, target: '/proc/self/fd' }), { name: 'RestoreTargetRefusedError', message: /\/proc/ })
  await assert.rejects(repo.restore({ snapshot: snap.id, target: '/proc/self/fd/nested/deeper' }), { name: 'RestoreTargetRefusedError' })
})

test('kernel file systems are refused by their statfs type and mount type, also behind a symbolic link', async () => {
  for (const target of ['/sys/kernel/cairn', '/dev/cairn-restore', '/dev/shm/cairn-restore', '/proc']) {
    assert.throws(() => checkRestoreTarget(target), { name: 'RestoreTargetRefusedError' }, target)
  }
  // A harmless name that leads to /proc: the check reads the file system, not the name given.
  const disguised = join(work, 'innocent-folder')
  symlinkSync('/proc/self', disguised)
  await assert.rejects(repo.restore({ snapshot: snap.id, target: join(disguised, 'fd', 'x') }), { name: 'RestoreTargetRefusedError', message: /proc/ })
  assert.ok(!existsSync('/dev/cairn-restore'))
})

test('missing folders of the target are made one by one, and the restore completes', async () => {
  const target = join(work, 'out', 'a', 'b', 'c')
  const r = await repo.restore({ snapshot: snap.id, target })
  assert.equal(r.files, 1)
  assert.equal(readFileSync(join(target, src, 'sub', 'deeper', 'f.txt'), 'utf8'), 'restore me\n')
  assert.deepEqual(checkRestoreTarget(join(work, 'out', 'new')).missing, [join(work, 'out', 'new')])
})

test('a symbolic link inside the target is followed only while it stays inside the target', async () => {
  const outside = join(work, 'outside')
  mkdirSync(outside)
  const escape = join(work, 'escape')
  mkdirSync(join(escape, work), { recursive: true })
  symlinkSync(outside, join(escape, src))
  await assert.rejects(repo.restore({ snapshot: snap.id, target: escape }), { name: 'RestoreTargetRefusedError', message: /outside the restore target/ })
  assert.ok(!existsSync(join(outside, 'sub')), 'nothing was written through the link')

  const within = join(work, 'within')
  mkdirSync(join(within, work, 'real-src'), { recursive: true })
  symlinkSync(join(within, work, 'real-src'), join(within, src))
  await repo.restore({ snapshot: snap.id, target: within })
  assert.equal(readFileSync(join(within, work, 'real-src', 'sub', 'deeper', 'f.txt'), 'utf8'), 'restore me\n')
})
