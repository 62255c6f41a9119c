// The console's only way to the node: JSON over HTTP with the session cookie and the CSRF header.
// Every shape it sends and receives is the node's own (node/api/dto.ts, `import type` only).
import type {
  Page, LoginReply, PublicUser, NodeRecord, SpaceRecord, TaskRecord, TaskInput, JobRecord,
  JobLogLine, LogEntry, ReportTable, AuditEntry, NotificationPrefs, ReportPrefs, Webhook, WebhookEvent, SnapshotRecord, TreeEntry, RestoreRequest, CleanRequest,
  AgentType, SmtpSettings, Delivery, EscrowAnswer, AdoptRequest, Dashboard, About, NodeView, MeshStatus, MeshPolicy, Bandwidth, FileEntry, BlockDevice, DataRow, LoginChallenge, PlanReport,
  DeviceView, DeviceInput, DeviceTest, ArchiveTaskRecord, ArchiveTaskInput, ArchiveTaskChange, ArchiveRecord, ArchiveDataRow, DeviceCartridges
} from '../../node/api/dto.ts'
import { ApiCallError } from './errors.ts'

export type {
  Page, LoginReply, PublicUser, NodeRecord, SpaceRecord, TaskRecord, TaskInput, JobRecord, JobLogLine, LogEntry,
  SnapshotRecord, TreeEntry, RestoreRequest, CleanRequest, AuditEntry, NotificationPrefs, ReportPrefs, ReportTable,
  About, AgentType, SmtpSettings, Delivery, Schedule, Webhook, WebhookEvent, EscrowAnswer, AdoptRequest, Dashboard, NodeView, MeshStatus, MeshRole, MeshPolicy,
  Bandwidth, BandwidthWindow, FileEntry, BlockDevice, DataRow, LoginChallenge, LogType, LogLevel, JobType, PlanReport, PlanChart, PlanFinding,
  DeviceView, DeviceInput, DeviceTest, ArchiveTaskRecord, ArchiveTaskInput, ArchiveTaskChange, ArchiveRecord, ArchiveDataRow, DeviceCartridges
} from '../../node/api/dto.ts'


/** The codes of a lost session (NotAuthenticatedError, SessionExpiredError). */
const SESSION_LOST = new Set(['NOT_AUTHENTICATED', 'SESSION_EXPIRED'])
let csrfToken = ''
let onUnauthenticated: () => void = () => {}

export function setCsrfToken (token: string): void { csrfToken = token }
export function whenUnauthenticated (fn: () => void): void { onUnauthenticated = fn }

export async function call<T> (method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' }
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken
  const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await res.text()
  const data = text === '' ? undefined : JSON.parse(text)
  if (!res.ok) {
    const err = new ApiCallError(res.status, data ?? { name: 'HttpError', code: 'HTTP_ERROR', message: res.statusText })
    // Only a lost session sends the operator to the login screen; a wrong password typed to
    // confirm a deletion or unlock the screen (LoginFailedError) is that dialog's error.
    if (res.status === 401 && SESSION_LOST.has(err.code)) onUnauthenticated()
    throw err
  }
  return data as T
}

const q = (params: Record<string, string | number | undefined>): string => {
  const s = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') s.set(k, String(v))
  const t = s.toString()
  return t === '' ? '' : `?${t}`
}

