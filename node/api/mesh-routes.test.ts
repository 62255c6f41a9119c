// The mesh routes (notes/mesh-api.md) on a daemon that hosts a one-member mesh, and on one
// that hosts none: shapes, access, validation of policies, invitations, removal, replicate jobs.
import '../polyfill.ts'
import test from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initMesh } from '../../bootstrap/index.ts'
import { finished, startTestDaemon, withUsers } from '../testing/index.ts'

test('mesh routes: status, policies checked and applied live, invitations, removal, replicate jobs; access by role', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-mesh-api-'))
  await initMesh(join(dir, 'mesh'), { site: 'hq', role: 'head', listen: ['/ip4/127.0.0.1/tcp/0'] })
  const t = await startTestDaemon({ mesh: { dialEveryMs: 60_000 } }, dir)
  try {
    const { admin, operator, auditor, operatorId } = await withUsers(t)
    const m = (await auditor.get('/api/mesh')).body
    assert.equal(m.configured, true)
    assert.equal(m.self.site, 'hq')
    assert.equal(m.self.holdsMeshKey, true)
    assert.deepEqual(m.members.map((x: any) => [x.site, x.self, x.connected]), [['hq', true, true]])
    assert.deepEqual([m.links, m.policies, m.bandwidth, m.invitationsOpen], [[], [], null, 0])

    const nodeId = (await admin.get('/api/nodes')).body[0].id
    await admin.post('/api/spaces', { name: 'sales', type: 'backup', nodeId, ownerId: operatorId, capacityBytes: 2 ** 30 })
    const invalid = [
      { policies: [{ name: 'p', copies: 1.5 }] },
      { policies: [{ name: 'p', copies: 2, roles: ['head', 'boss'] }] },
      { policies: [{ name: 'p', copies: 2 }, { name: 'p', copies: 3 }] },
      { policies: [{ name: 'p', copies: 2, spaces: ['no-such-space'] }] },
      { policies: [{ name: 'p', copies: 2 }], bandwidth: { windows: [{ from: '8:00', to: '18:00', mibps: 1 }] } },
      { policies: [{ name: 'p', copies: 2 }], bandwidth: { defaultMibps: -1 } },
      { policies: [{ name: 'p', copies: 2, surprise: 1 }] }
    ]
    for (const body of invalid) {
      const r = await admin.put('/api/mesh/policies', body)
      assert.equal(r.status, 400, `${JSON.stringify(body)} → ${r.status} ${r.text}`)
    }
    assert.equal(existsSync(join(dir, 'mesh', 'replication.json')), false, 'nothing invalid was saved')
    assert.equal((await operator.put('/api/mesh/policies', { policies: [] })).status, 403)
    const ok = await admin.put('/api/mesh/policies', { policies: [{ name: 'sales-dr', copies: 2, roles: ['dr'], spaces: ['sales'] }], bandwidth: { defaultMibps: 50, windows: [{ from: '08:00', to: '18:00', mibps: 10, days: [1, 2, 3, 4, 5] }] } })
    assert.equal(ok.status, 200, ok.text)
    assert.deepEqual(ok.body.policies.map((p: any) => [p.name, p.spaces, p.targets, p.health]), [['sales-dr', ['sales'], [], 'no-target']])
    assert.equal(ok.body.bandwidth.defaultMibps, 50)
    assert.equal(JSON.parse(readFileSync(join(dir, 'mesh', 'replication.json'), 'utf8')).policies[0].name, 'sales-dr', 'saved for the next start')
    const kept = await admin.put('/api/mesh/policies', { policies: [] })
    assert.equal(kept.body.bandwidth.defaultMibps, 50, 'bandwidth absent: unchanged')

    assert.equal((await admin.post('/api/mesh/invitations', { ttlHours: 0 })).status, 400)
    assert.equal((await operator.post('/api/mesh/invitations', { ttlHours: 1 })).status, 403)
    const inv = await admin.post('/api/mesh/invitations', { ttlHours: 2 })
    assert.equal(inv.status, 201, inv.text)
    assert.match(inv.body.invitation, /^cairn-invite-v1\./)
    assert.ok(Date.parse(inv.body.expires) > Date.now() + 3600_000)
    assert.equal((await admin.get('/api/mesh')).body.invitationsOpen, 1)
    const gone = await admin.del('/api/mesh/members/no-such-site')
    assert.equal(gone.status, 404, gone.text)
    assert.equal(gone.body.name, 'NotAMemberError')

    assert.equal((await auditor.post('/api/mesh/replicate')).status, 403)
    const started = await operator.post('/api/mesh/replicate')
    assert.equal(started.status, 202, started.text)
    const job = await finished(t, operator, started.body.jobId)
    assert.deepEqual([job.type, job.status, job.result.links], ['replicate', 'success', 0])
    assert.ok((await operator.get('/api/jobs?type=replicate')).body.items.some((j: any) => j.id === job.id), 'the operator sees the job it started')
  } finally {
    await t.close()
    await rm(dir, { recursive: true, force: true })
  }
})

test('a daemon without mesh state hosts no mesh: GET says so, actions answer 409', async () => {
  const t = await startTestDaemon()
  try {
    const { admin } = await withUsers(t)
    assert.deepEqual((await admin.get('/api/mesh')).body, { configured: false })
    const r = await admin.post('/api/mesh/replicate')
    assert.equal(r.status, 409)
    assert.equal(r.body.name, 'MeshNotRunningError')
    assert.equal(t.daemon.mesh, undefined)
  } finally { await t.close() }
})
