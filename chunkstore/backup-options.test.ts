// Backup options the node's tasks pass down (issues 4 and 5): a bandwidth limit that paces
// reading (F12, backup traffic), and the exclusive-file option (manual 2.2.1: files another
// program holds open for writing are skipped unless it is on).
import test, { after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { once } from 'node:events'
import { createStore, removeDir, tempDir, writeRandom } from './testing/index.ts'
import { createLimiter } from './bandwidth.ts'

const MiB = 1 << 20
process.env.CAIRN_WORKERS ??= '1'
const dirs: string[] = []
after(() => { for (const d of dirs) removeDir(d) })
function work (): string { const d = tempDir(); dirs.push(d); return d }

test('pace sees every byte read, and a held pace stops reading until it is released', async () => {
  const w = work()
  const src = join(w, 'src')
  mkdirSync(src)
  writeRandom(join(src, 'big'), 48 * MiB)
  for (let i = 0; i < 20; i++) writeRandom(join(src, `small-${i}`), 10_000 + i)
  const repo = await createStore(join(w, 'store'))
  try {
    let paced = 0
    let calls = 0
    let release!: () => void
    const gate = new Promise<void>(resolve => { release = resolve })
    let firstCall!: () => void
    const called = new Promise<void>(resolve => { firstCall = resolve })
    let progressBytes = 0
    const backup = repo.backup({
      paths: [src],
      pace: async (bytes) => { calls++; paced += bytes; firstCall(); await gate },
      onProgress: ({ detail: p }) => { progressBytes = p.bytesRead }
    })
    let finished = false
    void backup.then(() => { finished = true }, () => { finished = true })
    await called
    // While the first batch is held, its worker reads at most its window of batches ahead
    // (3 in flight and the one it is submitting, 8 MiB each) and then waits: no file completes.
    await new Promise(resolve => setTimeout(resolve, 500))
    try {
      assert.equal(finished, false, 'the backup ran past a pace that had not resolved')
      assert.ok(calls <= 4, `${calls} batches asked to go on while the first was held`)
      assert.equal(progressBytes, 0)
    } finally { release() }
    const snap = await backup
    assert.equal(paced, snap.stats.bytesRead)
    assert.equal(snap.stats.bytesRead, 48 * MiB + 20 * 10_000 + 190)
    assert.ok(calls > 4, `${calls} batches: reading did not resume past the held window`)
  } finally { await repo.close() }
})

test('a bandwidth limit in force of 0 MiB/s holds the backup; aborting it ends it cleanly', async () => {
  const w = work()
  const src = join(w, 'src')
  mkdirSync(src)
  writeRandom(join(src, 'a'), 2 * MiB)
  const repo = await createStore(join(w, 'store'))
  try {
    // A window of 0 MiB/s covering the whole day: no traffic allowed.
    const limiter = createLimiter({ windows: [{ from: '00:00', to: '00:00', mibps: 0 }], defaultMibps: 0 })
    const controller = new AbortController()
    const backup = repo.backup({ paths: [src], pace: limiter.take, signal: controller.signal })
    setTimeout(() => controller.abort(), 500)
    await assert.rejects(backup, { name: 'OperationAbortedError' })
    assert.equal((await repo.snapshots()).length, 0)
    const again = await repo.backup({ paths: [src] })
    assert.equal(again.stats.bytesRead, 2 * MiB)
    assert.equal((await repo.check({ readData: true })).errors.length, 0)
  } finally { await repo.close() }
})

test('a backup stopped while it still reads the store (its parent) says the backup was stopped', async () => {
  const w = work()
  const src = join(w, 'src')
  mkdirSync(src)
  writeRandom(join(src, 'a'), 64 * 1024)
  const repo = await createStore(join(w, 'store'))
  try {
    await repo.backup({ paths: [src] })
    // Aborted before it starts: the first thing it does is read the snapshots to find its parent.
    await assert.rejects(repo.backup({ paths: [src], signal: AbortSignal.abort() }), (err: Error & { params?: { what?: string } }) => {
      assert.equal(err.name, 'OperationAbortedError')
      assert.equal(err.params?.what, 'The backup', err.message)
      return true
    })
    assert.equal((await repo.snapshots()).length, 1)
  } finally { await repo.close() }
})

test('a file another process has open for writing is skipped with a warning, or read when asked', async (t) => {
  if (process.platform !== 'linux') { t.diagnostic('needs /proc'); return }
  const w = work()
  const src = join(w, 'src')
  mkdirSync(src)
  writeFileSync(join(src, 'quiet.txt'), 'nobody writes me\n')
  const busy = join(src, 'busy.log')
  writeFileSync(busy, 'line 1\n')
  // A real other program holding the file open for appending, as a database or logger would.
  const holder = spawn(process.execPath, ['-e', `require('fs').openSync(${JSON.stringify(busy)}, 'a'); process.stdout.write('open\\n'); setInterval(() => {}, 1000)`], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => { holder.kill('SIGKILL') })
  await once(holder.stdout, 'data')
  const repo = await createStore(join(w, 'store'))
  try {
    const skipped = await repo.backup({ paths: [src], openFiles: 'skip', task: 'skip' })
    assert.equal(skipped.stats.files, 1)
    assert.equal(skipped.stats.warnings.length, 1)
    assert.match(skipped.stats.warnings[0], new RegExp(`busy\\.log: open for writing by another program \\(pid ${holder.pid}\\); skipped`))
    const names: string[] = []
    for await (const e of repo.ls(skipped.id, '/')) names.push(e.path)
    assert.ok(names.some(n => n.endsWith('quiet.txt')))
    assert.ok(!names.some(n => n.endsWith('busy.log')))

    const read = await repo.backup({ paths: [src], openFiles: 'read', task: 'read' })
    assert.equal(read.stats.files, 2)
    assert.deepEqual(read.stats.warnings, [])

    holder.kill('SIGKILL')
    await once(holder, 'exit')
    const after = await repo.backup({ paths: [src], openFiles: 'skip', task: 'skip' })
    assert.equal(after.stats.files, 2, 'once the writer is gone the file is backed up')
  } finally { await repo.close() }
})
