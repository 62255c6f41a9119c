// The API as a whole: OpenAPI lists every route, every route answers malformed input with 4xx,
// RBAC, the audit chain, and 1,000 concurrent requests without a 5xx.
import test from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ApiClient, spaceFor, startTestDaemon, withUsers } from '../daemon/test-daemon.ts'

interface Op { method: string, path: string, op: any }
const operations = (doc: any): Op[] => Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops as object).map(([method, op]) => ({ method: method.toUpperCase(), path, op })))
const fill = (path: string, value: string): string => path.replace(/\{[^}]+\}/g, value)

test('the OpenAPI document lists every route with a summary and who may call it', async () => {
  const t = await startTestDaemon()
  try {
    const c = new ApiClient(t.daemon.url)
    const doc = (await c.get('/api/openapi.json')).body
    assert.equal(doc.openapi, '3.1.0')
    const ops = operations(doc)
    assert.ok(ops.length >= 60, `only ${ops.length} operations`)
    for (const o of ops) {
      assert.ok(typeof o.op.summary === 'string' && o.op.summary.length > 5, `${o.method} ${o.path} has a summary`)
      assert.ok(['public', 'read', 'user', 'write', 'admin'].includes(o.op['x-access']), `${o.method} ${o.path} says who may call it`)
      assert.ok(t.daemon.app.hasRoute({ method: o.method as 'GET', url: o.path.replace(/\{(\w+)\}/g, ':$1') }), `${o.method} ${o.path} is served`)
    }
    for (const must of ['/api/health', '/api/auth/login', '/api/tasks/{id}/start', '/api/jobs/{id}/events', '/api/restores', '/api/data/clean', '/api/logs', '/api/reports/{kind}', '/metrics', '/api/spaces/{id}/escrow', '/api/spaces/adopt']) {
      assert.ok(doc.paths[must] !== undefined, `${must} is documented`)
    }
  } finally { await t.close() }
})

test('every route answers malformed or unauthenticated requests with 4xx and { name, message }', async () => {
  const t = await startTestDaemon()
  try {
    const { admin } = await withUsers(t)
    const anonymous = new ApiClient(t.daemon.url)
    const ops = operations((await admin.get('/api/openapi.json')).body)
    const problems: string[] = []
    const expect4xx = (what: string, r: { status: number, body: any }): void => {
      if (r.status < 400 || r.status >= 500) problems.push(`${what}: ${r.status}`)
      else if (typeof r.body?.name !== 'string' || typeof r.body?.message !== 'string') problems.push(`${what}: body ${JSON.stringify(r.body)}`)
    }
    for (const { method, path, op } of ops) {
      const hasParams = path.includes('{')
      const url = fill(path, 'no-such-id')
      if (op['x-access'] !== 'public') expect4xx(`anonymous ${method} ${path}`, await anonymous.call(method, url, method === 'GET' ? undefined : {}))
      if (method !== 'GET') {
        expect4xx(`broken JSON ${method} ${path}`, await admin.call(method, url, '{"unterminated": '))
        if (op.requestBody !== undefined) {
          expect4xx(`array body ${method} ${path}`, await admin.call(method, url, [1, 2, 3]))
          expect4xx(`unknown field ${method} ${path}`, await admin.call(method, url, { surprise: true }))
          expect4xx(`huge body ${method} ${path}`, await admin.call(method, url, { x: 'y'.repeat(1_100_000) }))
        }
        expect4xx(`wrong content type ${method} ${path}`, await admin.call(method, url, 'a=b', { 'content-type': 'application/x-www-form-urlencoded' }))
      }
      if (op.parameters.some((p: { in: string }) => p.in === 'query')) {
        expect4xx(`unknown query ${method} ${path}`, await admin.call(method, `${fill(path, 'x')}?page=-4&surprise=1`, method === 'GET' ? undefined : {}))
      }
      if (hasParams && method === 'GET') {
        expect4xx(`unknown id ${method} ${path}`, await admin.get(fill(path, 'zz%00')))
        expect4xx(`overlong id ${method} ${path}`, await admin.get(fill(path, 'x'.repeat(300))))
      }
    }
    expect4xx('unknown route', await admin.get('/api/nope'))
    assert.deepEqual(problems, [])
    assert.equal((await admin.get('/api/health')).status, 200, 'the node is still up')
  } finally { await t.close() }
})

