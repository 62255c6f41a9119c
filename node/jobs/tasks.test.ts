// Task lifecycle (F15, F17, manual 2.2): create rules, start, monitor, stop, edit and delete rules,
// history, against a running daemon with real stores.
import test from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { finished, jobGate, spaceFor, startTestDaemon, withUsers } from '../testing/index.ts'

async function sourceTree (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-src-'))
  await mkdir(join(dir, 'docs'))
  await writeFile(join(dir, 'docs', 'a.txt'), 'alpha\n'.repeat(1000))
  await writeFile(join(dir, 'b.bin'), Buffer.alloc(200_000, 7))
  return dir
}

test('task create rules, start/monitor/stop, edit and delete only when idle, history', async () => {
  const gate = jobGate()
  const t = await startTestDaemon({ jobs: { beforeJob: gate.beforeJob } })
  const src = await sourceTree()
  try {
    const { admin, operator, operatorId } = await withUsers(t)
    const { nodeId, spaceId } = await spaceFor(t, admin, operatorId)
    const base = { nodeId, spaceId, sources: { include: [src], exclude: ['*.tmp'] } }

    assert.equal((await operator.post('/api/tasks', { ...base, name: 'ab' })).status, 400, 'name shorter than 3')
    assert.equal((await operator.post('/api/tasks', { ...base, name: 'x'.repeat(65) })).status, 400, 'name longer than 64')
    const created = await operator.post('/api/tasks', { ...base, name: 'Backup-docs', options: { compression: 3, retention: { mode: 'policy', copies: 2 } } })
    assert.equal(created.status, 201, created.text)
    const task = created.body
    assert.equal(task.status, 'idle')
    assert.equal(task.options.encryption, true)
    const dup = await operator.post('/api/tasks', { ...base, name: 'backup-DOCS' })
    assert.equal(dup.status, 409)
    assert.equal(dup.body.name, 'NameTakenError')
    assert.equal((await operator.post('/api/tasks', { ...base, name: 'no-sources', sources: { include: [] } })).body.name, 'TaskInvalidError')
    assert.equal((await operator.post('/api/tasks', { ...base, name: 'sched-none', mode: 'scheduled' })).body.name, 'TaskInvalidError')

    gate.hold()
    const started = await operator.post(`/api/tasks/${task.id}/start`, { level: 'full', remark: 'first run' })
    assert.equal(started.status, 202)
    const job = started.body
    assert.equal(job.status, 'running')
    assert.equal((await operator.get(`/api/tasks/${task.id}`)).body.status, 'running')
    assert.equal((await operator.post(`/api/tasks/${task.id}/start`, {})).body.name, 'TaskRunningError', 'one run per task at a time')
    const edit = await operator.patch(`/api/tasks/${task.id}`, { options: { compression: 5 } })
    assert.equal(edit.status, 409)
    assert.equal(edit.body.name, 'TaskRunningError')
    assert.equal((await operator.del(`/api/tasks/${task.id}`, { confirm: 'YES' })).body.name, 'TaskRunningError')
    assert.equal((await operator.get('/api/jobs/running')).body.length, 1)
    gate.release()
    const done = await finished(t, operator, job.id)
    assert.equal(done.status, 'success', JSON.stringify(done))
    assert.ok(done.snapshotId)
    assert.equal(done.result.files, 2)
    assert.equal(done.level, 'full')
    assert.equal(done.remark, 'first run')
    assert.ok(done.durationMs >= 0)
    const log = await operator.get(`/api/jobs/${job.id}/log`)
    assert.ok(log.body.some((l: { message: string }) => /Snapshot /.test(l.message)))

    // Stop: the job ends "stopped" and what it wrote is reclaimed.
    gate.hold()
    const second = (await operator.post(`/api/tasks/${task.id}/start`, { level: 'incremental' })).body
    const stop = operator.post(`/api/jobs/${second.id}/stop`)
    const stopped = await stop
    assert.equal(stopped.status, 200)
    gate.release()
    assert.equal((await finished(t, operator, second.id)).status, 'stopped')
    assert.equal((await operator.post(`/api/jobs/${second.id}/stop`)).body.name, 'JobNotRunningError')

    // Edit while idle; history; copies.
    const edited = await operator.patch(`/api/tasks/${task.id}`, { options: { compression: 5 }, sources: { include: [src], exclude: [] } })
    assert.equal(edited.status, 200)
    assert.equal(edited.body.options.compression, 5)
    assert.equal(edited.body.options.retention.copies, 2, 'options not named stay')
    const history = await operator.get(`/api/jobs?taskId=${task.id}&type=backup`)
    assert.equal(history.body.total, 2)
    assert.deepEqual(history.body.items.map((j: { status: string }) => j.status), ['stopped', 'success'])
    const snaps = await operator.get(`/api/spaces/${spaceId}/snapshots?taskId=${task.id}`)
    assert.equal(snaps.body.length, 1)
    const entries = await operator.get(`/api/spaces/${spaceId}/snapshots/${snaps.body[0].id}/entries`)
    assert.ok(entries.body.entries.some((e: { path: string }) => e.path.endsWith('/docs/a.txt')))
    const data = await operator.get('/api/data/tasks')
    assert.equal(data.body[0].copies, 1)
    assert.equal(data.body[0].runs, 2)

    // Delete: confirmation word, then YES.
    const wrong = await operator.del(`/api/tasks/${task.id}`, { confirm: 'yes' })
    assert.equal(wrong.status, 400)
    assert.equal(wrong.body.name, 'ConfirmationRequiredError')
    assert.equal((await operator.del(`/api/tasks/${task.id}`, { confirm: 'YES' })).status, 200)
    assert.equal((await operator.get(`/api/tasks/${task.id}`)).status, 404)
  } finally {
    gate.release()
    await t.close()
    await rm(src, { recursive: true, force: true })
  }
})

