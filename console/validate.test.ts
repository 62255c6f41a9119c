// The console's form checks (src/validate.ts) against the API's schemas: each sample goes to a real
// node, and the console must call it valid exactly when the node does not answer RequestInvalidError.
import test from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serve } from './e2e-harness.ts'
import { valid } from './src/validate.ts'

const ADMIN_PASSWORD = 'correct horse battery staple'

interface Client { post: (path: string, body: unknown) => Promise<{ status: number, body: any }>, put: (path: string, body: unknown) => Promise<{ status: number, body: any }>, get: (path: string) => Promise<{ status: number, body: any }> }

/** A logged-in client over HTTP only (the console reaches the node no other way) that returns every answer. */
async function client (base: string, name: string, password: string): Promise<Client> {
  const r = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: name, password }) })
  assert.equal(r.status, 200, await r.clone().text())
  const { csrfToken } = await r.json() as { csrfToken: string }
  const cookie = (r.headers.get('set-cookie') ?? '').split(';')[0]
  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number, body: any }> => {
    const res = await fetch(`${base}${path}`, { method, headers: { cookie, 'x-csrf-token': csrfToken, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await res.text()
    let parsed: unknown = text
    try { parsed = JSON.parse(text) } catch {}
    return { status: res.status, body: parsed }
  }
  return { post: async (p, b) => await call('POST', p, b), put: async (p, b) => await call('PUT', p, b), get: async p => await call('GET', p) }
}

test('the console\'s form rules agree with the API\'s on names, addresses, URLs, ports and e-mail', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cairn-validate-'))
  const node = await serve(dataDir, ADMIN_PASSWORD)
  try {
    const admin = await client(node.base, 'admin', ADMIN_PASSWORD)
    const operatorId = (await admin.post('/api/users', { name: 'ops01', password: 'operator password 1', role: 'operator' })).body.id
    const nodeId = (await admin.get('/api/nodes')).body.find((n: { local: boolean }) => n.local).id
    const space = await admin.post('/api/spaces', { name: 'ops01_space', type: 'backup', nodeId, ownerId: operatorId, capacityBytes: 2 ** 30 })
    assert.equal(space.status, 201)
    const spaceId = space.body.id
    let n = 0
    const unique = (): string => `u${++n}`
    const disagreements: string[] = []
    const check = async (what: string, sample: string | number, consoleSays: boolean, send: () => Promise<{ status: number, body: any }>): Promise<void> => {
      const r = await send()
      const nodeSays = !(r.status === 400 && r.body?.name === 'RequestInvalidError')
      if (r.status >= 500) disagreements.push(`${what} ${JSON.stringify(sample)}: the node failed with ${r.status}`)
      else if (nodeSays !== consoleSays) disagreements.push(`${what} ${JSON.stringify(sample)}: console ${consoleSays ? 'valid' : 'invalid'}, node ${r.status} ${r.body?.message ?? ''}`)
    }
    const newNode = (change: Record<string, string>) => async () => await admin.post('/api/nodes', { name: unique(), hostname: 'h.example', os: 'Debian 12', version: '1.0', ip: '10.0.0.1', ...change })

    for (const ip of ['192.168.0.34', '192.168.0.300', '01.2.3.4', '10.0.0', '::', '::1', 'fd00::34', '::ffff:10.0.0.1', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', '1::2::3', 'fe80::1%eth0', 'abc', '']) {
      await check('client IP', ip, valid.ip(ip), newNode({ ip }))
    }
    for (const name of ['', 'x', '客户端一号', 'a'.repeat(64), 'a'.repeat(65)]) {
      await check('client name', name, valid.nodeName(name), newNode({ name }))
    }
    for (const hostname of ['', 'h', 'h'.repeat(255), 'h'.repeat(256)]) await check('host name', hostname, valid.hostname(hostname), newNode({ hostname }))
    for (const os of ['', 'o'.repeat(128), 'o'.repeat(129)]) await check('OS', os, valid.os(os), newNode({ os }))
    for (const version of ['', 'v'.repeat(64), 'v'.repeat(65)]) await check('version', version, valid.version(version), newNode({ version }))

    const user = (change: Record<string, string>) => async () => await admin.post('/api/users', { name: unique(), password: 'long enough password', role: 'auditor', ...change })
    for (const name of ['ab', 'abc', 'a b c', 'ops.01-x_y', '用户一', 'a'.repeat(64), 'a'.repeat(65)]) {
      await check('user name', name, valid.userName(name), user({ name }))
    }
    for (const email of ['a@example.com', 'first.last+tag@mail.example.org', 'not-an-address', 'a@b', '@example.com', 'a@@example.com', 'a b@example.com', `${'a'.repeat(250)}@x.io`]) {
      await check('e-mail', email, valid.email(email), user({ email }))
    }

    for (const name of ['ab', 'abc', 'a/b/c', 'a\\bc', 'tab\there', '备份任务', 'x'.repeat(64), 'x'.repeat(65)]) {
      await check('task name', name, valid.taskName(name), async () => await admin.post('/api/tasks', { name, nodeId, spaceId, sources: { include: ['/tmp'] } }))
    }

    for (const url of ['https://hooks.example/cairn', 'http://127.0.0.1:9/x?y=1', 'ftp://files.example/', 'hooks.example/cairn', 'http://exa mple.com/', `https://h.example/${'p'.repeat(2030)}`, `https://h.example/${'p'.repeat(2040)}`]) {
      await check('webhook URL', url, valid.webhookUrl(url), async () => await admin.post('/api/webhooks', { url, events: ['alert'] }))
    }

    for (const port of [0, 1, 587, 65535, 65536, 2.5]) {
      await check('SMTP port', port, valid.port(port), async () => await admin.put('/api/settings/smtp', { host: 'smtp.example', port, secure: false, from: 'cairn@example.com' }))
    }
    for (const from of ['ab', 'abc', 'Cairn <cairn@example.com>', 'f'.repeat(256)]) {
      await check('SMTP sender', from, valid.mailFrom(from), async () => await admin.put('/api/settings/smtp', { host: 'smtp.example', port: 25, secure: false, from }))
    }
    for (const host of ['', 's', 's'.repeat(255), 's'.repeat(256)]) {
      await check('SMTP server', host, valid.smtpHost(host), async () => await admin.put('/api/settings/smtp', { host, port: 25, secure: false, from: 'cairn@example.com' }))
    }
    assert.deepEqual(disagreements, [])
  } finally {
    await node.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
})
