// Re-authentication (issue 13, M4): a session whose password was confirmed more than 5 minutes
// ago changes no roles, passwords, users, credentials, notification targets or ownership until
// the password is confirmed again; other changes need no confirmation.
import test from 'node:test'
import assert from 'node:assert/strict'
import { ADMIN_PASSWORD, startTestDaemon, withUsers } from '../daemon/test-daemon.ts'

test('every change of roles, passwords, users, credentials, notification targets and ownership needs a recent reauth', async () => {
  const t = await startTestDaemon({ accounts: { idleTimeoutMs: 10 ** 12, absoluteTimeoutMs: 10 ** 12 } })
  try {
    const { admin, operator, operatorId, auditorId } = await withUsers(t)
    const nodeId = (await admin.get('/api/nodes')).body[0].id
    const hook = (await admin.post('/api/webhooks', { url: 'https://hooks.example.test/cairn', events: ['job'] })).body
    await t.clock.advance(6 * 60_000)
    const changes: Array<[string, string, unknown]> = [
      ['POST', '/api/users', { name: 'newadmin', password: 'copper kettle under seven moons', role: 'admin' }],
      ['PATCH', `/api/users/${operatorId}`, { role: 'admin' }],
      ['PATCH', `/api/users/${auditorId}`, { password: 'copper kettle under seven moons' }],
      ['PATCH', `/api/users/${auditorId}`, { enabled: false }],
      ['PUT', `/api/users/${operatorId}/token`, { certificate: '-----BEGIN CERTIFICATE-----\n' + 'A'.repeat(60) + '\n-----END CERTIFICATE-----\n' }],
      ['PATCH', '/api/users/me', { email: 'attacker@example.test' }],
      ['PUT', '/api/settings/smtp', { host: 'mail.example.test', port: 587, secure: false, from: 'cairn@example.test' }],
      ['POST', '/api/webhooks', { url: 'https://hooks.example.test/other', events: ['login'] }],
      ['PATCH', `/api/webhooks/${hook.id}`, { url: 'https://attacker.example.test/' }],
      ['DELETE', `/api/webhooks/${hook.id}`, undefined],
      ['PATCH', `/api/nodes/${nodeId}`, { ownerId: operatorId }],
      ['PATCH', `/api/nodes/${nodeId}`, { agentTypes: ['filesystem', 'disk-image'] }],
      ['PATCH', `/api/nodes/${nodeId}`, { roots: { sources: ['/'], restores: ['/'] } }],
      ['POST', '/api/nodes', { name: 'branch-pc', hostname: 'pc', os: 'Linux', version: '1', ip: '192.0.2.5', ownerId: operatorId }],
      ['POST', '/api/spaces', { name: 'gift_space', type: 'backup', nodeId, ownerId: operatorId, capacityBytes: 1 }],
      ['POST', '/api/mesh/invitations', { ttlHours: 1 }],
      ['POST', '/api/settings/metrics/token', {}]
    ]
    for (const [method, path, body] of changes) {
      const r = await admin.call(method, path, body)
      assert.equal(r.status, 403, `${method} ${path} ${JSON.stringify(body)}: ${r.status} ${r.text}`)
      assert.equal(r.body.name, 'ReauthenticationRequiredError')
    }
    assert.equal((await operator.patch('/api/users/me', { email: 'x@example.test' })).body.name, 'ReauthenticationRequiredError', 'operators too, for their own notification address')
    assert.equal((await admin.patch(`/api/nodes/${nodeId}`, { name: 'head-office' })).status, 200, 'a rename needs no reauth')
    assert.equal((await admin.get('/api/users')).body.find((u: { id: string }) => u.id === operatorId).role, 'operator', 'nothing changed')

    assert.equal((await admin.post('/api/auth/reauth', { password: ADMIN_PASSWORD })).status, 200)
    for (const [method, path, body] of changes.filter(([, p]) => !p.includes('/token') && !p.includes('/invitations') && !p.includes('/webhooks/'))) {
      const r = await admin.call(method, path, body)
      assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${r.text}`)
    }
    const actions = (await admin.get('/api/audit')).body.map((e: { action: string }) => e.action)
    assert.ok(actions.includes('user.update') && actions.includes('settings.smtp'))
  } finally { await t.close() }
})
