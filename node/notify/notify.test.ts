// Notifications against real parts: mail through an SMTP server on 127.0.0.1, signed webhooks to an
// HTTP receiver (with retries on a manual clock), reports as CSV and xlsx, Prometheus metrics,
// and the live job monitor as server-sent events.
import test from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage } from 'node:http'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import ExcelJS from 'exceljs'
import { finished, jobGate, spaceFor, startTestDaemon, withUsers, type TestDaemon } from '../daemon/test-daemon.ts'
import { verifyWebhookSignature } from './webhooks.ts'

const longSessions = { accounts: { idleTimeoutMs: 10 ** 12, absoluteTimeoutMs: 10 ** 12 } }

async function smtp (): Promise<{ port: number, mails: string[], close: () => Promise<void> }> {
  const mails: string[] = []
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData (stream, _session, done) {
      const parts: Buffer[] = []
      stream.on('data', (b: Buffer) => parts.push(b))
      stream.on('end', () => { mails.push(Buffer.concat(parts).toString('utf8')); done() })
    }
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = ((server as unknown as { server: { address: () => AddressInfo } }).server.address()).port
  return { port, mails, close: async () => { await new Promise<void>(resolve => server.close(() => resolve())) } }
}

const settled = async (t: TestDaemon): Promise<void> => {
  await t.daemon.webhooks.idle()
  await t.daemon.notifier.idle()
}

test('mail through SMTP on loopback: test mail, immediate notifications, daily digest, report mail', async () => {
  const mailServer = await smtp()
  const t = await startTestDaemon(longSessions)
  const src = await mkdtemp(join(tmpdir(), 'cairn-src-'))
  try {
    await writeFile(join(src, 'f'), 'x')
    const { admin, operator, operatorId } = await withUsers(t)
    assert.equal((await admin.post('/api/settings/smtp/test', { to: 'x@example.test' })).body.name, 'MailNotConfiguredError')
    assert.equal((await admin.put('/api/settings/smtp', { host: '127.0.0.1', port: mailServer.port, secure: false, from: 'cairn@example.test', password: 'secret' })).status, 200)
    assert.equal((await admin.get('/api/settings/smtp')).body.password, '********')
    // Saved again without a password (a form shows it masked), the same account keeps it; another account has none.
    assert.equal((await admin.put('/api/settings/smtp', { host: '127.0.0.1', port: mailServer.port, secure: false, from: 'cairn@example.test', user: 'mailer', password: 'mailer secret' })).status, 200)
    assert.equal((await admin.put('/api/settings/smtp', { host: '127.0.0.1', port: mailServer.port, secure: false, from: 'Cairn <cairn@example.test>', user: 'mailer' })).status, 200)
    assert.deepEqual([(await admin.get('/api/settings/smtp')).body.password, (await admin.get('/api/settings/smtp')).body.from], ['********', 'Cairn <cairn@example.test>'])
    // Another account (or host, or port) does not get the stored password (issue 13, M3): it must be entered again.
    const other = await admin.put('/api/settings/smtp', { host: '127.0.0.1', port: mailServer.port, secure: false, from: 'cairn@example.test', user: 'other' })
    assert.equal(other.body.name, 'SmtpPasswordRequiredError')
    assert.equal((await admin.put('/api/settings/smtp', { host: '127.0.0.1', port: mailServer.port, secure: false, from: 'cairn@example.test' })).status, 200)
    assert.equal((await admin.get('/api/settings/smtp')).body.password, undefined)
    assert.equal((await admin.put('/api/settings/smtp', { host: '127.0.0.1', port: mailServer.port, secure: false, from: 'cairn@example.test', password: 'secret' })).status, 200)
    assert.equal((await admin.post('/api/settings/smtp/test', { to: 'admin@example.test' })).status, 200)
    assert.equal(mailServer.mails.length, 1)
    assert.match(mailServer.mails[0], /Subject: \[Cairn\] Test mail/)

    assert.equal((await operator.put('/api/users/me/notifications', { enabled: true, types: ['task'], levels: ['info'], mode: 'immediate' })).status, 200)
    const { nodeId, spaceId } = await spaceFor(t, admin, operatorId)
    await operator.post('/api/tasks', { name: 'mailed-task', nodeId, spaceId, sources: { include: [src] } })
    await settled(t)
    const immediate = mailServer.mails.filter(m => /To: ops01@example.test/.test(m))
    assert.equal(immediate.length, 1)
    assert.match(immediate[0], /creating backup task \[mailed-task\]/)

    assert.equal((await operator.put('/api/users/me/notifications', { enabled: true, types: ['task', 'login'], levels: ['info', 'warning'], mode: 'digest', digestTime: '09:00', timeZone: 'UTC' })).status, 200)
    await settled(t)
    await operator.post('/api/tasks', { name: 'digest-task-1', nodeId, spaceId, sources: { include: [src] } })
    await operator.post('/api/tasks', { name: 'digest-task-2', nodeId, spaceId, sources: { include: [src] } })
    await settled(t)
    const before = mailServer.mails.length
    await t.clock.set(new Date('2026-03-02T08:59:00Z'))
    await settled(t)
    assert.equal(mailServer.mails.length, before, 'nothing before the digest time')
    await t.clock.set(new Date('2026-03-02T09:00:00Z'))
    await settled(t)
    const digest = mailServer.mails.slice(before)
    assert.equal(digest.length, 1)
    assert.match(digest[0], /Daily log digest/)
    assert.match(digest[0], /digest-task-1/)
    assert.match(digest[0], /digest-task-2/)

    assert.equal((await operator.put('/api/users/me/reports', { enabled: true, cycle: 'day', types: ['clients', 'tasks'] })).status, 200)
    await settled(t)
    const beforeReport = mailServer.mails.length
    await t.clock.set(new Date('2026-03-03T08:00:00Z'))
    await settled(t)
    const report = mailServer.mails.slice(beforeReport).find(m => /day report/.test(m))
    assert.ok(report !== undefined, 'the daily report mail arrived')
    assert.match(report, /filename=.?2026-03-03_clients\.csv/)
    assert.match(report, /filename=.?2026-03-03_tasks\.xlsx/)
  } finally {
    await t.close()
    await mailServer.close()
    await rm(src, { recursive: true, force: true })
  }
})

