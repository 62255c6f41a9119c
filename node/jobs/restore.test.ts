// Restore with each conflict mode (F7), DR drills that pass and that catch a corrupted chunk (F8),
// and cleaning copies (F19) — real stores, real HTTP.
import test from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile, readFile, readdir, utimes, mkdir, open, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { finished, spaceFor, startTestDaemon, withUsers, type TestDaemon, type ApiClient } from '../testing/index.ts'

async function backedUp (t: TestDaemon, name: string): Promise<{ operator: ApiClient, admin: ApiClient, src: string, taskId: string, spaceId: string, nodeId: string }> {
  const { admin, operator, operatorId } = await withUsers(t)
  const { nodeId, spaceId } = await spaceFor(t, admin, operatorId)
  const src = await mkdtemp(join(tmpdir(), 'cairn-src-'))
  await writeFile(join(src, 'f1.txt'), 'one')
  await writeFile(join(src, 'f2.txt'), 'two')
  await writeFile(join(src, 'big.bin'), Buffer.alloc(300_000, 3))
  const task = await operator.post('/api/tasks', { name, nodeId, spaceId, sources: { include: [src] } })
  const job = await operator.post(`/api/tasks/${task.body.id}/start`, { level: 'full' })
  assert.equal((await finished(t, operator, job.body.id)).status, 'success')
  return { operator, admin, src, taskId: task.body.id, spaceId, nodeId }
}

test('restore to a redirect path with each conflict mode: overwrite, skip, keep-newer', async () => {
  const t = await startTestDaemon()
  const target = await mkdtemp(join(tmpdir(), 'cairn-target-'))
  let src = ''
  try {
    const b = await backedUp(t, 'restore-modes')
    src = b.src
    const at = (f: string): string => join(target, src, f)
    const restore = async (conflict: string): Promise<any> => {
      const r = await b.operator.post('/api/restores', { spaceId: b.spaceId, taskId: b.taskId, snapshot: 'latest', targetPath: target, conflict })
      assert.equal(r.status, 202, r.text)
      return await finished(t, b.operator, r.body.id)
    }

    const first = await restore('overwrite')
    assert.equal(first.status, 'success', JSON.stringify(first))
    assert.equal(await readFile(at('f1.txt'), 'utf8'), 'one')

    await writeFile(at('f1.txt'), 'local change')
    assert.equal((await restore('overwrite')).status, 'success')
    assert.equal(await readFile(at('f1.txt'), 'utf8'), 'one', 'overwrite replaces the existing file')

    await writeFile(at('f1.txt'), 'local change')
    const skipped = await restore('skip')
    assert.equal(await readFile(at('f1.txt'), 'utf8'), 'local change', 'skip keeps the existing file')
    assert.ok(skipped.result.skipped >= 1)

    await writeFile(at('f1.txt'), 'newer local')
    const future = new Date(Date.now() + 3600_000)
    await utimes(at('f1.txt'), future, future)
    await writeFile(at('f2.txt'), 'older local')
    await utimes(at('f2.txt'), new Date('2001-01-01'), new Date('2001-01-01'))
    assert.equal((await restore('keep-newer')).status, 'success')
    assert.equal(await readFile(at('f1.txt'), 'utf8'), 'newer local', 'keep-newer keeps a newer existing file')
    assert.equal(await readFile(at('f2.txt'), 'utf8'), 'two', 'keep-newer replaces an older existing file')

    const partial = await mkdtemp(join(tmpdir(), 'cairn-partial-'))
    const r = await b.operator.post('/api/restores', { spaceId: b.spaceId, taskId: b.taskId, snapshot: 'latest', paths: [join(src, 'f2.txt')], targetPath: partial, conflict: 'overwrite' })
    assert.equal((await finished(t, b.operator, r.body.id)).status, 'success')
    assert.deepEqual(await readdir(join(partial, src)), ['f2.txt'], 'only the chosen path')
    await rm(partial, { recursive: true, force: true })

    const bad = await b.operator.post('/api/restores', { spaceId: b.spaceId, taskId: b.taskId, snapshot: 'latest', targetPath: 'relative/path', conflict: 'overwrite' })
    assert.equal(bad.status, 400)
    assert.equal((await b.operator.post('/api/restores', { spaceId: b.spaceId, taskId: b.taskId, snapshot: 'latest', conflict: 'merge' })).status, 400)
  } finally {
    await t.close()
    await rm(target, { recursive: true, force: true })
    if (src !== '') await rm(src, { recursive: true, force: true })
  }
})

