import type { EventEmitter } from 'node:events'
import type { FastifyInstance } from 'fastify'
import type { StateStore } from '../state/index.ts'
import type { Clock } from '../clock/index.ts'
import type { Accounts } from '../auth/index.ts'
import type { Inventory } from '../inventory/index.ts'
import type { Tasks, JobRunner, Operations, Scheduler, Repositories, Escrow, Archive } from '../jobs/index.ts'
import type { Mailer, Notifier, ReportSource, Webhooks } from '../notify/index.ts'
import type { LogBook } from '../logs/index.ts'
import type { Metrics } from '../metrics/index.ts'
import type { HostedMesh } from '../mesh/index.ts'
import type { CapacityPlanner } from './planning-routes.ts'

export interface RouteOptions { cookieName: string, tls: boolean }
export type RouteModule = (app: FastifyInstance, ctx: ApiContext, opts: RouteOptions) => Promise<void>

/** Everything a route may call: the daemon's components. */
export interface ApiContext {
  state: StateStore
  clock: Clock
  logs: LogBook
  accounts: Accounts
  inventory: Inventory
  tasks: Tasks
  runner: JobRunner
  operations: Operations
  /** Key escrow of user spaces and its adoption at a DR site (F13). */
  escrow: Escrow
  scheduler: Scheduler
  /** Archive devices, archive tasks and their jobs (F20). */
  archive: Archive
  repositories: Repositories
  mailer: Mailer
  notifier: Notifier
  webhooks: Webhooks
  metrics: Metrics
  reports: ReportSource
  events: EventEmitter
  /** The mesh the daemon hosts, if any. */
  mesh: () => HostedMesh | undefined
  startedAt: Date
  routeModules: RouteModule[]
  /** The capacity planner (F28), when the program wired one in. */
  planner?: CapacityPlanner
}