test('webhooks are signed with HMAC, retried with backoff and logged per attempt', async () => {
  const received: Array<{ headers: IncomingMessage['headers'], body: string }> = []
  let failFirst = 2
  const receiver = createServer((req, res) => {
    const parts: Buffer[] = []
    req.on('data', (b: Buffer) => parts.push(b))
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(parts).toString('utf8') })
      res.statusCode = failFirst-- > 0 ? 503 : 204
      res.end()
    })
  })
  await new Promise<void>(resolve => receiver.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`
  const t = await startTestDaemon({ ...longSessions, webhooks: { backoffMs: 2000, maxAttempts: 5 } })
  const src = await mkdtemp(join(tmpdir(), 'cairn-src-'))
  try {
    const { admin, operator, operatorId } = await withUsers(t)
    assert.equal((await admin.post('/api/webhooks', { url: 'ftp://example.test/', events: ['task'] })).status, 400)
    assert.equal((await admin.post('/api/webhooks', { url, events: ['task'] })).body.name, 'WebhookTargetRefusedError', 'a loopback receiver needs allowLocal')
    const hook = await admin.post('/api/webhooks', { url, events: ['task'], allowLocal: true })
    assert.equal(hook.status, 201)
    const secret: string = hook.body.secret
    assert.ok(secret.length >= 32)
    assert.equal((await admin.get('/api/webhooks')).body[0].secret, undefined, 'the secret is shown only once')

    const { nodeId, spaceId } = await spaceFor(t, admin, operatorId)
    await operator.post('/api/tasks', { name: 'hooked-task', nodeId, spaceId, sources: { include: [src] } })
    await settled(t)
    assert.equal(received.length, 1)
    await t.clock.advance(1999)
    await settled(t)
    assert.equal(received.length, 1, 'no retry before the backoff')
    await t.clock.advance(1)
    await settled(t)
    assert.equal(received.length, 2)
    await t.clock.advance(4000)
    await settled(t)
    assert.equal(received.length, 3)

    const last = received[2]
    assert.equal(last.headers['x-cairn-event'], 'task')
    const sig = String(last.headers['x-cairn-signature'])
    const now = Math.floor(t.clock.now().getTime() / 1000)
    assert.ok(verifyWebhookSignature(secret, sig, last.body, now), 'the receiver can verify the signature')
    assert.ok(!verifyWebhookSignature('another secret', sig, last.body, now))
    assert.ok(!verifyWebhookSignature(secret, sig, last.body.replace('hooked', 'hacked'), now), 'a changed body does not verify')
    assert.ok(!verifyWebhookSignature(secret, sig, last.body, now + 3600), 'an old delivery does not verify (replay)')
    const payload = JSON.parse(last.body)
    assert.equal(payload.event, 'task')
    assert.match(payload.data.message, /hooked-task/)

    const log = await admin.get(`/api/webhooks/${hook.body.id}/deliveries`)
    assert.equal(log.body.items[0].status, 'delivered')
    assert.deepEqual(log.body.items[0].attempts.map((a: { status: number }) => a.status), [503, 503, 204])
  } finally {
    await t.close()
    await new Promise<void>(resolve => receiver.close(() => resolve()))
    await rm(src, { recursive: true, force: true })
  }
})

test('reports and logs download as CSV and xlsx; metrics; the live monitor streams a job', async () => {
  const gate = jobGate()
  const t = await startTestDaemon({ jobs: { beforeJob: gate.beforeJob } })
  const src = await mkdtemp(join(tmpdir(), 'cairn-src-'))
  try {
    await writeFile(join(src, 'f'), 'report me')
    const { admin, operator, operatorId } = await withUsers(t)
    const { nodeId, spaceId } = await spaceFor(t, admin, operatorId)
    const task = (await operator.post('/api/tasks', { name: '=cmd|calc', nodeId, spaceId, sources: { include: [src] } })).body

    gate.hold()
    const job = (await operator.post(`/api/tasks/${task.id}/start`, { level: 'full' })).body
    const res = await fetch(`${t.daemon.url}/api/jobs/${job.id}/events`, { headers: { cookie: operator.cookie! } })
    assert.equal(res.headers.get('content-type'), 'text/event-stream')
    gate.release()
    const stream = await res.text()
    assert.match(stream, /^event: job$/m)
    assert.match(stream, /^event: log$/m)
    assert.match(stream, /^event: end$/m)
    const end = stream.split('\n\n').find(b => b.startsWith('event: end'))!
    assert.equal(JSON.parse(end.split('data: ')[1]).status, 'success')
    await finished(t, operator, job.id)

    const csv = await operator.get('/api/reports/tasks?format=csv')
    assert.match(csv.headers.get('content-type') ?? '', /text\/csv/)
    const lines = csv.text.trim().split('\r\n')
    assert.match(lines[0], /^Task name,Type,User space,Runs/)
    assert.ok(lines[1].startsWith("'=cmd|calc"), 'formula-looking cells are defused')
    const xlsx = await fetch(`${t.daemon.url}/api/reports/clients?format=xlsx`, { headers: { cookie: operator.cookie! } })
    const wb = new ExcelJS.Workbook()
    await wb.xlsx.load(await xlsx.arrayBuffer())
    const sheet = wb.worksheets[0]
    assert.equal(sheet.getRow(1).getCell(1).value, 'Client')
    assert.equal(sheet.rowCount, 2)
    const json = await operator.get('/api/reports/clients?format=json')
    assert.ok(json.body.rows[0].bytes > 0)

    const logs = await operator.get('/api/logs/download?format=csv&type=task')
    assert.match(logs.headers.get('content-disposition') ?? '', /attachment; filename="\d{4}-\d{2}-\d{2}_logs\.csv"/)
    assert.match(logs.text, /Creation time,Log type,User,Log source,Log level,Content/)
    const paged = await operator.get('/api/logs?pageSize=2&page=1')
    assert.equal(paged.body.items.length, 2)
    assert.ok(paged.body.total > 2)
    const ranged = await operator.get(`/api/logs?from=2030-01-01T00:00:00Z`)
    assert.equal(ranged.body.total, 0)

    // Without a metrics token anyone may scrape, but no series names a user space (issue 13).
    const text = await (await fetch(`${t.daemon.url}/metrics`)).text()
    assert.match(text, /^cairn_jobs_total\{type="backup",status="success"\} 1$/m)
    assert.match(text, /^cairn_nodes\{state="online"\} 1$/m)
    assert.doesNotMatch(text, /ops01_space|cairn_space_used_bytes\{/)
    // With one, only its bearer scrapes, and sees every series.
    const { token } = (await admin.post('/api/settings/metrics/token', {})).body
    assert.equal((await admin.get('/api/settings/metrics')).body.tokenSet, true)
    assert.equal((await fetch(`${t.daemon.url}/metrics`)).status, 401)
    assert.equal((await fetch(`${t.daemon.url}/metrics`, { headers: { authorization: 'Bearer not-the-token' } })).status, 401)
    const full = await (await fetch(`${t.daemon.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text()
    assert.match(full, /^cairn_space_used_bytes\{space="ops01_space"\} \d+$/m)

    const dash = await operator.get('/api/dashboard')
    assert.equal(dash.body.nodes.online, 1)
    assert.equal(dash.body.dailyBackupBytes.length, 7)
    assert.ok(dash.body.dailyBackupBytes.at(-1).bytes > 0)
  } finally {
    gate.release()
    await t.close()
    await rm(src, { recursive: true, force: true })
  }
})