export const api = {
  login: async (username: string, password: string) => await call<LoginReply>('POST', '/api/auth/login', { username, password }),
  loginToken: async (body: { nonce: string, user: string, attemptId: string, origin: string, signature: string }) => await call<LoginReply>('POST', '/api/auth/login/token', body),
  session: async () => await call<{ user: PublicUser, csrfToken: string, sessionId: string, idleTimeoutMs: number }>('GET', '/api/auth/session'),
  logout: async () => await call<{ ok: true }>('POST', '/api/auth/logout', {}),
  reauth: async (password: string) => await call<{ ok: true }>('POST', '/api/auth/reauth', { password }),
  changePassword: async (currentPassword: string, newPassword: string) => await call<{ ok: true }>('POST', '/api/auth/password', { currentPassword, newPassword }),
  dashboard: async () => await call<Dashboard>('GET', '/api/dashboard'),
  nodes: async () => await call<NodeView[]>('GET', '/api/nodes'),
  node: async (id: string) => await call<NodeView>('GET', `/api/nodes/${id}`),
  registerNode: async (body: { name: string, hostname: string, os: string, version: string, ip: string, agentTypes: AgentType[], ownerId?: string }) => await call<NodeRecord>('POST', '/api/nodes', body),
  deleteNode: async (id: string) => await call<{ ok: true }>('DELETE', `/api/nodes/${id}`),
  patchNode: async (id: string, body: { name?: string, agentTypes?: string[], ownerId?: string | null, roots?: { sources: string[], restores: string[] } }) => await call<NodeRecord>('PATCH', `/api/nodes/${id}`, body),
  files: async (nodeId: string, path: string) => await call<{ path: string, entries: FileEntry[] }>('GET', `/api/nodes/${nodeId}/files${q({ path })}`),
  blockDevices: async (nodeId: string) => await call<BlockDevice[]>('GET', `/api/nodes/${nodeId}/block-devices`),
  spaces: async () => await call<SpaceRecord[]>('GET', '/api/spaces'),
  createSpace: async (body: Record<string, unknown>) => await call<SpaceRecord>('POST', '/api/spaces', body),
  patchSpace: async (id: string, body: { name?: string, capacityBytes?: number }) => await call<SpaceRecord>('PATCH', `/api/spaces/${id}`, body),
  deleteSpace: async (id: string) => await call<{ ok: true }>('DELETE', `/api/spaces/${id}`),
  escrowSpace: async (id: string) => await call<EscrowAnswer>('POST', `/api/spaces/${id}/escrow`, {}),
  adoptSpace: async (body: AdoptRequest) => await call<{ space: SpaceRecord, snapshots: number }>('POST', '/api/spaces/adopt', body),
  tasks: async () => await call<TaskRecord[]>('GET', '/api/tasks'),
  task: async (id: string) => await call<TaskRecord>('GET', `/api/tasks/${id}`),
  updateTask: async (id: string, body: Partial<TaskInput>) => await call<TaskRecord>('PATCH', `/api/tasks/${id}`, body),
  createTask: async (body: TaskInput) => await call<TaskRecord>('POST', '/api/tasks', body),
  startTask: async (id: string, level: 'full' | 'incremental', remark?: string) => await call<JobRecord>('POST', `/api/tasks/${id}/start`, remark === undefined || remark === '' ? { level } : { level, remark }),
  deleteTask: async (id: string, confirm: string) => await call<{ ok: true }>('DELETE', `/api/tasks/${id}`, { confirm }),
  taskJobs: async (id: string) => await call<JobRecord[] | Page<JobRecord>>('GET', `/api/tasks/${id}/jobs`),
  jobs: async (params: { type?: string, status?: string, taskId?: string, search?: string, page?: number, pageSize?: number }) => await call<Page<JobRecord>>('GET', `/api/jobs${q(params)}`),
  running: async () => await call<JobRecord[]>('GET', '/api/jobs/running'),
  job: async (id: string) => await call<JobRecord>('GET', `/api/jobs/${id}`),
  jobLog: async (id: string) => await call<JobLogLine[]>('GET', `/api/jobs/${id}/log`),
  stopJob: async (id: string) => await call<JobRecord>('POST', `/api/jobs/${id}/stop`, {}),
  snapshots: async (spaceId: string, taskId?: string) => await call<SnapshotRecord[]>('GET', `/api/spaces/${spaceId}/snapshots${q({ taskId })}`),
  entries: async (spaceId: string, snapshot: string, params: { path?: string, children?: boolean, offset?: number, limit?: number, search?: string }) =>
    await call<{ snapshot: SnapshotRecord, entries: TreeEntry[], more: boolean }>('GET', `/api/spaces/${spaceId}/snapshots/${encodeURIComponent(snapshot)}/entries${q({ ...params, children: params.children === true ? 'true' : undefined })}`),
  restore: async (body: RestoreRequest) => await call<JobRecord>('POST', '/api/restores', body),
  dataTasks: async (from?: string, to?: string) => await call<DataRow[]>('GET', `/api/data/tasks${q({ from, to })}`),
  clean: async (body: CleanRequest) => await call<JobRecord>('POST', '/api/data/clean', body),
  logs: async (params: { user?: string, type?: string, level?: string, from?: string, to?: string, page: number, pageSize: number }) => await call<Page<LogEntry>>('GET', `/api/logs${q(params)}`),
  logDownloadUrl: (format: 'csv' | 'xlsx') => `/api/logs/download?format=${format}`,
  logBundleUrl: () => '/api/logs/bundle',
  about: async () => await call<About>('GET', '/api/about'),
  report: async (kind: 'clients' | 'tasks') => await call<ReportTable>('GET', `/api/reports/${kind}?format=json`),
  reportUrl: (kind: 'clients' | 'tasks', format: 'csv' | 'xlsx') => `/api/reports/${kind}?format=${format}`,
  drills: async (page: number, pageSize: number) => await call<Page<JobRecord & { passed: boolean }>>('GET', `/api/drills?page=${page}&pageSize=${pageSize}`),
  drill: async (taskId: string) => await call<JobRecord>('POST', `/api/tasks/${taskId}/drill`, {}),
  me: async () => await call<PublicUser>('GET', '/api/users/me'),
  setEmail: async (email: string) => await call<PublicUser>('PATCH', '/api/users/me', { email }),
  sessions: async () => await call<Array<{ id: string, createdAt: string, lastSeenAt: string, ip: string, userAgent: string, current: boolean }>>('GET', '/api/auth/sessions'),
  endSession: async (id: string) => await call<{ ok: true }>('DELETE', `/api/auth/sessions/${id}`),
  notifications: async () => await call<NotificationPrefs>('GET', '/api/users/me/notifications'),
  setNotifications: async (body: Omit<NotificationPrefs, 'lastDigestAt'>) => await call<NotificationPrefs>('PUT', '/api/users/me/notifications', body),
  reportPrefs: async () => await call<ReportPrefs>('GET', '/api/users/me/reports'),
  setReportPrefs: async (body: Omit<ReportPrefs, 'lastSentAt'>) => await call<ReportPrefs>('PUT', '/api/users/me/reports', body),
  webhooks: async () => await call<Array<Omit<Webhook, 'secret'>>>('GET', '/api/webhooks'),
  createWebhook: async (url: string, events: WebhookEvent[], allowLocal: boolean) => await call<Webhook>('POST', '/api/webhooks', { url, events, ...(allowLocal ? { allowLocal } : {}) }),
  patchWebhook: async (id: string, body: { enabled?: boolean }) => await call<Webhook>('PATCH', `/api/webhooks/${id}`, body),
  deleteWebhook: async (id: string) => await call<{ ok: true }>('DELETE', `/api/webhooks/${id}`),
  patchUser: async (id: string, body: { role?: string, email?: string, enabled?: boolean, unlock?: boolean }) => await call<PublicUser>('PATCH', `/api/users/${id}`, body),
  enrolToken: async (id: string, certificate: string, proof?: SignedChallenge) => await call<PublicUser>('PUT', `/api/users/${id}/token`, proof === undefined ? { certificate } : { certificate, proof }),
  enrolChallenge: async (id: string) => await call<{ challenge: LoginChallenge }>('POST', `/api/users/${id}/token/challenge`, {}),
  removeToken: async (id: string) => await call<{ ok: true }>('DELETE', `/api/users/${id}/token`),
  audit: async (from: number, limit: number) => await call<AuditEntry[]>('GET', `/api/audit?from=${from}&limit=${limit}`),
  verifyAudit: async () => await call<{ ok: boolean, records: number, brokenAt?: number }>('GET', '/api/audit/verify'),
  users: async () => await call<PublicUser[]>('GET', '/api/users'),
  createUser: async (body: { name: string, password: string, role: string, email?: string }) => await call<PublicUser>('POST', '/api/users', body),
  deleteUser: async (id: string) => await call<{ ok: true }>('DELETE', `/api/users/${id}`),
  smtp: async () => await call<SmtpSettings | null>('GET', '/api/settings/smtp'),
  setSmtp: async (body: SmtpSettings) => await call<{ ok: true }>('PUT', '/api/settings/smtp', body),
  testSmtp: async (to?: string) => await call<{ ok: true }>('POST', '/api/settings/smtp/test', to === undefined || to === '' ? {} : { to }),
  mesh: async () => await call<MeshStatus | { configured: false }>('GET', '/api/mesh'),
  planningScenario: async () => await call<{ scenario: string }>('GET', '/api/planning/scenario'),
  planningRun: async (scenario: string) => await call<PlanReport>('POST', '/api/planning/run', { scenario }),
  replicate: async () => await call<{ jobId: string }>('POST', '/api/mesh/replicate', {}),
  invite: async (ttlHours: number) => await call<{ invitation: string, expires: string }>('POST', '/api/mesh/invitations', { ttlHours }),
  removeMember: async (member: string) => await call<{ ok: true }>('DELETE', `/api/mesh/members/${encodeURIComponent(member)}`),
  setMeshPolicies: async (body: { policies: MeshPolicy[], bandwidth?: Bandwidth }) => await call<{ policies: MeshStatus['policies'], bandwidth: Bandwidth | null }>('PUT', '/api/mesh/policies', body),
  archiveDevices: async () => await call<DeviceView[]>('GET', '/api/archive/devices'),
  addArchiveDevice: async (body: DeviceInput) => await call<DeviceView>('POST', '/api/archive/devices', body),
  removeArchiveDevice: async (name: string) => await call<{ ok: true }>('DELETE', `/api/archive/devices/${encodeURIComponent(name)}`),
  testArchiveDevice: async (name: string) => await call<DeviceTest>('POST', `/api/archive/devices/${encodeURIComponent(name)}/test`, {}),
  verifyArchiveDevice: async (name: string) => await call<JobRecord>('POST', `/api/archive/devices/${encodeURIComponent(name)}/verify`, {}),
  archiveTasks: async () => await call<Array<ArchiveTaskRecord & { status: string, runningJobId?: string, nextRuns: Array<{ nextRunAt: string | null }> }>>('GET', '/api/archive/tasks'),
  createArchiveTask: async (body: ArchiveTaskInput) => await call<ArchiveTaskRecord>('POST', '/api/archive/tasks', body),
  updateArchiveTask: async (id: string, change: ArchiveTaskChange) => await call<ArchiveTaskRecord>('PATCH', `/api/archive/tasks/${id}`, change),
  deleteArchiveTask: async (id: string) => await call<{ ok: true }>('DELETE', `/api/archive/tasks/${id}`, { confirm: 'YES' }),
  runArchiveTask: async (id: string) => await call<JobRecord>('POST', `/api/archive/tasks/${id}/start`, {}),
  restoreFromArchive: async (archiveTaskId: string, snapshot: string) => await call<JobRecord>('POST', '/api/archive/restores', { archiveTaskId, snapshot }),
  archiveData: async () => await call<ArchiveDataRow[]>('GET', '/api/archive/data'),
  archiveCartridges: async (name: string) => await call<DeviceCartridges>('GET', `/api/archive/devices/${encodeURIComponent(name)}/cartridges`),
  archiveRecords: async () => await call<ArchiveRecord[]>('GET', '/api/archive/records'),
  deliveries: async (hookId: string, page: number, pageSize: number) => await call<Page<Delivery>>('GET', `/api/webhooks/${hookId}/deliveries?page=${page}&pageSize=${pageSize}`)
}

