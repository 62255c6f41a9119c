// The daemon as a process: HTTPS with a self-signed certificate made at first start, plain HTTP
// only on loopback, `cairn serve` stopping cleanly on SIGTERM, and nothing lost across a restart.
// test-suite: processes
import test from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm, readFile, stat, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'node:https'
import { X509Certificate } from 'node:crypto'
import { startDaemon } from './daemon.ts'
import { ApiClient, ADMIN_PASSWORD, CAIRN_BIN, FAST_SCRYPT, jobGate, spaceFor, startTestDaemon, withUsers, testRepositories } from '../testing/index.ts'

const getTls = async (url: string, ca: string): Promise<{ status: number, body: string, cookie?: string }> => await new Promise((resolve, reject) => {
  const req = request(url, { ca, servername: 'localhost' }, res => {
    let body = ''
    res.on('data', (c: Buffer) => { body += c.toString() })
    res.on('end', () => resolve({ status: res.statusCode ?? 0, body, cookie: res.headers['strict-transport-security'] as string | undefined }))
  })
  req.on('error', reject)
  req.end()
})

test('first start makes a self-signed certificate and serves HTTPS; plain HTTP only on loopback', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-daemon-'))
  try {
    await assert.rejects(startDaemon({ dataDir: dir, host: '0.0.0.0', port: 0, insecureHttp: true }), { name: 'InsecureListenError' })
    const d = await startDaemon({ dataDir: dir, host: '127.0.0.1', port: 0, accounts: { scryptCost: FAST_SCRYPT }, repositories: testRepositories })
    try {
      assert.match(d.url, /^https:\/\/127\.0\.0\.1:\d+$/)
      const cert = await readFile(join(dir, 'tls', 'cert.pem'), 'utf8')
      assert.equal((await stat(join(dir, 'tls', 'key.pem'))).mode & 0o777, 0o600)
      const r = await getTls(`${d.url.replace('127.0.0.1', 'localhost')}/api/health`, cert)
      assert.equal(r.status, 200)
      assert.equal(JSON.parse(r.body).status, 'ok')
      assert.match(r.cookie ?? '', /max-age/, 'HSTS over TLS')
      const password = (await readFile(join(dir, 'initial-admin-password'), 'utf8')).trim()
      assert.ok(password.length >= 20, 'a random first admin password, kept in a 0600 file')
      assert.equal((await stat(join(dir, 'initial-admin-password'))).mode & 0o777, 0o600)
    } finally { await d.stop() }
    const firstFingerprint = new X509Certificate(await readFile(join(dir, 'tls', 'cert.pem'), 'utf8')).fingerprint256
    const again = await startDaemon({ dataDir: dir, host: '127.0.0.1', port: 0, accounts: { scryptCost: FAST_SCRYPT } })
    try {
      assert.equal(again.certificateFingerprint, firstFingerprint, 'the certificate is made once and kept')
    } finally { await again.stop() }
  } finally { await rm(dir, { recursive: true, force: true }) }
})

test('a restart loses nothing: users, tasks, jobs and logs come back', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-daemon-'))
  try {
    const first = await startTestDaemon({}, dir)
    const { admin } = await withUsers(first)
    const nodes = (await admin.get('/api/nodes')).body
    await admin.patch(`/api/nodes/${nodes[0].id}`, { name: 'head-office' })
    await first.daemon.stop()
    // A job the node was running when it died (its record still says so): failed at the next start, with a code.
    const { openStateStore } = await import('../state/index.ts')
    const state = await openStateStore(join(dir, 'state'))
    await state.put('jobs', 'j-crashed', { id: 'j-crashed', type: 'backup', name: 'Nightly', status: 'running', trigger: 'manual', user: 'admin', spaceId: '', ownerId: '', startedAt: '2026-03-02T00:00:00.000Z', progress: { files: 0, bytes: 0, speed: 0 } })
    await state.close()
    const second = await startTestDaemon({}, dir)
    try {
      const c = new ApiClient(second.daemon.url)
      assert.equal((await c.login('admin', ADMIN_PASSWORD)).status, 200)
      assert.equal((await c.get('/api/users')).body.length, 3)
      const after = (await c.get('/api/nodes')).body
      assert.equal(after.length, 1, 'the local node is the same record')
      assert.equal(after[0].name, 'head-office')
      assert.ok((await c.get('/api/audit')).body.length >= 3)
      assert.equal((await c.get('/api/audit/verify')).body.ok, true)
      const crashed = (await c.get('/api/jobs/j-crashed')).body
      assert.deepEqual([crashed.status, crashed.errorCode], ['failed', 'JOB_INTERRUPTED'])
      const logs = (await c.get('/api/logs?type=system')).body.items
      assert.ok(logs.some((e: { text?: { code: string, params?: { n?: number } } }) => e.text?.code === 'JOBS_INTERRUPTED' && e.text.params?.n === 1), 'the interrupted job is logged with its code')
    } finally { await second.daemon.stop() }
  } finally { await rm(dir, { recursive: true, force: true }) }
})

