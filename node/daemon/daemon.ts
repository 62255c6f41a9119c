import { EventEmitter } from 'node:events'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { hostname } from 'node:os'
import { existsSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { openStateStore, type StateStore } from '../state/index.ts'
import { createAccounts, type Accounts, type AccountsInit, type User } from '../auth/index.ts'
import { createInventory, osName, type Inventory } from '../inventory/index.ts'
import { createTasks, createJobRunner, createOperations, createScheduler, createRepositories, createEscrow, type RepositoryOpener, type Repositories, type SchedulerInit, type JobRunnerInit, type Scheduler, type JobRunner, type Operations, type Tasks, type TaskRecord } from '../jobs/index.ts'
import { createLogBook, createMetrics, createMailer, createNotifier, createWebhooks, type LogBook, type ReportSource, type WebhooksInit, type Notifier, type Webhooks, type Mailer } from '../notify/index.ts'
import { createApiServer, gatherMeshFacts, ROUTE_MODULES, type ApiContext, type CapacityPlanner } from '../api/index.ts'
import { consoleStatic } from '../api/console-static.ts'
import { limiterClockOf, systemClock, type Clock, type ManualClock } from './clock.ts'
import { ensureCertificate } from './tls.ts'
import { InvalidOptionError } from '../../chunkstore/index.ts'
import { AuditKeyError, InsecureListenError } from './errors.ts'
import type { HostedMesh } from '../mesh/hosted-mesh.ts'

/** The mesh the daemon hosts (issue 4): on when its folder holds mesh state (cairn mesh init|join). */
export interface DaemonMeshInit {
  /** Mesh state folder; default `<data>/mesh`, used only if it holds mesh state. Given explicitly, it must. */
  dir?: string
  replicateEveryMs?: number
  dialEveryMs?: number
  /** How often mesh members are registered/refreshed as nodes. Default 10 s. */
  memberEveryMs?: number
  /** Every mesh event as a structured record (cairn serve prints them as JSON lines on stderr). */
  log?: (event: Record<string, unknown>) => void
}

export interface DaemonInit {
  dataDir: string
  /** host:port; default 127.0.0.1:8443 (HTTPS) */
  host?: string
  port?: number
  /** Serve plain HTTP (only allowed on a loopback address). */
  insecureHttp?: boolean
  clock?: Clock
  /**
   * With a manual clock, the control socket also answers `clock` (the time, the next timer due,
   * whether work is under way) and `clock-set` (move the time, firing what came due). Tests and the
   * capacity-planning accuracy check step the clocks of several daemons together with it.
   */
  clockControl?: boolean
  /** The capacity planner (F28) the API offers; the program's entry wires sim/'s in. */
  planner?: CapacityPlanner
  repositories?: RepositoryOpener
  accounts?: AccountsInit
  scheduler?: SchedulerInit
  webhooks?: WebhooksInit
  jobs?: JobRunnerInit
  /** false: no mesh even if `<data>/mesh` holds mesh state. */
  mesh?: DaemonMeshInit | false
  /** The console's origin as browsers see it (signed into USB-key challenges); default the listen URL. */
  origin?: string
  /**
   * The audit trail's HMAC key (32 random bytes, base64url), made at first start; default
   * `<data>/audit.key`. Keep it apart from the state (another disk, a secrets mount) so whoever
   * can rewrite the state cannot also recompute the chain.
   */
  auditKeyFile?: string
  /** Initial admin password; otherwise a random one is written to <data>/initial-admin-password. */
  adminPassword?: string
  version?: string
  /** Where messages for the operator go (the first admin password, the URL). */
  say?: (line: string) => void
}

export interface Daemon {
  readonly url: string
  readonly app: FastifyInstance
  readonly state: StateStore
  readonly clock: Clock
  readonly accounts: Accounts
  readonly inventory: Inventory
  readonly tasks: Tasks
  readonly runner: JobRunner
  readonly operations: Operations
  readonly scheduler: Scheduler
  readonly logs: LogBook
  readonly notifier: Notifier
  readonly webhooks: Webhooks
  readonly mailer: Mailer
  /** The mesh node this daemon hosts, if any. */
  readonly mesh?: HostedMesh
  readonly certificateFingerprint?: string
  /** Stops the API, the scheduler and running jobs (each records its end), then closes the stores. */
  stop: () => Promise<void>
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

/** Starts a node daemon: state, scheduler, jobs, notifications and the HTTP API, in that order. */
export async function startDaemon (init: DaemonInit): Promise<Daemon> {
  const host = init.host ?? '127.0.0.1'
  if (init.insecureHttp === true && !LOOPBACK.has(host)) throw new InsecureListenError(host)
  const version = init.version ?? '0.1.0'
  const clock = init.clock ?? systemClock()
  const say = init.say ?? (() => {})
  await mkdir(init.dataDir, { recursive: true, mode: 0o700 })
  const state = await openStateStore(join(init.dataDir, 'state'))
  let mesh: HostedMesh | undefined
  let accountsMade: Accounts | undefined
  try {
    const events = new EventEmitter()
    const metrics = createMetrics()
    const logs = await createLogBook({ state, clock }, { auditKey: await auditKey(init.auditKeyFile ?? join(init.dataDir, 'audit.key')) })
    let listening = ''
    const accounts = accountsMade = createAccounts({ state, clock, logs }, { origin: () => init.origin ?? listening, ...init.accounts })
    const meshDir = init.mesh === false ? undefined : init.mesh?.dir
    const inventory = createInventory({ state, clock, logs }, { version, protectedPaths: [init.dataDir, ...(meshDir !== undefined ? [meshDir] : [])] })
    const repositories = createRepositories(init.dataDir, init.repositories, () => mesh?.replica)
    const runner = createJobRunner({ state, clock, logs, metrics, inventory, repositories }, init.jobs)
    let scheduler: Scheduler | undefined
    const tasks = createTasks({ state, clock, logs, inventory, isRunning: id => runner.isTaskRunning(id), changed: async id => { await scheduler?.taskChanged(id) } })
    const operations = createOperations({ clock, logs, inventory, tasks, runner, repositories, scratchDir: join(init.dataDir, 'scratch'), mesh: () => mesh })
    const escrow = createEscrow({ inventory, repositories, logs, tasks, mesh: () => mesh })
    scheduler = createScheduler({ state, clock, logs, tasks, operations }, init.scheduler)
    const mailer = createMailer({ state, metrics })
    const reports = reportSource({ state, inventory, tasks, runner })
    const notifier = createNotifier({ state, clock, logs, mailer, reports })
    const webhooks = createWebhooks({ state, clock, metrics }, init.webhooks)
    logs.onEntry(e => { notifier.onLog(e); webhooks.publishLog(e) })

    metrics.addGauge('cairn_jobs_running', 'Jobs running now', async () => [{ value: runner.running().length }])
    metrics.addGauge('cairn_nodes', 'Registered nodes by online state', async () => {
      const all = await inventory.listNodes({ role: 'admin' } as User)
      const online = all.filter(n => inventory.online(n)).length
      return [{ labels: { state: 'online' }, value: online }, { labels: { state: 'offline' }, value: all.length - online }]
    })
    metrics.addGauge('cairn_space_used_bytes', 'Bytes a user space\'s store takes on disk', async () =>
      (await inventory.listSpaces({ role: 'admin' } as User)).map(s => ({ labels: { space: s.name }, value: s.usedBytes })), { named: true })
    metrics.addGauge('cairn_space_capacity_bytes', 'Capacity (quota) of a user space', async () =>
      (await inventory.listSpaces({ role: 'admin' } as User)).map(s => ({ labels: { space: s.name }, value: s.capacityBytes })), { named: true })
    const policyLag = async (key: 'snapshotsBehind' | 'bytesBehind'): Promise<Array<{ labels: Record<string, string>, value: number }>> =>
      mesh === undefined ? [] : (await mesh.status()).policies.flatMap(p => p[key] === null ? [] : [{ labels: { policy: p.name }, value: p[key] }])
    metrics.addGauge('cairn_replication_snapshots_behind', 'Snapshots of a replication policy that one of its targets still lacks', async () => await policyLag('snapshotsBehind'), { named: true })
    metrics.addGauge('cairn_replication_bytes_behind', 'Bytes of a replication policy found missing at a target and not yet sent', async () => await policyLag('bytesBehind'), { named: true })

    mesh = await startMesh(init, { clock, repositories, inventory, tasks, logs, runner, operations, scheduler })
    const interrupted = await runner.recover()
    if (interrupted > 0) await logs.write({ type: 'system', level: 'warning', user: 'system', source: 'daemon', message: `${interrupted} job(s) were interrupted by the last shutdown and marked failed` })
    await inventory.registerLocal()
    if (!await accounts.hasUsers()) {
      const password = init.adminPassword ?? randomBytes(18).toString('base64url')
      await accounts.createUser({ name: 'admin', password, role: 'admin' }, { user: 'system', source: 'daemon' })
      if (init.adminPassword === undefined) {
        const file = join(init.dataDir, 'initial-admin-password')
        await writeFile(file, password + '\n', { mode: 0o600 })
        say(`Created user "admin"; its password is in ${file} (change it after the first login)`)
      }
    }

    const tls = init.insecureHttp === true ? undefined : await ensureCertificate(init.dataDir, host === '0.0.0.0' || host === '::' ? [] : [host])
    const ctx: ApiContext = {
      state, clock, logs, accounts, inventory, tasks, runner, operations, escrow, scheduler, repositories, mailer, notifier, webhooks, metrics, reports, events,
      mesh: () => mesh,
      startedAt: clock.now(),
      routeModules: [...ROUTE_MODULES, consoleStatic],
      planner: init.planner
    }
    const app = await createApiServer(ctx, { https: tls === undefined ? undefined : { key: tls.key, cert: tls.cert }, version })
    await scheduler.start()
    notifier.start()
    await webhooks.start()
    const address = await app.listen({ host, port: init.port ?? 8443 })
    const url = address.replace('0.0.0.0', '127.0.0.1')
    listening = url
    await logs.write({ type: 'system', level: 'info', user: 'system', source: 'daemon', message: `Cairn node ${version} listening on ${url}` })
    say(`Cairn node listening on ${url}${tls !== undefined ? ` (certificate SHA-256 ${tls.fingerprint})` : ' (plain HTTP, loopback only)'}`)

    let stopping: Promise<void> | undefined
    return {
      url, app, state, clock, accounts, inventory, tasks, runner, operations, scheduler, logs, notifier, webhooks, mailer, mesh,
      certificateFingerprint: tls?.fingerprint,
      async stop () {
        stopping ??= (async () => {
          scheduler!.stop()
          await scheduler!.idle()
          await app.close()
          await runner.stopAll('the node is shutting down')
          await notifier.stop()
          await webhooks.stop()
          await mesh?.stop()
          await logs.write({ type: 'system', level: 'info', user: 'system', source: 'daemon', message: 'Cairn node stopped' })
          await repositories.close()
          await accounts.stop()
          await state.close()
        })()
        await stopping
      }
    }
  } catch (err) {
    await mesh?.stop().catch(() => {})
    await accountsMade?.stop().catch(() => {})
    await state.close()
    throw err
  }
}

/** The audit trail's key: read, or made (0600) at first start. */
async function auditKey (file: string): Promise<Buffer> {
  if (!existsSync(file)) {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 })
    await writeFile(file, randomBytes(32).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' }).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'EEXIST') throw err })
  }
  const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64url')
  if (key.length < 32) throw new AuditKeyError(file)
  return key
}

/** Mesh events worth a line in the node's log (the rest go to DaemonMeshInit.log only). */
const LOGGED_MESH_EVENTS: Record<string, 'info' | 'warning'> = { 'member-joined': 'info', 'membership-adopted': 'info', 'cut-off': 'warning', 'peer-banned': 'warning', 'scrub-found': 'warning', 'policies-applied': 'info' }

/** Starts the hosted mesh when the node has mesh state; libp2p is loaded only then. */
async function startMesh (init: DaemonInit, c: { clock: Clock, repositories: Repositories, inventory: Inventory, tasks: Tasks, logs: LogBook, runner: JobRunner, operations: Operations, scheduler: Scheduler }): Promise<HostedMesh | undefined> {
  if (init.mesh === false) return undefined
  const opts: DaemonMeshInit = init.mesh ?? {}
  const dir = opts.dir ?? join(init.dataDir, 'mesh')
  if (opts.dir === undefined && !existsSync(dir)) return undefined
  const { startHostedMesh } = await import('../mesh/hosted-mesh.ts')
  const { hasMeshState } = await import('../../bootstrap/index.ts')
  if (opts.dir === undefined && !hasMeshState(dir)) return undefined
  const mesh = await startHostedMesh({
    repositories: c.repositories,
    onMember: async m => { await c.inventory.recordMeshMember(m) },
    spaces: async () => await c.inventory.listSpaces({ role: 'admin' } as User),
    log: (e) => {
      opts.log?.(e)
      const level = LOGGED_MESH_EVENTS[String(e.event)]
      if (level !== undefined) void c.logs.write({ type: 'system', level, user: 'system', source: 'mesh', message: `Mesh: ${String(e.event)} ${JSON.stringify({ ...e, event: undefined })}` }).catch(() => {})
    }
  }, {
    dataDir: init.dataDir,
    meshDir: dir,
    userAgent: `cairn/${init.version ?? '0.1.0'} (${osName()}; ${hostname()})`,
    memberEveryMs: opts.memberEveryMs,
    replicateEveryMs: opts.replicateEveryMs,
    dialEveryMs: opts.dialEveryMs,
    clock: limiterClockOf(c.clock),
    control: {
      // `cairn mesh replicate` against the daemon runs as a job, so it shows in the history.
      replicate: async () => {
        const job = await c.operations.replicate({ user: 'system', ownerId: '' })
        await c.runner.waitFor(job.id)
        return (await mesh.status()).links
      },
      // `cairn sim from-mesh`: what a capacity-planning scenario is written from.
      'planning-facts': async () => await gatherMeshFacts({ clock: c.clock, inventory: c.inventory, tasks: c.tasks, runner: c.runner, mesh: () => mesh }),
      ...(init.clockControl === true && isManual(c.clock) ? clockControl(c.clock, { runner: c.runner, scheduler: c.scheduler, mesh: () => mesh }) : {})
    }
  })
  await c.logs.write({ type: 'system', level: 'info', user: 'system', source: 'daemon', message: `Mesh node ${mesh.node.peerId} started (${dir})` })
  return mesh
}

const isManual = (clock: Clock): clock is ManualClock => 'set' in clock && 'next' in clock

/**
 * The control requests that step a manual clock from outside (DaemonInit.clockControl). `settled`
 * is true when nothing moves without the clock: no job runs, no schedule is starting one, and
 * replication is idle or waiting for its bandwidth window.
 */
function clockControl (clock: ManualClock, c: { runner: JobRunner, scheduler: Scheduler, mesh: () => HostedMesh | undefined }): Record<string, (args: Record<string, unknown>) => Promise<unknown>> {
  const state = async (): Promise<{ now: string, next: string | null, settled: boolean }> => {
    await c.scheduler.idle()
    const settled = c.runner.running().length === 0 && c.mesh()?.busy() !== true
    return { now: clock.now().toISOString(), next: clock.next()?.toISOString() ?? null, settled }
  }
  return {
    clock: state,
    'clock-set': async (args) => {
      const to = new Date(String(args.to))
      if (Number.isNaN(to.getTime())) throw new InvalidOptionError(`clock-set: "${String(args.to)}" is not a time`)
      await clock.set(to)
      return await state()
    }
  }
}

/** Client and task report tables (manual 2.9.3) as a user may see them. */
function reportSource (c: { state: StateStore, inventory: Inventory, tasks: Tasks, runner: JobRunner }): ReportSource {
  return async (kind, user) => {
    const jobs = (await c.runner.list()).filter(j => user.role !== 'operator' || j.ownerId === user.id)
    const users = new Map((await c.state.list<User>('users')).map(u => [u.id, u.name]))
    if (kind === 'clients') {
      const tasks = await c.tasks.list(user)
      return {
        title: 'Client report',
        columns: [{ key: 'client', header: 'Client' }, { key: 'ip', header: 'IP' }, { key: 'user', header: 'Username' }, { key: 'os', header: 'OS' }, { key: 'tasks', header: 'Tasks' }, { key: 'bytes', header: 'Backup data size (bytes)' }, { key: 'lastSeen', header: 'Last seen' }],
        rows: (await c.inventory.listNodes(user)).map(n => {
          const ids = new Set(tasks.filter((t: TaskRecord) => t.nodeId === n.id).map(t => t.id))
          const bytes = jobs.filter(j => j.type === 'backup' && j.taskId !== undefined && ids.has(j.taskId) && (j.status === 'success' || j.status === 'warning')).reduce((s, j) => s + Number(j.result?.bytesRead ?? 0), 0)
          return { client: n.name, ip: n.ip, user: n.ownerId !== undefined ? users.get(n.ownerId) ?? '' : '', os: n.os, tasks: ids.size, bytes, lastSeen: n.lastSeenAt }
        })
      }
    }
    return {
      title: 'Task report',
      columns: [{ key: 'task', header: 'Task name' }, { key: 'type', header: 'Type' }, { key: 'space', header: 'User space' }, { key: 'runs', header: 'Runs' }, { key: 'ok', header: 'Succeeded' }, { key: 'failed', header: 'Failed' }, { key: 'bytes', header: 'Backup data size (bytes)' }, { key: 'last', header: 'Last run' }, { key: 'lastStatus', header: 'Last status' }],
      rows: await Promise.all((await c.tasks.list(user)).map(async t => {
        const mine = jobs.filter(j => j.taskId === t.id && j.type === 'backup')
        const space = await c.state.get<{ name: string }>('spaces', t.spaceId)
        return {
          task: t.name, type: t.agentType, space: space?.name ?? '', runs: mine.length,
          ok: mine.filter(j => j.status === 'success' || j.status === 'warning').length, failed: mine.filter(j => j.status === 'failed').length,
          bytes: mine.reduce((s, j) => s + Number(j.result?.bytesRead ?? 0), 0), last: mine[0]?.startedAt ?? '', lastStatus: mine[0]?.status ?? ''
        }
      }))
    }
  }
}
