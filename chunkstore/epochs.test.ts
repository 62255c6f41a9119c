// The epoch rule (epochs.ts) on a real store: a prune waits for backups that began before it
// and never for anything else, and frees what no snapshot and no running backup references.
import test, { after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { Epochs } from './epochs.ts'
import { OperationAbortedError } from '../crypto/index.ts'
import { createStore, removeDir, tempDir, writeRandom } from './testing/index.ts'

const dirs: string[] = []
after(() => { for (const d of dirs) removeDir(d) })

test('drained waits only for leases older than the epoch it names, of the kinds it names', async () => {
  const e = new Epochs()
  const oldRead = e.enter('read')
  const oldWrite = e.enter('write')
  const mark = e.advance()
  const newWrite = e.enter('write')
  let writersGone = false
  const writers = e.drained(mark, ['write']).then(() => { writersGone = true })
  let allGone = false
  const all = e.drained(mark).then(() => { allGone = true })
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(writersGone, false)
  oldWrite.leave()
  await writers
  assert.equal(allGone, false, 'an older reader is still live')
  oldRead.leave()
  oldRead.leave() // leaving twice changes nothing
  await all
  assert.equal(e.count(mark), 0)
  assert.equal(e.count(e.advance()), 1, 'the newer writer is still counted for a later epoch')
  newWrite.leave()
  const controller = new AbortController()
  e.enter('read')
  const aborted = e.drained(e.advance(), ['read'], controller.signal)
  controller.abort(new Error('stop'))
  await assert.rejects(aborted, (err: Error) => err instanceof OperationAbortedError && (err.cause as Error).message === 'stop')
})

test('a prune waits for a backup that deduplicated before it began, and keeps what that backup references', async () => {
  const dir = tempDir('cairn-epochs-')
  dirs.push(dir)
  const repo = await createStore(join(dir, 'store'))
  try {
    mkdirSync(join(dir, 'x')); mkdirSync(join(dir, 'y'))
    writeRandom(join(dir, 'x', 'kept'), 1 << 20)
    writeRandom(join(dir, 'y', 'f'), 3 << 20)
    await repo.backup({ paths: [join(dir, 'x')], task: 'x' })
    const old = await repo.backup({ paths: [join(dir, 'y')], task: 'y' })
    // y's only snapshot is forgotten: its chunks are unreferenced, still in the dedup index.
    await repo.forgetSnapshots([old.id], { force: true })

    // A backup of the same data finds those chunks (deduplicates against them), then pauses.
    let release!: () => void
    const gate = new Promise<void>(resolve => { release = resolve })
    let paused!: () => void
    const deduplicated = new Promise<void>(resolve => { paused = resolve })
    const early = repo.backup({ paths: [join(dir, 'y')], task: 'y2', level: 'full', pace: async () => { paused(); await gate } })
    await deduplicated

    let pruned = false
    const prune = repo.prune().then(r => { pruned = true; return r })
    // A prune of this small store takes milliseconds; this one must still be waiting for the early backup.
    await new Promise(resolve => setTimeout(resolve, 500))
    assert.equal(pruned, false, 'the prune waits while a backup older than it runs')
    // Backups that begin while the prune runs wait for nothing.
    await repo.backup({ paths: [join(dir, 'x')], task: 'x' })
    release()
    const snap = await early
    await prune
    assert.equal(snap.stats.chunksNew, 0, 'the early backup deduplicated every chunk')
    assert.deepEqual((await repo.check({ readData: true })).errors, [], 'no block the early backup references was freed')

    // Forgotten with no backup running: now they go.
    await repo.forgetSnapshots([snap.id], { force: true })
    assert.ok((await repo.prune()).blocksRemoved > 0)
    assert.deepEqual((await repo.check({ readData: true })).errors, [])
  } finally {
    await repo.close()
  }
})