test('retention by copies keeps the newest copies after each backup, never the last one (F18)', async () => {
  const t = await startTestDaemon()
  const src = await sourceTree()
  try {
    const { admin, operator, operatorId } = await withUsers(t)
    const { nodeId, spaceId } = await spaceFor(t, admin, operatorId)
    const task = (await operator.post('/api/tasks', { name: 'keep-two', nodeId, spaceId, sources: { include: [src] }, options: { retention: { mode: 'policy', copies: 2 } } })).body
    const all = await fetch(`${t.daemon.url}/api/jobs/events`, { headers: { cookie: operator.cookie! } })
    const reader = all.body!.getReader()
    for (let i = 0; i < 3; i++) {
      await writeFile(join(src, `run${i}.txt`), `run ${i}`)
      const job = await operator.post(`/api/tasks/${task.id}/start`, { level: 'incremental' })
      assert.equal((await finished(t, operator, job.body.id)).status, 'success')
    }
    const snaps = (await operator.get(`/api/spaces/${spaceId}/snapshots?taskId=${task.id}`)).body
    assert.equal(snaps.length, 2)
    const jobs = (await operator.get(`/api/jobs?taskId=${task.id}`)).body.items
    assert.deepEqual(snaps.map((s: { id: string }) => s.id), jobs.slice(0, 2).reverse().map((j: { snapshotId: string }) => j.snapshotId), 'the two newest stay')

    let text = ''
    while ((text.match(/^event: end$/gm) ?? []).length < 3) {
      const { value, done } = await reader.read()
      if (done) break
      text += Buffer.from(value).toString()
    }
    await reader.cancel()
    assert.match(text, /^event: running$/m)
    assert.equal((text.match(/^event: end$/gm) ?? []).length, 3, 'the monitor stream carries every job of mine')
  } finally {
    await t.close()
    await rm(src, { recursive: true, force: true })
  }
})