test('a DR drill passes on a sound store and fails, with an alert, on a corrupted chunk', async () => {
  const t = await startTestDaemon()
  let src = ''
  try {
    const b = await backedUp(t, 'drill-me')
    src = b.src
    const ok = await b.operator.post(`/api/tasks/${b.taskId}/drill`)
    assert.equal(ok.status, 202)
    const passed = await finished(t, b.operator, ok.body.id)
    assert.equal(passed.status, 'success', JSON.stringify(passed))
    assert.equal(passed.result.passed, true)
    assert.ok(passed.result.entries >= 3)
    assert.ok(passed.result.blocksChecked > 0)

    // Flip bytes in the middle of every segment file: sealed chunks no longer authenticate.
    const segments = join(t.dir, 'spaces', b.spaceId, 'segments')
    for (const f of await readdir(segments, { recursive: true })) {
      const p = join(segments, String(f))
      if (!(await stat(p)).isFile()) continue
      const size = (await stat(p)).size
      if (size < 64) continue
      const fh = await open(p, 'r+')
      await fh.write(Buffer.alloc(32, 0xff), 0, 32, Math.floor(size / 2))
      await fh.close()
    }
    const again = await b.operator.post(`/api/tasks/${b.taskId}/drill`)
    const failed = await finished(t, b.operator, again.body.id)
    assert.equal(failed.status, 'failed', JSON.stringify(failed))
    assert.equal(failed.result?.passed ?? false, false)
    const alerts = await b.operator.get('/api/logs?type=alert&level=error')
    assert.ok(alerts.body.items.some((e: { message: string }) => /Drill job/.test(e.message)), JSON.stringify(alerts.body))
    const drills = await b.operator.get('/api/drills')
    assert.deepEqual(drills.body.items.map((d: { passed: boolean }) => d.passed), [false, true])
  } finally {
    await t.close()
    if (src !== '') await rm(src, { recursive: true, force: true })
  }
})

test('cleaning copies needs re-authentication and removes them; leftover clean reclaims space', async () => {
  const t = await startTestDaemon()
  let src = ''
  try {
    const b = await backedUp(t, 'clean-me')
    src = b.src
    await mkdir(join(src, 'more'))
    await writeFile(join(src, 'more', 'c.bin'), Buffer.alloc(100_000, 9))
    const j2 = await b.operator.post(`/api/tasks/${b.taskId}/start`, { level: 'incremental' })
    assert.equal((await finished(t, b.operator, j2.body.id)).status, 'success')
    const snaps = (await b.operator.get(`/api/spaces/${b.spaceId}/snapshots?taskId=${b.taskId}`)).body
    assert.equal(snaps.length, 2)

    await t.clock.advance(6 * 60_000)
    const noReauth = await b.operator.post('/api/data/clean', { taskId: b.taskId, mode: 'snapshots', snapshots: [snaps[0].id] })
    assert.equal(noReauth.body.name, 'ReauthenticationRequiredError')
    await b.operator.post('/api/auth/reauth', { password: 'operator password 1' })
    const clean = await b.operator.post('/api/data/clean', { taskId: b.taskId, mode: 'snapshots', snapshots: [snaps[0].id], name: 'Clean-old-copy' })
    assert.equal(clean.status, 202, clean.text)
    const done = await finished(t, b.operator, clean.body.id)
    assert.equal(done.status, 'success', JSON.stringify(done))
    assert.equal(done.result.copies, 1)
    assert.equal((await b.operator.get(`/api/spaces/${b.spaceId}/snapshots?taskId=${b.taskId}`)).body.length, 1)

    const leftover = await b.operator.post('/api/data/clean', { taskId: b.taskId, mode: 'leftover' })
    assert.equal((await finished(t, b.operator, leftover.body.id)).status, 'success')
    const whole = await b.operator.post('/api/data/clean', { taskId: b.taskId, mode: 'task' })
    const w = await finished(t, b.operator, whole.body.id)
    assert.equal(w.result.copies, 1)
    assert.equal((await b.operator.get(`/api/spaces/${b.spaceId}/snapshots?taskId=${b.taskId}`)).body.length, 0)
    assert.ok(w.result.bytesFreed > 0, 'space is really reclaimed')
  } finally {
    await t.close()
    if (src !== '') await rm(src, { recursive: true, force: true })
  }
})