test('RBAC: operators see only their own things, auditors change nothing, admin-only routes', async () => {
  const t = await startTestDaemon()
  const src = await mkdtemp(join(tmpdir(), 'cairn-src-'))
  try {
    await writeFile(join(src, 'f'), 'x')
    const { admin, operator, auditor, operatorId } = await withUsers(t)
    const other = await admin.post('/api/users', { name: 'ops02', password: 'operator password 2', role: 'operator' })
    const op2 = new ApiClient(t.daemon.url)
    await op2.login('ops02', 'operator password 2')
    const { nodeId, spaceId } = await spaceFor(t, admin, operatorId)
    const task = (await operator.post('/api/tasks', { name: 'private-task', nodeId, spaceId, sources: { include: [src] } })).body

    assert.deepEqual((await op2.get('/api/tasks')).body, [], 'another operator sees no tasks of others')
    assert.deepEqual((await op2.get('/api/spaces')).body, [])
    assert.deepEqual((await op2.get('/api/nodes')).body, [])
    assert.equal((await op2.get(`/api/tasks/${task.id}`)).status, 404)
    assert.equal((await op2.post(`/api/tasks/${task.id}/start`, {})).status, 404)
    assert.equal((await op2.post('/api/tasks', { name: 'steal', nodeId, spaceId, sources: { include: [src] } })).status, 404, 'cannot use another operator\'s space')
    assert.equal((await op2.get(`/api/spaces/${spaceId}/snapshots`)).status, 404)

    assert.equal((await auditor.get('/api/tasks')).body.length, 1, 'auditors read everything')
    assert.equal((await auditor.get('/api/audit')).status, 200)
    for (const [m, p, b] of [['POST', `/api/tasks/${task.id}/start`, {}], ['PATCH', `/api/tasks/${task.id}`, { name: 'renamed' }], ['DELETE', `/api/tasks/${task.id}`, { confirm: 'YES' }], ['POST', '/api/tasks', { name: 'nope', nodeId, spaceId, sources: { include: [src] } }], ['PATCH', `/api/spaces/${spaceId}`, { name: 'x-space' }], ['POST', '/api/webhooks', { url: 'http://127.0.0.1:1/', events: ['job'] }]] as const) {
      const r = await auditor.call(m, p, b)
      assert.equal(r.status, 403, `auditor ${m} ${p}`)
      assert.equal(r.body.name, 'ForbiddenError')
    }
    assert.equal((await auditor.patch('/api/users/me', { email: 'a@example.test' })).status, 200, 'auditors still manage their own account')

    assert.equal((await operator.get('/api/users')).status, 403)
    assert.equal((await operator.get('/api/audit')).status, 403)
    assert.equal((await operator.post('/api/spaces', { name: 'mine-too', type: 'backup', nodeId, ownerId: operatorId, capacityBytes: 1 })).status, 403)
    assert.equal((await operator.patch(`/api/spaces/${spaceId}`, { capacityBytes: 10 ** 15 })).status, 403, 'operators cannot raise their own quota')
    assert.equal((await operator.patch(`/api/spaces/${spaceId}`, { name: 'ops01-renamed' })).status, 200)
    assert.deepEqual([...new Set((await op2.get('/api/logs')).body.items.map((e: { user: string }) => e.user))], ['ops02'], 'operators read only their own log entries')
    assert.ok((await operator.get('/api/logs')).body.items.length > 0)
    assert.equal(other.status, 201)

    const audit = await admin.get('/api/audit')
    assert.ok(audit.body.some((e: { action: string }) => e.action === 'task.create'))
    assert.ok(audit.body.some((e: { action: string }) => e.action === 'space.update'))
    assert.deepEqual((await admin.get('/api/audit/verify')).body, { ok: true, records: audit.body.length, unkeyed: 0 })
  } finally {
    await t.close()
    await rm(src, { recursive: true, force: true })
  }
})

test('1,000 concurrent API requests get no 5xx', async () => {
  const t = await startTestDaemon()
  try {
    const { admin, operator } = await withUsers(t)
    const paths = ['/api/health', '/api/tasks', '/api/jobs', '/api/nodes', '/api/spaces', '/api/dashboard', '/api/logs?pageSize=5', '/api/auth/session', '/api/tasks/none']
    const results = await Promise.all(Array.from({ length: 1000 }, async (_, i) => {
      const c = i % 2 === 0 ? admin : operator
      if (i % 10 === 7) return (await c.patch('/api/users/me', { email: `u${i}@example.test` })).status
      return (await c.get(paths[i % paths.length])).status
    }))
    const fivexx = results.filter(s => s >= 500)
    assert.equal(fivexx.length, 0)
    assert.ok(results.filter(s => s === 200).length >= 800)
  } finally { await t.close() }
})
