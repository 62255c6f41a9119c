// The review's remaining findings (issue 13: M3 and the lows), each against a real daemon: strict
// input types, a schema for every body, a depth limit and printable names; CSP and frame-ancestors;
// the keyed audit chain and who may verify it; escaped log lines; webhook targets (SSRF); the
// stored SMTP password only for its own destination; AEAD-only TLS suites.
import test from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:tls'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import { ApiClient, startTestDaemon, withUsers, type TestDaemon } from '../daemon/test-daemon.ts'

const longSessions = { accounts: { idleTimeoutMs: 10 ** 12, absoluteTimeoutMs: 10 ** 12 } }

test('bodies are typed strictly: no coercion, a schema for every body, a depth limit, printable names', async () => {
  const t = await startTestDaemon()
  try {
    const { admin } = await withUsers(t)
    const nodeId = (await admin.get('/api/nodes')).body[0].id
    const refused = async (method: string, path: string, body: unknown, what: string): Promise<void> => {
      const r = await admin.call(method, path, body)
      assert.equal(r.status, 400, `${what}: ${r.status} ${r.text}`)
      assert.equal(r.body.name, 'RequestInvalidError', what)
    }
    await refused('PATCH', `/api/nodes/${nodeId}`, { name: true }, 'a boolean is not a name')
    await refused('POST', '/api/spaces', { name: 12345, type: 'backup', nodeId, ownerId: 'u', capacityBytes: 1 }, 'a number is not a name')
    await refused('POST', '/api/spaces', { name: 'x_space', type: 'backup', nodeId, ownerId: 'u', capacityBytes: '1' }, 'a string is not a number')
    await refused('POST', '/api/auth/logout', { anything: 1 }, 'a route without a body takes none')
    await refused('POST', '/api/mesh/replicate', { x: [1] }, 'nor does replicate')
    // Written as text: even JSON.stringify cannot make a body this deep.
    await refused('PATCH', `/api/nodes/${nodeId}`, `{"agentConfig":${'{"a":'.repeat(5000)}{}${'}'.repeat(5000)}}`, 'a body 5,000 levels deep')
    for (const name of ['bad\u0000name', 'evil\u202Egnp.exe', 'line\nbreak', 'zero\u200Bwidth']) await refused('PATCH', `/api/nodes/${nodeId}`, { name }, JSON.stringify(name))
    await refused('POST', '/api/auth/login', { username: 'admin\r\nfake', password: 'x' }, 'CR/LF in a user name at login')
    assert.equal((await admin.patch(`/api/nodes/${nodeId}`, { name: '总部 head-office', agentConfig: { a: { b: { c: 1 } } } })).status, 200, 'ordinary Unicode names and shallow objects pass')
    assert.equal((await admin.get('/api/jobs?page=2&pageSize=5')).status, 200, 'query strings are still text turned into numbers')
    assert.equal((await admin.post('/api/auth/logout')).status, 200, 'no body is still fine')
  } finally { await t.close() }
})

test('every answer carries a strict Content-Security-Policy that forbids framing', async () => {
  const t = await startTestDaemon()
  try {
    for (const path of ['/', '/api/health', '/api/nope']) {
      const csp = (await fetch(t.daemon.url + path)).headers.get('content-security-policy') ?? ''
      assert.match(csp, /default-src 'self'/, path)
      assert.match(csp, /script-src 'self'(;|$)/, path)
      assert.match(csp, /frame-ancestors 'none'/, path)
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, path)
    }
  } finally { await t.close() }
})

test('the audit chain is keyed: a rewritten record with a recomputed SHA-256 chain fails; only admins and auditors verify', async () => {
  const t = await startTestDaemon()
  try {
    const { admin, operator, auditor } = await withUsers(t)
    assert.equal((await operator.get('/api/audit/verify')).status, 403)
    assert.equal((await auditor.get('/api/audit/verify')).body.ok, true)
    const before = (await admin.get('/api/audit/verify')).body
    assert.deepEqual([before.ok, before.unkeyed], [true, 0])
    // Someone who can write the state rewrites record 2 and recomputes every hash after it, as
    // the API's output allows for a plain SHA-256 chain; without the key the MACs cannot be redone.
    const { createHash } = await import('node:crypto')
    const records = await t.daemon.state.list<any>('audit')
    let prev = records[0].hash
    for (const r of records.slice(1)) {
      if (r.seq === 2) r.user = 'someone-else'
      r.prev = prev
      r.hash = createHash('sha256').update(JSON.stringify([r.seq, r.time, r.user, r.source, r.action, r.target, r.detail ?? null, r.prev])).digest('hex')
      delete r.alg
      prev = r.hash
      await t.daemon.state.put('audit', String(r.seq).padStart(12, '0'), r)
    }
    const after = (await admin.get('/api/audit/verify')).body
    assert.equal(after.ok, false)
    assert.equal(after.brokenAt, 2)
  } finally { await t.close() }
})

test('control characters in names and messages are escaped in log lines', async () => {
  const t = await startTestDaemon()
  try {
    const e = await t.daemon.logs.write({ type: 'login', level: 'warning', user: 'evil\r\n2026-01-01 INFO admin logged in', source: '10.0.0.1\u001b[31m', message: 'line one\nline two\u202E' })
    assert.equal(e.user, 'evil\\r\\n2026-01-01 INFO admin logged in')
    assert.equal(e.source, '10.0.0.1\\u001b[31m')
    assert.equal(e.message, 'line one\\nline two\\u202e')
    assert.ok(!/[\r\n]/.test(JSON.stringify((await t.daemon.logs.query({})).map(x => x.user + x.message)).replace(/\\\\[rn]/g, '')))
  } finally { await t.close() }
})

