// Dedup scope and cipher per user space (F2, F4): "global" shares one store among its tasks, "task" gives each
// task its own store (no shared chunks); copies, restore-browsing and verify work in both.
import test from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile, readdir, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { finished, startTestDaemon, withUsers, TEST_ROOTS } from '../daemon/test-daemon.ts'

test('per-task dedup scope keeps one store per task; global scope shares one', async () => {
  const t = await startTestDaemon()
  const src = await mkdtemp(join(tmpdir(), 'cairn-src-'))
  try {
    await writeFile(join(src, 'same.bin'), Buffer.alloc(300_000, 5))
    const { admin, operator, operatorId } = await withUsers(t)
    const nodeId = (await admin.get('/api/nodes')).body[0].id
    await admin.patch(`/api/nodes/${nodeId}`, { ownerId: operatorId, roots: TEST_ROOTS })
    const perTask = (await admin.post('/api/spaces', { name: 'per-task', type: 'backup', nodeId, ownerId: operatorId, capacityBytes: 2 ** 30, dedupScope: 'task', cipher: 'sm4' })).body
    const global = (await admin.post('/api/spaces', { name: 'global', type: 'backup', nodeId, ownerId: operatorId, capacityBytes: 2 ** 30, cipher: 'aes-256-gcm' })).body
    assert.equal(global.dedupScope, 'global')

    const ids: Record<string, string[]> = { [perTask.id]: [], [global.id]: [] }
    for (const space of [perTask, global]) {
      for (const name of ['one', 'two']) {
        const task = (await operator.post('/api/tasks', { name: `${space.name}-${name}`, nodeId, spaceId: space.id, sources: { include: [src] } })).body
        ids[space.id].push(task.id)
        const job = await operator.post(`/api/tasks/${task.id}/start`, { level: 'full' })
        assert.equal((await finished(t, operator, job.body.id)).status, 'success')
      }
    }
    const perTaskDir = join(t.dir, 'spaces', perTask.id)
    assert.deepEqual((await readdir(join(perTaskDir, 'tasks'))).sort(), [...ids[perTask.id]].sort())
    assert.ok(!existsSync(join(perTaskDir, 'config.json')), 'no space-wide store')
    assert.ok(existsSync(join(t.dir, 'spaces', global.id, 'config.json')))
    assert.equal(JSON.parse(await readFile(join(t.dir, 'spaces', global.id, 'config.json'), 'utf8')).cipher, 'aes-256-gcm', 'the space\'s cipher is its store\'s (F4)')
    assert.equal(JSON.parse(await readFile(join(perTaskDir, 'tasks', ids[perTask.id][0], 'config.json'), 'utf8')).cipher, 'sm4')
    assert.ok(!existsSync(join(t.dir, 'spaces', global.id, 'tasks')))

    for (const space of [perTask, global]) {
      const all = (await operator.get(`/api/spaces/${space.id}/snapshots`)).body
      assert.equal(all.length, 2)
      const one = (await operator.get(`/api/spaces/${space.id}/snapshots?taskId=${ids[space.id][1]}`)).body
      assert.equal(one.length, 1)
      const entries = await operator.get(`/api/spaces/${space.id}/snapshots/${one[0].id}/entries`)
      assert.ok(entries.body.entries.some((e: { path: string }) => e.path.endsWith('same.bin')))
      const verify = await operator.post(`/api/spaces/${space.id}/verify`, {})
      const v = await finished(t, operator, verify.body.id)
      assert.equal(v.status, 'success')
      assert.equal(v.result.snapshots, 2)
    }
    const second = (await operator.get(`/api/spaces/${global.id}/snapshots`)).body[1]
    assert.equal(second.stats.chunksNew, 0, 'global scope: the second task stored no new chunks')
    const separate = (await operator.get(`/api/spaces/${perTask.id}/snapshots`)).body[1]
    assert.ok(separate.stats.chunksNew > 0, 'task scope: the second task stored its own chunks')

    const missing = await operator.get(`/api/spaces/${global.id}/snapshots/ffffffffffff/entries`)
    assert.equal(missing.status, 404)
    assert.equal(missing.body.name, 'SnapshotNotFoundError')
  } finally {
    await t.close()
    await rm(src, { recursive: true, force: true })
  }
})
