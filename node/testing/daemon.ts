// Test fixtures: a real daemon (LevelDB in a temp dir, HTTP on 127.0.0.1, manual clock) and a small
// client that keeps the session cookie and CSRF token like a browser console would.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startDaemon, type Daemon, type DaemonInit } from '../daemon/index.ts'
import { manualClock, type ManualClock } from '../clock/index.ts'
import { initRepository, openRepository, openRepositoryOver } from '../../chunkstore/index.ts'
import type { RepositoryOpener } from '../jobs/index.ts'

/** chunkstore with a cheap key-derivation cost, so tests spend their time on the behaviour under test. */
export const testRepositories: RepositoryOpener = {
  open: openRepository,
  init: async (dir, o) => await initRepository(dir, { ...o, kdf: { N: 1 << 10, r: 8, p: 1 } }),
  over: openRepositoryOver,
  kdf: { N: 1 << 10, r: 8, p: 1 }
}

export const ADMIN_PASSWORD = 'correct horse battery staple'
export const FAST_SCRYPT = { logN: 10, r: 8, p: 1 }

export interface TestDaemon { daemon: Daemon, clock: ManualClock, dir: string, close: () => Promise<void> }

export async function startTestDaemon (init: Partial<DaemonInit> = {}, existingDir?: string): Promise<TestDaemon> {
  const dir = existingDir ?? await mkdtemp(join(tmpdir(), 'cairn-daemon-'))
  const clock = (init.clock as ManualClock | undefined) ?? manualClock(new Date('2026-03-02T00:00:00Z'))
  const daemon = await startDaemon({
    dataDir: dir, host: '127.0.0.1', port: 0, insecureHttp: true, clock, adminPassword: ADMIN_PASSWORD, repositories: testRepositories,
    ...init,
    accounts: { scryptCost: FAST_SCRYPT, ...init.accounts }
  })
  return {
    daemon, clock, dir,
    async close () {
      await daemon.stop()
      if (existingDir === undefined) await rm(dir, { recursive: true, force: true })
    }
  }
}

export interface Reply<T = any> { status: number, body: T, headers: Headers, text: string }

export class ApiClient {
  cookie?: string
  csrf?: string
  constructor (readonly base: string) {}

  async call<T = any> (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply<T>> {
    const h: Record<string, string> = { ...headers }
    if (body !== undefined) h['content-type'] ??= 'application/json'
    if (this.cookie !== undefined) h.cookie = this.cookie
    if (this.csrf !== undefined && method !== 'GET') h['x-csrf-token'] ??= this.csrf
    const res = await fetch(this.base + path, { method, headers: h, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) })
    const set = res.headers.get('set-cookie')
    if (set !== null) {
      const first = set.split(';')[0]
      this.cookie = first.endsWith('=') ? undefined : first
    }
    const text = await res.text()
    let parsed: unknown = text
    try { parsed = JSON.parse(text) } catch { /* not JSON */ }
    return { status: res.status, body: parsed as T, headers: res.headers, text }
  }

  get<T = any> (path: string): Promise<Reply<T>> { return this.call<T>('GET', path) }
  post<T = any> (path: string, body?: unknown): Promise<Reply<T>> { return this.call<T>('POST', path, body ?? {}) }
  patch<T = any> (path: string, body: unknown): Promise<Reply<T>> { return this.call<T>('PATCH', path, body) }
  put<T = any> (path: string, body: unknown): Promise<Reply<T>> { return this.call<T>('PUT', path, body) }
  del<T = any> (path: string, body?: unknown): Promise<Reply<T>> { return this.call<T>('DELETE', path, body) }

  async login (username: string, password: string): Promise<Reply> {
    const r = await this.post('/api/auth/login', { username, password })
    if (r.status === 200 && r.body.step === 'done') this.csrf = r.body.csrfToken
    return r
  }
}

/** Logs in as admin and creates an operator and an auditor; returns a client for each. */
export async function withUsers (t: TestDaemon): Promise<{ admin: ApiClient, operator: ApiClient, auditor: ApiClient, operatorId: string, auditorId: string }> {
  const admin = new ApiClient(t.daemon.url)
  const r = await admin.login('admin', ADMIN_PASSWORD)
  if (r.status !== 200) throw new Error(`admin login: ${r.status} ${r.text}`)
  const op = await admin.post('/api/users', { name: 'ops01', password: 'operator password 1', role: 'operator', email: 'ops01@example.test' })
  const au = await admin.post('/api/users', { name: 'audit01', password: 'auditor password 1', role: 'auditor' })
  const operator = new ApiClient(t.daemon.url)
  await operator.login('ops01', 'operator password 1')
  const auditor = new ApiClient(t.daemon.url)
  await auditor.login('audit01', 'auditor password 1')
  return { admin, operator, auditor, operatorId: op.body.id, auditorId: au.body.id }
}

/** Folders operators may reach on the test node: the temp folder, where the tests' sources and targets are. */
export const TEST_ROOTS = { sources: [tmpdir()], restores: [tmpdir()] }

/** The local node's id (assigned to `ownerId`, operators reaching TEST_ROOTS) and a backup space on it owned by `ownerId`. */
export async function spaceFor (t: TestDaemon, admin: ApiClient, ownerId: string, name = 'ops01_space', capacityBytes = 10 * 2 ** 30): Promise<{ nodeId: string, spaceId: string }> {
  const nodes = await admin.get('/api/nodes')
  const nodeId = nodes.body.find((n: { local: boolean }) => n.local).id
  const assigned = await admin.patch(`/api/nodes/${nodeId}`, { ownerId, roots: TEST_ROOTS })
  if (assigned.status !== 200) throw new Error(`node: ${assigned.status} ${assigned.text}`)
  const s = await admin.post('/api/spaces', { name, type: 'backup', nodeId, ownerId, capacityBytes })
  if (s.status !== 201) throw new Error(`space: ${s.status} ${s.text}`)
  return { nodeId, spaceId: s.body.id }
}

/** Waits until a job has recorded its end and returns it as the API shows it. */
export async function finished (t: TestDaemon, client: ApiClient, jobId: string): Promise<any> {
  await t.daemon.runner.waitFor(jobId)
  return (await client.get(`/api/jobs/${jobId}`)).body
}

/** A gate for DaemonInit.jobs.beforeJob: jobs wait in "running" until released. */
export function jobGate (): { beforeJob: () => Promise<void>, release: () => void, hold: () => void } {
  let open = true
  let waiters: Array<() => void> = []
  return {
    beforeJob: async () => { if (!open) await new Promise<void>(resolve => waiters.push(resolve)) },
    release: () => { open = true; for (const w of waiters) w(); waiters = [] },
    hold: () => { open = false }
  }
}