test('webhooks to this machine or its link are refused unless allowed; names are checked when delivered', async () => {
  let hits = 0
  const receiver = createServer((req, res) => { hits++; req.resume(); res.end() })
  await new Promise<void>(resolve => receiver.listen(0, '127.0.0.1', resolve))
  const port = (receiver.address() as AddressInfo).port
  const t = await startTestDaemon({ ...longSessions, webhooks: { backoffMs: 1000, maxAttempts: 3 } })
  try {
    const { admin } = await withUsers(t)
    for (const url of [`http://127.0.0.1:${port}/`, 'http://0.0.0.0:22/', 'http://[::1]:22/', 'http://2130706433/', 'http://0x7f.1/', 'http://169.254.169.254/latest/meta-data/', 'http://[::ffff:127.0.0.1]/']) {
      const r = await admin.post('/api/webhooks', { url, events: ['login'] })
      assert.equal(r.status, 400, `${url}: ${r.text}`)
      assert.equal(r.body.name, 'WebhookTargetRefusedError', url)
    }
    // A name that resolves to loopback is accepted when stored, and refused when delivered: at once, without retries.
    const byName = (await admin.post('/api/webhooks', { url: `http://localhost:${port}/hook`, events: ['login'] })).body
    const allowed = (await admin.post('/api/webhooks', { url: `http://127.0.0.1:${port}/lab`, events: ['login'], allowLocal: true })).body
    assert.equal(allowed.allowLocal, true)
    await new ApiClient(t.daemon.url).login('ops01', 'operator password 1')
    await settled(t)
    const refused = (await admin.get(`/api/webhooks/${byName.id}/deliveries`)).body.items[0]
    assert.equal(refused.status, 'failed')
    assert.equal(refused.attempts.length, 1)
    assert.match(refused.attempts[0].error, /localhost resolves to .*loopback/)
    assert.equal((await admin.get(`/api/webhooks/${allowed.id}/deliveries`)).body.items[0].status, 'delivered')
    assert.equal(hits, 1, 'only the allowed hook reached the receiver')
  } finally {
    await t.close()
    receiver.close()
  }
})

const settled = async (t: TestDaemon): Promise<void> => { await t.daemon.webhooks.idle() }

test('the stored SMTP password goes only to the host, port and user it was set for (M3)', async () => {
  const logins: Array<{ port: number, user: string, pass: string }> = []
  const servers = await Promise.all([0, 1].map(async () => {
    const server = new SMTPServer({
      authOptional: true, allowInsecureAuth: true, disabledCommands: ['STARTTLS'], logger: false,
      onAuth (auth, session, done) { logins.push({ port: (session as unknown as { localPort: number }).localPort, user: auth.username ?? '', pass: auth.password ?? '' }); done(null, { user: auth.username }) },
      onData (stream, _s, done) { stream.resume(); stream.on('end', () => done()) }
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    return { server, port: ((server as unknown as { server: { address: () => AddressInfo } }).server.address()).port }
  }))
  const t = await startTestDaemon(longSessions)
  try {
    const { admin } = await withUsers(t)
    const [first, second] = servers
    const put = async (body: Record<string, unknown>): Promise<{ status: number, body: any }> => await admin.put('/api/settings/smtp', { secure: false, from: 'cairn@example.test', ...body })
    assert.equal((await put({ host: '127.0.0.1', port: first.port, user: 'mailer', password: 'the mail secret' })).status, 200)
    assert.equal((await put({ host: '127.0.0.1', port: first.port, user: 'mailer' })).status, 200, 'the same destination keeps it')
    for (const change of [{ host: 'localhost', port: first.port }, { host: '127.0.0.1', port: second.port }]) {
      const r = await put({ ...change, user: 'mailer' })
      assert.equal(r.body.name, 'SmtpPasswordRequiredError', JSON.stringify(change))
    }
    assert.equal((await admin.post('/api/settings/smtp/test', { to: 'x@example.test' })).status, 200)
    assert.deepEqual(logins.map(l => [l.port, l.user, l.pass]), [[first.port, 'mailer', 'the mail secret']], 'the secret went to its own server only')
  } finally {
    await t.close()
    for (const s of servers) await new Promise<void>(resolve => s.server.close(() => resolve()))
  }
})

test('TLS offers only ECDHE with AES-GCM or ChaCha20-Poly1305 (no CBC, CCM8 or ARIA)', async () => {
  const t = await startTestDaemon({ insecureHttp: false })
  try {
    const port = Number(new URL(t.daemon.url).port)
    const handshake = async (ciphers: string): Promise<string> => await new Promise(resolve => {
      const s = connect({ host: '127.0.0.1', port, ciphers, maxVersion: 'TLSv1.2', rejectUnauthorized: false }, () => { const c = s.getCipher().name; s.end(); resolve(c) })
      s.on('error', err => resolve(`refused: ${err.message}`))
    })
    assert.equal(await handshake('ECDHE-ECDSA-AES128-GCM-SHA256'), 'ECDHE-ECDSA-AES128-GCM-SHA256')
    assert.equal(await handshake('ECDHE-ECDSA-CHACHA20-POLY1305'), 'ECDHE-ECDSA-CHACHA20-POLY1305')
    for (const weak of ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA384', 'ECDHE-ECDSA-AES128-CCM8', 'ECDHE-ECDSA-ARIA128-GCM-SHA256']) {
      assert.match(await handshake(weak), /^refused/, weak)
    }
  } finally { await t.close() }
})
