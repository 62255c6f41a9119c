// Nodes ("clients", manual 2.7) and user spaces (manual 2.8) through the API: register, authorise
// agent types, rename, online state, quota; prune running beside a backup (F19).
import test from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { finished, spaceFor, startTestDaemon, withUsers } from '../testing/index.ts'

test('nodes register, get agent types authorised, renamed, assigned, and go offline without heartbeats', async () => {
  const t = await startTestDaemon({ accounts: { idleTimeoutMs: 10 ** 12, absoluteTimeoutMs: 10 ** 12 } })
  try {
    const { admin, operator, operatorId } = await withUsers(t)
    const reg = await admin.post('/api/nodes', { name: 'DESKTOP-02571CP', hostname: 'DESKTOP-02571CP', os: 'Windows 10_64', version: '3.14.012', ip: '192.168.0.34' })
    assert.equal(reg.status, 201, reg.text)
    const id = reg.body.id
    assert.deepEqual(reg.body.agentTypes, [])
    assert.equal(reg.body.online, true)
    assert.equal((await admin.post('/api/nodes', { name: 'desktop-02571cp', hostname: 'x', os: 'x', version: '1', ip: '10.0.0.1' })).status, 409)
    assert.equal((await admin.post('/api/nodes', { name: 'bad-ip', hostname: 'x', os: 'x', version: '1', ip: 'not-an-ip' })).status, 400)

    assert.equal((await operator.get(`/api/nodes/${id}`)).status, 404, 'not assigned yet')
    const authorised = await admin.patch(`/api/nodes/${id}`, { agentTypes: ['filesystem', 'disk-image'], ownerId: operatorId })
    assert.deepEqual(authorised.body.agentTypes, ['filesystem', 'disk-image'])
    assert.equal((await operator.patch(`/api/nodes/${id}`, { agentTypes: [] })).body.name, 'ForbiddenError', 'only admins authorise agents')
    const renamed = await operator.patch(`/api/nodes/${id}`, { name: 'Finance PC' })
    assert.equal(renamed.body.name, 'Finance PC')

    await t.clock.advance(4 * 60_000)
    assert.equal((await operator.get(`/api/nodes/${id}`)).body.online, false, 'no heartbeat for 3 minutes: offline')
    await admin.post(`/api/nodes/${id}/heartbeat`, { ip: '192.168.0.35' })
    const back = (await operator.get(`/api/nodes/${id}`)).body
    assert.equal(back.online, true)
    assert.equal(back.ip, '192.168.0.35')

    const local = (await admin.get('/api/nodes')).body.find((n: { local: boolean }) => n.local)
    const files = await admin.get(`/api/nodes/${local.id}/files?path=/`)
    assert.ok(files.body.entries.some((e: { name: string, type: string }) => e.name === 'tmp' && e.type === 'dir'))
    assert.equal((await admin.get(`/api/nodes/${id}/files?path=/`)).body.name, 'NodeUnreachableError', 'remote nodes are browsed by their own daemon')

    const space = await admin.post('/api/spaces', { name: 'ses01_space', type: 'backup', nodeId: id, ownerId: operatorId, capacityBytes: 3 * 2 ** 40 })
    assert.equal(space.status, 201)
    assert.equal(space.body.usagePercent, 0)
    assert.equal((await admin.post('/api/spaces', { name: 'SES01_space', type: 'backup', nodeId: id, ownerId: operatorId, capacityBytes: 1 })).status, 409)
    assert.equal((await admin.post('/api/spaces', { name: 'repl', type: 'replication', nodeId: id, ownerId: operatorId, capacityBytes: 1 })).status, 201)
    const detail = await operator.get(`/api/spaces/${space.body.id}`)
    assert.equal(detail.body.nodeName, 'Finance PC')
    assert.equal(detail.body.freeBytes, 3 * 2 ** 40)
    await admin.post('/api/auth/reauth', { password: 'correct horse battery staple' })
    assert.equal((await admin.del(`/api/nodes/${id}`)).body.name, 'InUseError', 'a node with spaces stays')
  } finally { await t.close() }
})

test('quota: a full user space refuses backups; prune runs beside a backup without blocking it', async () => {
  const t = await startTestDaemon()
  const src = await mkdtemp(join(tmpdir(), 'cairn-src-'))
  try {
    for (let i = 0; i < 20; i++) await writeFile(join(src, `f${i}.bin`), Buffer.alloc(200_000, i))
    const { admin, operator, operatorId } = await withUsers(t)
    const { nodeId, spaceId } = await spaceFor(t, admin, operatorId, 'small_space', 1000)
    const task = (await operator.post('/api/tasks', { name: 'too-big', nodeId, spaceId, sources: { include: [src] } })).body
    const first = await operator.post(`/api/tasks/${task.id}/start`, { level: 'full' })
    assert.equal((await finished(t, operator, first.body.id)).status, 'success')
    const space = (await operator.get(`/api/spaces/${spaceId}`)).body
    assert.ok(space.usedBytes > 1000, 'usage is measured after the backup')
    const refused = await operator.post(`/api/tasks/${task.id}/start`, { level: 'full' })
    assert.equal(refused.status, 409)
    assert.equal(refused.body.name, 'QuotaExceededError')

    await admin.patch(`/api/spaces/${spaceId}`, { capacityBytes: 10 * 2 ** 30 })
    await writeFile(join(src, 'new.bin'), Buffer.alloc(500_000, 42))
    const backup = await operator.post(`/api/tasks/${task.id}/start`, { level: 'incremental' })
    const prune = await operator.post(`/api/spaces/${spaceId}/prune`)
    assert.equal(prune.status, 202, 'prune starts while the backup runs')
    const [b, p] = await Promise.all([finished(t, operator, backup.body.id), finished(t, operator, prune.body.id)])
    assert.equal(p.status, 'success')
    assert.equal(b.status, 'success')
    const drill = await operator.post(`/api/tasks/${task.id}/drill`)
    assert.equal((await finished(t, operator, drill.body.id)).result.passed, true, 'the copy made beside the prune restores intact')
  } finally {
    await t.close()
    await rm(src, { recursive: true, force: true })
  }
})