/** A login (or enrolment) challenge as the signing helper answered it: what the node checks. */
export interface SignedChallenge { nonce: string, user: string, attemptId: string, origin: string, signature: string }

/** A token the signing helper sees (GET /v1/tokens, no PIN), with its public objects. */
export interface HelperToken {
  label: string, manufacturer: string, model: string, serialNumber: string, pinCountLow: boolean, pinFinalTry: boolean, pinLocked: boolean
  objects: Array<{ kind: 'private-key' | 'public-key' | 'certificate', label: string, id: string, fingerprint256?: string }>
}

/** The local signing helper (F27) on the operator's machine: lists the USB keys plugged in and asks one to sign a challenge. */
export const signingHelper = {
  url: (): string => localStorage.getItem('cairn.signingHelper') ?? 'http://127.0.0.1:47127',
  async tokens (): Promise<HelperToken[]> {
    return (await helperCall<{ tokens: HelperToken[] }>('GET', '/v1/tokens')).tokens
  },
  async sign (body: { tokenLabel: string, pin: string, keyLabel?: string, keyId?: string, challenge: LoginChallenge }): Promise<{ signature: string, origin: string, certificate: string | null }> {
    return await helperCall('POST', '/v1/sign', body)
  }
}

async function helperCall<T> (method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  let res: Response
  try {
    res = await fetch(`${signingHelper.url()}${path}`, method === 'GET' ? {} : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  } catch (cause) {
    throw new ApiCallError(0, { name: 'SigningHelperUnreachableError', code: 'SIGNING_HELPER_UNREACHABLE', message: String(cause) })
  }
  const data = await res.json()
  if (!res.ok) throw new ApiCallError(res.status, data)
  return data
}