test('`cairn serve` through the package\'s bin serves the web console at / and stops cleanly on SIGTERM', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-serve-'))
  try {
    const child = spawn(process.execPath, [CAIRN_BIN, 'serve', '--listen', '127.0.0.1:0', '--data', dir, '--insecure-http'], {
      env: { ...process.env, CAIRN_ADMIN_PASSWORD: ADMIN_PASSWORD }, stdio: ['ignore', 'pipe', 'pipe']
    })
    let err = ''
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString()
        const m = /listening on (http:\/\/[\d.:]+)/.exec(err)
        if (m !== null) resolve(m[1])
      })
      child.on('exit', code => reject(new Error(`exited ${String(code)}: ${err}`)))
    })
    const c = new ApiClient(url)
    assert.equal((await c.get('/api/health')).status, 200)
    // The console as a browser gets it: the bundled daemon must find console/dist of the checkout.
    const page = await fetch(`${url}/`)
    assert.equal(page.status, 200, await page.clone().text())
    assert.match(page.headers.get('content-type') ?? '', /text\/html/)
    const html = await page.text()
    assert.match(html, /<div id="app">/)
    const script = /src="\.?(\/assets\/[^"]+\.js)"/.exec(html)
    assert.ok(script !== null, 'index.html names its script')
    assert.equal((await fetch(`${url}${script[1]}`)).status, 200)
    assert.equal((await c.login('admin', ADMIN_PASSWORD)).status, 200)
    const code = await new Promise<number | null>(resolve => { child.on('exit', resolve); child.kill('SIGTERM') })
    assert.equal(code, 0, err)
    assert.match(err, /SIGTERM: stopping/)
    assert.ok(existsSync(join(dir, 'state')))
    const reopened = await startTestDaemon({}, dir)
    try {
      const c2 = new ApiClient(reopened.daemon.url)
      await c2.login('admin', ADMIN_PASSWORD)
      const logs = (await c2.get('/api/logs?type=system')).body.items.map((e: { message: string }) => e.message)
      assert.ok(logs.includes('Cairn node stopped'), 'the stop was recorded before the state closed')
    } finally { await reopened.daemon.stop() }
  } finally { await rm(dir, { recursive: true, force: true }) }
})

test('stopping the daemon stops a running job, which records its end before the state closes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-daemon-'))
  const src = await mkdtemp(join(tmpdir(), 'cairn-src-'))
  const gate = jobGate()
  try {
    await writeFile(join(src, 'f'), 'x')
    const first = await startTestDaemon({ jobs: { beforeJob: gate.beforeJob } }, dir)
    const { admin, operator, operatorId } = await withUsers(first)
    const { nodeId, spaceId } = await spaceFor(first, admin, operatorId)
    const task = (await operator.post('/api/tasks', { name: 'stopped-by-shutdown', nodeId, spaceId, sources: { include: [src] } })).body
    gate.hold()
    const job = (await operator.post(`/api/tasks/${task.id}/start`, {})).body
    await first.daemon.stop()
    const second = await startTestDaemon({}, dir)
    try {
      const c = new ApiClient(second.daemon.url)
      await c.login('ops01', 'operator password 1')
      const after = (await c.get(`/api/jobs/${job.id}`)).body
      assert.equal(after.status, 'stopped')
      assert.ok(after.endedAt !== undefined)
      assert.match((await c.get(`/api/jobs/${job.id}/log`)).body.map((l: { message: string }) => l.message).join('\n'), /shutting down/)
    } finally { await second.daemon.stop() }
  } finally {
    gate.release()
    await rm(dir, { recursive: true, force: true })
    await rm(src, { recursive: true, force: true })
  }
})
