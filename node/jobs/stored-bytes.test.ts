// A task's stored size in the data table (issue 19): after the first of two copies is cleaned,
// the size is what the remaining copy's blocks occupy in the store, blocks it shares with the
// cleaned copy included. It used to be the sum of each remaining copy's newly stored bytes, which
// left out every block the cleaned copy had stored first (0 B for an unchanged second backup).
// Checked against an account of the store's blocks read with `cairn serve` stopped.
// test-suite: processes
import test from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ADMIN_PASSWORD, ApiClient, jobEnd, startServe, storeBlockSizes } from '../testing/index.ts'

test('after backup, backup, clean the first copy: the stored size is the remaining copy\'s blocks in the store', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-stored-'))
  const serve = await startServe({ dataDir: join(dir, 'node'), adminPassword: ADMIN_PASSWORD })
  try {
    const c = new ApiClient(serve.url)
    const me = await c.login('admin', ADMIN_PASSWORD)
    assert.equal(me.status, 200, me.text)
    const src = join(dir, 'src')
    await mkdir(src)
    // Random bytes do not compress: each file's blocks take at least its size in the store.
    await writeFile(join(src, 'a.bin'), randomBytes(200_000))
    await writeFile(join(src, 'b.bin'), randomBytes(300_000))
    const nodeId = (await c.get('/api/nodes')).body[0].id
    const space = await c.post('/api/spaces', { name: 'stored_space', type: 'backup', nodeId, ownerId: me.body.user.id, capacityBytes: 2 ** 30 })
    assert.equal(space.status, 201, space.text)
    const task = await c.post('/api/tasks', { name: 'stored-task', nodeId, spaceId: space.body.id, sources: { include: [src] } })
    assert.equal(task.status, 201, task.text)
    const run = async (level: string): Promise<void> => {
      const job = await c.post(`/api/tasks/${task.body.id}/start`, { level })
      assert.equal((await jobEnd(c, job.body.id)).status, 'success')
    }
    const row = async (): Promise<any> => (await c.get('/api/data/tasks')).body.find((r: any) => r.taskId === task.body.id)

    await run('full')
    // Day 2: b.bin unchanged (its blocks were stored by the first copy only), a.bin gone, c.bin new.
    await unlink(join(src, 'a.bin'))
    await writeFile(join(src, 'c.bin'), randomBytes(150_000))
    await run('incremental')
    const both = await row()
    assert.equal(both.copies, 2)
    assert.ok(both.storedBytes >= 650_000, `two copies hold a, b and c: ${String(both.storedBytes)}`)

    const snaps = (await c.get(`/api/spaces/${space.body.id}/snapshots?taskId=${task.body.id}`)).body
    assert.equal((await c.post('/api/auth/reauth', { password: ADMIN_PASSWORD })).status, 200)
    const clean = await c.post('/api/data/clean', { taskId: task.body.id, mode: 'snapshots', snapshots: [snaps[0].id] })
    assert.equal(clean.status, 202, clean.text)
    assert.equal((await jobEnd(c, clean.body.id)).status, 'success')
    const one = await row()
    assert.equal(one.copies, 1)
    assert.ok(one.storedBytes >= 450_000, `the remaining copy holds b and c: ${String(one.storedBytes)}`)
    assert.ok(one.storedBytes < both.storedBytes, 'cleaning the copy that alone held a.bin lowered the figure')
    assert.equal((await row()).storedBytes, one.storedBytes, 'asked again, the same figure')

    // The independent count: with the node stopped, every block the store's index lists. The clean
    // pruned, so what is left is the remaining copy's record, tree, chunks and manifest pages, and
    // the forget record of the cleaned copy (kept for replicas' releases, not this copy's data).
    await serve.stop()
    const { sizes, forgetRecords } = await storeBlockSizes(join(dir, 'node', 'spaces', space.body.id))
    assert.ok(forgetRecords.size > 0, 'the cleaned copy left a forget record')
    let held = 0
    for (const [cid, size] of sizes) if (!forgetRecords.has(cid)) held += size
    assert.equal(one.storedBytes, held)
  } finally {
    await serve.stop()
    await rm(dir, { recursive: true, force: true })
  }
})
