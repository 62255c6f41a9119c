// The console's form checks (src/validate.ts, src/bandwidth.ts) against the API's schemas: each sample
// goes to a real `cairn serve` over HTTP, and the console must call it valid exactly when the node
// does not refuse it as bad input (400).
// test-suite: processes
import test from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { rawApiAs, serve, type Answer } from './testing/e2e-harness.ts'
import { valid } from './src/validate.ts'
import { bandwidthOf, bandwidthProblem, type BandwidthDraft, type WindowDraft } from './src/bandwidth.ts'

const ADMIN_PW = 'validate head passphrase'

test('the console\'s form rules agree with the API\'s on names, addresses, URLs, ports, e-mail, mesh policies and bandwidth', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-console-validate-'))
  const served = await serve(join(dir, 'node'), ADMIN_PW)
  try {
    const call = await rawApiAs(served.base, 'admin', ADMIN_PW)
    const admin = {
      post: async (path: string, body: unknown) => await call('POST', path, body),
      put: async (path: string, body: unknown) => await call('PUT', path, body)
    }
    const operatorId = (await admin.post('/api/users', { name: 'ops01', password: 'operator password 1', role: 'operator' })).body.id
    const nodeId = (await call('GET', '/api/nodes')).body.find((n: { local: boolean }) => n.local).id
    const spaceId = (await admin.post('/api/spaces', { name: 'ops01_space', type: 'backup', nodeId, ownerId: operatorId, capacityBytes: 2 ** 30 })).body.id
    let n = 0
    const unique = (): string => `u${++n}`
    const disagreements: string[] = []
    const check = async (what: string, sample: unknown, consoleSays: boolean, send: () => Promise<Answer>): Promise<void> => {
      const r = await send()
      const nodeSays = r.status !== 400
      if (r.status >= 500) disagreements.push(`${what} ${JSON.stringify(sample)}: the node failed with ${r.status}`)
      else if (nodeSays !== consoleSays) disagreements.push(`${what} ${JSON.stringify(sample)}: console ${consoleSays ? 'valid' : 'invalid'}, node ${r.status} ${r.body?.message ?? ''}`)
    }
    const node = (change: Record<string, string>) => async () => await admin.post('/api/nodes', { name: unique(), hostname: 'h.example', os: 'Debian 12', version: '1.0', ip: '10.0.0.1', ...change })

    for (const ip of ['192.168.0.34', '192.168.0.300', '01.2.3.4', '10.0.0', '::', '::1', 'fd00::34', '::ffff:10.0.0.1', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', '1::2::3', 'fe80::1%eth0', 'abc', '']) {
      await check('client IP', ip, valid.ip(ip), node({ ip }))
    }
    for (const name of ['', 'x', '客户端一号', 'a'.repeat(64), 'a'.repeat(65)]) {
      await check('client name', name, valid.nodeName(name), node({ name }))
    }
    for (const hostname of ['', 'h', 'h'.repeat(255), 'h'.repeat(256)]) await check('host name', hostname, valid.hostname(hostname), node({ hostname }))
    for (const os of ['', 'o'.repeat(128), 'o'.repeat(129)]) await check('OS', os, valid.os(os), node({ os }))
    for (const version of ['', 'v'.repeat(64), 'v'.repeat(65)]) await check('version', version, valid.version(version), node({ version }))

    const user = (change: Record<string, string>) => async () => await admin.post('/api/users', { name: unique(), password: 'long enough password', role: 'auditor', ...change })
    for (const name of ['ab', 'abc', 'a b c', 'ops.01-x_y', '用户一', 'a'.repeat(64), 'a'.repeat(65)]) {
      await check('user name', name, valid.userName(name), user({ name }))
    }
    for (const email of ['a@example.com', 'first.last+tag@mail.example.org', 'not-an-address', 'a@b', '@example.com', 'a@@example.com', 'a b@example.com', `${'a'.repeat(250)}@x.io`]) {
      await check('e-mail', email, valid.email(email), user({ email }))
    }

    for (const name of ['', 'x', '本地归档', ' spaced ', 'a/b', 'tab\there', 'd'.repeat(64), 'd'.repeat(65)]) {
      await check('archive device name', name, valid.archiveName(name), async () => await admin.post('/api/archive/devices', { name, type: 'dir', path: join(dir, 'archive') }))
    }
    for (const name of ['ab', 'abc', 'a/b/c', 'a\\bc', 'tab\there', '备份任务', 'x'.repeat(64), 'x'.repeat(65)]) {
      await check('task name', name, valid.taskName(name), async () => await admin.post('/api/tasks', { name, nodeId, spaceId, sources: { include: ['/tmp'] } }))
    }

    for (const url of ['https://hooks.example/cairn', 'http://127.0.0.1:9/x?y=1', 'ftp://files.example/', 'hooks.example/cairn', 'http://exa mple.com/', `https://h.example/${'p'.repeat(2030)}`, `https://h.example/${'p'.repeat(2040)}`]) {
      await check('webhook URL', url, valid.webhookUrl(url), async () => await admin.post('/api/webhooks', { url, events: ['alert'], allowLocal: true }))
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

    // Mesh policies and invitations: this node runs no mesh, so what passes the schema is refused
    // with 409 MeshNotRunningError, after the checks that matter here.
    const policy = (p: Record<string, unknown>) => async () => await admin.put('/api/mesh/policies', { policies: [{ name: 'p', copies: 2, ...p }] })
    for (const name of ['', 'p', 'tab\there', '复制策略', 'x'.repeat(64), 'x'.repeat(65)]) await check('policy name', name, valid.policyName(name), policy({ name }))
    for (const copies of [0, 1, 9, 10, 2.5]) await check('copies', copies, valid.copies(copies), policy({ copies }))
    for (const site of ['hq', 'dr-1.north_2', 'a b', '站点', 'x'.repeat(64), 'x'.repeat(65)]) await check('site name', site, valid.siteName(site), policy({ sites: [site] }))
    for (const space of ['', 's', 'x'.repeat(64), 'x'.repeat(65)]) await check('space name in a policy', space, valid.spaceName(space), policy({ spaces: [space] }))
    for (const ttlHours of [0, 1, 720, 721, 1.5]) await check('invitation hours', ttlHours, valid.ttlHours(ttlHours), async () => await admin.post('/api/mesh/invitations', { ttlHours }))

    // Bandwidth schedules, as a backup task's option and as the mesh's limit.
    const window = (w: Partial<WindowDraft>): WindowDraft => ({ from: '08:00', to: '18:00', mibps: 10, days: [], ...w })
    const drafts: BandwidthDraft[] = [
      { defaultMibps: '', windows: [] },
      ...[0, 2.5, 1_000_000, 1_000_001, -1].map(defaultMibps => ({ defaultMibps, windows: [] })),
      ...['00:00', '23:59', '24:00', '8:00', '25:00', '12:60', '', '08:00:00'].flatMap(t => [{ defaultMibps: '' as const, windows: [window({ from: t })] }, { defaultMibps: '' as const, windows: [window({ to: t })] }]),
      ...[0, 0.5, 1_000_000, 1_000_001, -0.5].map(mibps => ({ defaultMibps: '' as const, windows: [window({ mibps })] })),
      { defaultMibps: 100, windows: [window({ days: [1, 2, 3, 4, 5] }), window({ from: '22:00', to: '06:00', mibps: 0, days: [0, 6] })] },
      { defaultMibps: '', windows: Array.from({ length: 48 }, () => window({})) },
      { defaultMibps: '', windows: Array.from({ length: 49 }, () => window({})) }
    ]
    for (const d of drafts) {
      const sample = `${JSON.stringify(bandwidthOf(d)).slice(0, 100)} (${d.windows.length} windows)`
      await check('task bandwidth', sample, bandwidthProblem(d) === undefined, async () => await admin.post('/api/tasks', { name: `bw ${unique()}`, nodeId, spaceId, sources: { include: ['/tmp'] }, options: { bandwidth: bandwidthOf(d) } }))
      await check('mesh bandwidth', sample, bandwidthProblem(d) === undefined, async () => await admin.put('/api/mesh/policies', { policies: [], bandwidth: bandwidthOf(d) }))
    }
    assert.deepEqual(disagreements, [])
  } finally {
    await served.stop()
    await rm(dir, { recursive: true, force: true })
  }
})
