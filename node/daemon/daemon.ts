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
import { createTasks, createJobRunner, createOperations, createScheduler, createRepositories, createEscrow, createArchive, reportSource, type RepositoryOpener, type Repositories, type SchedulerInit, type JobRunnerInit, type Scheduler, type JobRunner, type Operations, type Tasks, type Archive } from '../jobs/index.ts'
import { createMailer, createNotifier, createWebhooks, type WebhooksInit, type Notifier, type Webhooks, type Mailer } from '../notify/index.ts'
import { createLogBook, said, saidError, type LogBook, type LogText } from '../logs/index.ts'
import { createMetrics } from '../metrics/index.ts'
import { consoleStatic, createApiServer, gatherMeshFacts, ROUTE_MODULES, type ApiContext, type CapacityPlanner } from '../api/index.ts'
import { limiterClockOf, systemClock, type Clock, type ManualClock } from '../clock/index.ts'
import { ensureCertificate } from './tls.ts'
import { InvalidOptionError } from '../../chunkstore/index.ts'
import { AuditKeyError, InsecureListenError } from './errors.ts'
import { registerGauges } from './gauges.ts'
import { Lifecycle } from './lifecycle.ts'
import type { HostedMesh, NodeMeshEvent } from '../mesh/index.ts'

/** The mesh the daemon hosts (issue 4): on when its folder holds mesh state (cairn mesh init|join). */
export interface DaemonMeshInit {
  /** Mesh state folder; default `<data>/mesh`, used only if it holds mesh state. Given explicitly, it must. */
  dir?: string
  replicateEveryMs?: number
  dialEveryMs?: number
  /** How often mesh members are registered/refreshed as nodes. Default 10 s. */
  memberEveryMs?: number
  /** Addresses other sites dial to reach this node, for this run (NAT, port forwards): `--announce`. Default: the mesh folder's. */
  announce?: string[]
  /** Every mesh event (cairn serve prints them: node/cli/event-lines.ts). */
  log?: (event: NodeMeshEvent) => void
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
  readonly archive: Archive
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

/**
 * Starts a node daemon: makes each part from the few components it needs (its XComponents) and
 * its settings (XInit), then starts the parts in the one order below; `stop` stops them in its
 * reverse. Only wiring lives here: what each part does is its folder's.
 */
export async function startDaemon (init: DaemonInit): Promise<Daemon> {
  const host = init.host ?? '127.0.0.1'
  if (init.insecureHttp === true && !LOOPBACK.has(host)) throw new InsecureListenError(host)
  const version = init.version ?? '0.1.0'
  const clock = init.clock ?? systemClock()
  const say = init.say ?? (() => {})
  await mkdir(init.dataDir, { recursive: true, mode: 0o700 })
  const state = await openStateStore(join(init.dataDir, 'state'))
  const parts = new Lifecycle()
  parts.up({ name: 'state', stop: async () => { await state.close() } })
  try {
    const events = new EventEmitter()
    const metrics = createMetrics()
    const logs = await createLogBook({ state, clock }, { auditKey: await auditKey(init.auditKeyFile ?? join(init.dataDir, 'audit.key')) })
    let url = ''
    let mesh: HostedMesh | undefined
    const accounts = createAccounts({ state, clock, logs }, { origin: () => init.origin ?? url, ...init.accounts })
    const meshDir = init.mesh === false ? undefined : init.mesh?.dir
    const inventory = createInventory({ state, clock, logs }, { version, protectedPaths: [init.dataDir, ...(meshDir !== undefined ? [meshDir] : [])] })
    const repositories = createRepositories(init.dataDir, init.repositories, () => mesh?.replica)
    const runner = createJobRunner({ state, clock, logs, metrics, inventory, repositories }, init.jobs)
    let scheduler: Scheduler | undefined
    const tasks = createTasks({ state, clock, logs, inventory, isRunning: id => runner.isTaskRunning(id), changed: async id => { await scheduler?.taskChanged(id) } })
    const operations = createOperations({ clock, logs, inventory, tasks, runner, repositories, scratchDir: join(init.dataDir, 'scratch'), mesh: () => mesh })
    const escrow = createEscrow({ inventory, repositories, logs, tasks, mesh: () => mesh })
    // Archive devices are kept in <data>/archive-devices.json (S3 secret keys sealed under the key beside it, 0600).
    const archive = createArchive({ state, clock, logs, inventory, tasks, runner, repositories, registryFile: join(init.dataDir, 'archive-devices.json'), changed: async id => { await scheduler?.taskChanged(id) } })
    scheduler = createScheduler({ state, clock, logs, tasks, operations, archive: () => archive }, init.scheduler)
    const mailer = createMailer({ state, metrics })
    const reports = reportSource({ state, inventory, tasks, runner })
    const notifier = createNotifier({ state, clock, logs, mailer, reports })
    const webhooks = createWebhooks({ state, clock, metrics }, init.webhooks)
    logs.onEntry(e => { notifier.onLog(e); webhooks.publishLog(e) })
    registerGauges(metrics, { runner, inventory, mesh: () => mesh })
    const tls = init.insecureHttp === true ? undefined : await ensureCertificate(init.dataDir, host === '0.0.0.0' || host === '::' ? [] : [host])
    const ctx: ApiContext = {
      state, clock, logs, accounts, inventory, tasks, runner, operations, escrow, scheduler, archive, repositories, mailer, notifier, webhooks, metrics, reports, events,
      mesh: () => mesh,
      startedAt: clock.now(),
      routeModules: [...ROUTE_MODULES, consoleStatic],
      planner: init.planner
    }
    const app = await createApiServer(ctx, { https: tls === undefined ? undefined : { key: tls.key, cert: tls.cert }, version })

    // The one start order; stop() goes back up it. A part starts once those above it run, and
    // stops while they still do: no new job once the scheduler and the API have stopped, every
    // running job records its end before mails and webhooks flush, the stores close last.
    await parts.start([
      { name: 'accounts', stop: async () => { await accounts.stop() } },
      { name: 'stores', stop: async () => { await operations.idle(); await repositories.close() } },
      { name: 'log book', stop: async why => { if (why === 'stop') await logs.write({ type: 'system', level: 'info', user: 'system', source: 'daemon', message: 'Cairn node stopped', text: said('NODE_STOPPED') }) } },
      { name: 'mesh', start: async () => { mesh = await startMesh(init, { clock, repositories, inventory, tasks, logs, runner, operations, scheduler, accounts }) }, stop: async () => { await mesh?.stop() } },
      // Hold every user space's store from the start: a CLI command pointed at one then runs its
      // operation in this daemon (node/holder/) rather than taking the store from the daemon's
      // jobs. They close with the stores above.
      { name: 'space stores', start: async () => { await holdSpaceStores(inventory, repositories, logs) } },
      { name: 'webhooks', start: async () => { await webhooks.start() }, stop: async () => { await webhooks.stop() } },
      { name: 'notifier', start: () => { notifier.start() }, stop: async () => { await notifier.stop() } },
      {
        name: 'jobs',
        start: async () => {
          const interrupted = await runner.recover()
          if (interrupted > 0) await logs.write({ type: 'system', level: 'warning', user: 'system', source: 'daemon', message: `${interrupted} job(s) were interrupted by the last shutdown and marked failed`, text: said('JOBS_INTERRUPTED', { n: interrupted }) })
        },
        stop: async () => { await runner.stopAll('the node is shutting down') }
      },
      { name: 'records', start: async () => { await inventory.registerLocal(); await firstAdmin(accounts, init, say) } },
      {
        name: 'api',
        start: async () => {
          url = (await app.listen({ host, port: init.port ?? 8443 })).replace('0.0.0.0', '127.0.0.1')
          await logs.write({ type: 'system', level: 'info', user: 'system', source: 'daemon', message: `Cairn node ${version} listening on ${url}`, text: said('NODE_LISTENING', { version, url }) })
          say(`Cairn node listening on ${url}${tls !== undefined ? ` (certificate SHA-256 ${tls.fingerprint})` : ' (plain HTTP, loopback only)'}`)
        },
        stop: async () => { await app.close() }
      },
      { name: 'scheduler', start: async () => { await scheduler!.start() }, stop: async () => { scheduler!.stop(); await scheduler!.idle() } }
    ])
    return {
      url, app, state, clock, accounts, inventory, tasks, runner, operations, scheduler, archive, logs, notifier, webhooks, mailer, mesh,
      certificateFingerprint: tls?.fingerprint,
      stop: async () => { await parts.stop() }
    }
  } catch (err) {
    await parts.stop().catch(() => {})
    throw err
  }
}

/** The first user, `admin`, on a node that has none; its password from the init, or a random one in <data>/initial-admin-password. */
async function firstAdmin (accounts: Accounts, init: DaemonInit, say: (line: string) => void): Promise<void> {
  if (await accounts.hasUsers()) return
  const password = init.adminPassword ?? randomBytes(18).toString('base64url')
  await accounts.createUser({ name: 'admin', password, role: 'admin' }, { user: 'system', source: 'daemon' })
  if (init.adminPassword !== undefined) return
  const file = join(init.dataDir, 'initial-admin-password')
  await writeFile(file, password + '\n', { mode: 0o600 })
  say(`Created user "admin"; its password is in ${file} (change it after the first login)`)
}

/** Opens every user space's store; one that fails is logged and the rest still open. */
async function holdSpaceStores (inventory: Inventory, repositories: Repositories, logs: LogBook): Promise<void> {
  for (const space of await inventory.listSpaces({ role: 'admin' } as User)) {
    try {
      await repositories.all(space)
    } catch (err) {
      await logs.write({ type: 'system', level: 'warning', user: 'system', source: 'daemon', message: `the store of user space ${space.name} could not be opened: ${(err as Error).message}`, text: said('SPACE_STORE_UNAVAILABLE', { name: space.name, ...saidError(err) }) })
    }
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
const LOGGED_MESH_EVENTS: Partial<Record<NodeMeshEvent['event'], 'info' | 'warning'>> = { 'member-joined': 'info', 'member-addresses': 'info', 'membership-adopted': 'info', 'cut-off': 'warning', 'peer-banned': 'warning', 'scrub-found': 'warning', 'policies-applied': 'info', 'bad-signature': 'warning', 'retention-gc': 'info' }

/** A logged mesh event (LOGGED_MESH_EVENTS) as a LogText, for the console to word; the message keeps the event as JSON. */
function meshEventSaid (e: NodeMeshEvent): LogText | undefined {
  switch (e.event) {
    case 'member-joined': return said('MESH_MEMBER_JOINED', { site: e.site, siteRole: e.role, peer: e.peer })
    case 'member-addresses': return said('MESH_MEMBER_ADDRESSES', { site: e.site, addrs: e.addrs.join(', ') })
    case 'membership-adopted': return said(e.removed.length > 0 ? 'MESH_MEMBERSHIP_ADOPTED_REMOVED' : 'MESH_MEMBERSHIP_ADOPTED', { version: e.version, removed: e.removed.join(', ') })
    case 'cut-off': return said('MESH_CUT_OFF', { peer: e.peer })
    case 'peer-banned': return said('MESH_PEER_BANNED', { peer: e.peer, offences: e.offences })
    case 'scrub-found': return said('MESH_SCRUB_FOUND', { n: e.bad.length })
    case 'policies-applied': return said('MESH_POLICIES_APPLIED', { policies: e.policies.join(', ') })
    case 'bad-signature': return said(e.what === 'manifest' ? 'MESH_BAD_SIGNATURE_MANIFEST' : 'MESH_BAD_SIGNATURE_RELEASE', { peer: e.peer, cid: e.cid })
    case 'retention-gc': return said('MESH_RETENTION_GC', { snapshots: e.dropped.length, blocksFreed: e.blocksFreed, bytesFreed: e.bytesFreed, blockedBy: e.blockedBy })
    default: return undefined
  }
}

/** Starts the hosted mesh when the node has mesh state; libp2p is loaded only then. */
async function startMesh (init: DaemonInit, c: { clock: Clock, repositories: Repositories, inventory: Inventory, tasks: Tasks, logs: LogBook, runner: JobRunner, operations: Operations, scheduler: Scheduler, accounts: Accounts }): Promise<HostedMesh | undefined> {
  if (init.mesh === false) return undefined
  const opts: DaemonMeshInit = init.mesh ?? {}
  const dir = opts.dir ?? join(init.dataDir, 'mesh')
  if (opts.dir === undefined && !existsSync(dir)) return undefined
  const { startHostedMesh } = await import('../mesh/index.ts')
  const { hasMeshState } = await import('../../bootstrap/index.ts')
  if (opts.dir === undefined && !hasMeshState(dir)) return undefined
  const mesh = await startHostedMesh({
    repositories: c.repositories,
    onMember: async m => { await c.inventory.recordMeshMember(m) },
    spaces: async () => await c.inventory.listSpaces({ role: 'admin' } as User),
    // Administrators' releases (doc/mesh.md "Releases") are trusted from this node's admins' enrolled USB keys.
    releaseAdmins: async () => (await c.accounts.listUsers()).flatMap(u => u.role === 'admin' && u.certificate !== undefined ? [u.certificate] : []),
    log: (e) => {
      opts.log?.(e)
      const level = LOGGED_MESH_EVENTS[e.event]
      if (level !== undefined) void c.logs.write({ type: 'system', level, user: 'system', source: 'mesh', message: `Mesh: ${e.event} ${JSON.stringify({ ...e, event: undefined })}`, text: meshEventSaid(e) }).catch(() => {})
      // A replica's quota refusing a site's backups is an alert (webhooks, mail): the site's copies stop growing here.
      if (e.event === 'admin-release' || e.event === 'admin-release-refused') void auditAdminRelease(e, c).catch(() => {})
      if (e.event === 'quota-refused') void c.logs.write({ type: 'alert', level: 'warning', user: 'system', source: 'mesh', message: `Mesh: the quota for site ${e.site} is full (${e.held} bytes held, ${e.adding} more refused, quota ${e.quota}); snapshot ${e.root} was refused`, text: said('MESH_QUOTA_REFUSED', { site: e.site, bytesHeld: e.held, bytesAdding: e.adding, bytesQuota: e.quota, root: e.root }) }).catch(() => {})
    }
  }, {
    dataDir: init.dataDir,
    meshDir: dir,
    userAgent: `cairn/${init.version ?? '0.1.0'} (${osName()}; ${hostname()})`,
    memberEveryMs: opts.memberEveryMs,
    announce: opts.announce,
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
  await c.logs.write({ type: 'system', level: 'info', user: 'system', source: 'daemon', message: `Mesh node ${mesh.node.peerId} started (${dir})`, text: said('MESH_NODE_STARTED', { peer: String(mesh.node.peerId), dir }) })
  return mesh
}

/** The audit trail's record of an administrator's release at this replica: who signed it (the enrolled admin whose key it was), why, and which site relayed it. */
async function auditAdminRelease (e: Extract<NodeMeshEvent, { event: 'admin-release' | 'admin-release-refused' }>, c: { logs: LogBook, accounts: Accounts }): Promise<void> {
  const source = `mesh:${e.site}`
  if (e.event === 'admin-release-refused') {
    await c.logs.audit({ user: 'anonymous', source, action: 'mesh.release.admin.refused', target: '', detail: { reason: e.reason, code: e.code } })
    return
  }
  const admin = (await c.accounts.listUsers()).find(u => u.certificateFingerprint === e.fingerprint)
  const { event: _e, site: _s, ...detail } = e
  await c.logs.audit({ user: admin?.name ?? e.subject, source, action: 'mesh.release.admin', target: e.root, detail })
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

