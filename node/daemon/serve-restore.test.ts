// The review's hang (issue 13, H1) against `cairn serve` started through the package's bin: a
// restore to /proc/self/fd used to answer 202 and then loop forever in the event loop, so the API
// stopped answering and SIGTERM was ignored. Now it is refused with 400, the node keeps
// answering, and SIGTERM stops it.
import test from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ADMIN_PASSWORD } from './test-daemon.ts'

const bin = fileURLToPath(new URL('../bin/cairn.js', import.meta.url))

test('a restore to /proc/self/fd is refused and the node keeps answering and stops on SIGTERM', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-serve-h1-'))
  const child = spawn(process.execPath, [bin, 'serve', '--listen', '127.0.0.1:0', '--data', join(dir, 'node'), '--insecure-http'], {
    env: { ...process.env, CAIRN_ADMIN_PASSWORD: ADMIN_PASSWORD }, stdio: ['ignore', 'ignore', 'pipe']
  })
  const killer = setTimeout(() => child.kill('SIGKILL'), 240_000)
  let stderr = ''
  try {
    const base = await new Promise<string>((resolve, reject) => {
      child.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); const m = /listening on (http:\/\/[\d.:]+)/.exec(stderr); if (m !== null) resolve(m[1]) })
      child.on('exit', code => reject(new Error(`cairn serve exited ${String(code)}: ${stderr}`)))
    })
    // Every request has a deadline: a node whose event loop hangs fails the test instead of hanging it.
    const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number, body: any, cookie: string | null }> => {
      const r = await fetch(base + path, { method, headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(20_000) })
      return { status: r.status, body: await r.json().catch(() => undefined), cookie: r.headers.get('set-cookie') }
    }
    const login = await call('POST', '/api/auth/login', { username: 'admin', password: ADMIN_PASSWORD })
    const h = { cookie: login.cookie!.split(';')[0], 'x-csrf-token': login.body.csrfToken }
    const src = join(dir, 'src')
    await mkdir(join(src, 'sub'), { recursive: true })
    await writeFile(join(src, 'sub', 'f.txt'), 'x')
    const nodeId = (await call('GET', '/api/nodes', undefined, h)).body[0].id
    const spaceId = (await call('POST', '/api/spaces', { name: 'h1_space', type: 'backup', nodeId, ownerId: login.body.user.id, capacityBytes: 2 ** 30 }, h)).body.id
    const taskId = (await call('POST', '/api/tasks', { name: 'h1-task', nodeId, spaceId, sources: { include: [src] } }, h)).body.id
    const job = (await call('POST', `/api/tasks/${taskId}/start`, { level: 'full' }, h)).body
    for (let i = 0; i < 600 && (await call('GET', `/api/jobs/${job.id}`, undefined, h)).body.status === 'running'; i++) await new Promise(resolve => setTimeout(resolve, 100))

    const r = await call('POST', '/api/restores', { spaceId, taskId, snapshot: 'latest', targetPath: '/proc/self/fd', conflict: 'overwrite' }, h)
    assert.equal(r.status, 400, JSON.stringify(r.body))
    assert.equal(r.body.name, 'RestoreTargetRefusedError')
    assert.equal((await call('GET', '/api/health')).status, 200, 'the node still answers')

    const code = await new Promise<number | null>(resolve => { child.on('exit', resolve); child.kill('SIGTERM') })
    assert.equal(code, 0, stderr)
  } finally {
    clearTimeout(killer)
    if (child.exitCode === null) child.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  }
})
