import { EventEmitter } from 'node:events'
import type { StateStore } from '../state/index.ts'
import type { Clock } from '../clock/index.ts'
import { said, saidError, type LogBook, type LogLevel, type LogText } from '../logs/index.ts'
import type { Metrics } from '../metrics/index.ts'
import type { Inventory, SpaceRecord } from '../inventory/index.ts'
import type { Repository } from '../../chunkstore/index.ts'
import type { Repositories } from './repositories.ts'
import type { TaskRecord } from './tasks.ts'
import { JobInterruptedError, JobNotRunningError, TaskRunningError } from './errors.ts'
import { abortable, InternalError, throwIfAborted } from '../../crypto/index.ts'
import { jobProgressOf, type OperationProgress } from './job-progress.ts'

import { JOB_KINDS, type JobParams, type JobResult, type JobType } from './job-kinds.ts'
export type JobStatus = 'running' | 'success' | 'warning' | 'failed' | 'stopped'

export interface JobProgress {
  files: number
  bytes: number
  filesTotal?: number
  bytesTotal?: number
  /** Blocks checked or sent, for jobs that move blocks rather than files (verify, replicate). */
  blocks?: number
  /** Bytes per second since the job started. */
  speed: number
  etaSeconds?: number
  currentFile?: string
  phase?: string
}

/** One run of anything (F17): what the monitor, history and per-job log show. */
export interface JobRecord {
  id: string
  type: JobType
  name: string
  taskId?: string
  taskName?: string
  /** '' for a node-wide job (replicate). */
  spaceId: string
  spaceName: string
  nodeId?: string
  ownerId: string
  level?: 'full' | 'incremental'
  remark?: string
  trigger: 'manual' | 'schedule' | 'catch-up'
  user: string
  status: JobStatus
  startedAt: string
  endedAt?: string
  durationMs?: number
  progress: JobProgress
  /** Kind-specific parameters (restore target, clean mode …): JobParams of `type` (job-kinds.ts). */
  params: Record<string, unknown>
  /** JobResult of `type` (job-kinds.ts). */
  result?: Record<string, unknown>
  error?: string
  /** The error's stable code and params when it has them (CairnError), so the console words it in the user's language. */
  errorCode?: string
  errorParams?: Record<string, string | number | boolean>
  snapshotId?: string
}

/** One line of a job's log; `text` is its message as a code and parameters (LogText) where the job gave one. */
export interface JobLogLine { seq: number, time: string, level: LogLevel, message: string, text?: LogText }

/** What a job body gets: its store, a log, progress reporting and the abort signal. */
export interface JobContext {
  job: JobRecord
  /** The store of the job's task (per the space's dedup scope). */
  repo: () => Promise<Repository>
  /** Every store of the job's space (space-wide jobs: verify, prune). */
  repos: () => Promise<Repository[]>
  /** Undefined for a node-wide job (replicate). */
  space: SpaceRecord | undefined
  task?: TaskRecord
  signal: AbortSignal
  log: (level: LogLevel, message: string, text?: LogText) => Promise<void>
  /** Sets fields of the job's progress (totals, a phase) directly. */
  progress: (p: Partial<JobProgress>) => void
  /** The `onProgress` to give the job's operations: their events, mapped by jobProgressOf. */
  onProgress: (event: OperationProgress) => void
}

/** What a body returns; `level` corrects the backup level asked for (an incremental with no parent is a full). */
export type JobBody<T extends JobType = JobType> = (ctx: JobContext) => Promise<{ status?: 'success' | 'warning' | 'failed', result?: JobResult<T>, snapshotId?: string, level?: 'full' | 'incremental' }>

export interface StartJob<T extends JobType = JobType> {
  type: T
  name: string
  /** The user space the job works on; absent for a node-wide job (replicate). */
  space?: SpaceRecord
  /** Who may see the job besides admins and auditors: the space's owner, or for a node-wide job whoever started it. */
  ownerId?: string
  task?: TaskRecord
  /**
   * The task a job is about without holding it (restore, drill, clean): the job is in the task's
   * history and names it, and a backup of the task may still start.
   */
  about?: Pick<TaskRecord, 'id' | 'name' | 'nodeId'>
  level?: 'full' | 'incremental'
  remark?: string
  trigger: JobRecord['trigger']
  user: string
  params?: JobParams<T>
  body: JobBody<T>
  /** After the job ends (retention, cleanup of a stopped backup). */
  after?: (job: JobRecord, ctx: JobContext) => Promise<void>
}

const pad = (n: number): string => n.toString().padStart(8, '0')

/**
 * Runs jobs (F17): at most one per task at a time; keeps each one's record, log and progress;
 * streams their events for the live monitor; stops them on request.
 *
 * Contract:
 * - `start` records the job as running (durably, and in the audit trail) before it resolves,
 *   then runs its body in the background; it throws TaskRunningError while the task runs.
 * - A job ends exactly once: its record gets `status`, `endedAt` and `durationMs`, its log an
 *   end line, the log list an entry, and `events` an `end`. A body that throws ends `failed`; a
 *   body stopped through its signal ends `stopped` (OperationAbortedError).
 * - `stop` and `stopAll` resolve only when the jobs they stopped have recorded their end.
 * - `events` emits `job` with `{ id, event: 'log' | 'progress' | 'end', data }`; progress at
 *   most every 250 ms.
 */
export interface JobRunner {
  readonly events: EventEmitter
  isTaskRunning: (taskId: string) => boolean
  running: () => JobRecord[]
  /** The record of a running job, as it changes. */
  live: (id: string) => JobRecord | undefined
  /** Marks failed the jobs a crash or power loss left "running"; how many. Called once, at start. */
  recover: () => Promise<number>
  start: <T extends JobType>(s: StartJob<T>) => Promise<JobRecord>
  /** Throws JobNotRunningError for a job that is not running. */
  stop: (id: string, reason?: string, by?: { user: string, source: string }) => Promise<void>
  /** Resolves when the job (if running) has recorded its end. */
  waitFor: (id: string) => Promise<void>
  stopAll: (reason: string) => Promise<void>
  get: (id: string) => Promise<JobRecord>
  /** Every job, newest first. */
  list: () => Promise<JobRecord[]>
  logOf: (id: string) => Promise<JobLogLine[]>
}

export interface JobRunnerComponents {
  state: StateStore
  clock: Clock
  logs: LogBook
  metrics: Metrics
  inventory: Inventory
  repositories: Repositories
}

export interface JobRunnerInit {
  /** Awaited before each job's body runs: lets tests hold a job in "running" without timing races. */
  beforeJob?: (job: JobRecord) => Promise<void>
}

export function createJobRunner (components: JobRunnerComponents, init: JobRunnerInit = {}): JobRunner {
  const { state, clock, logs, metrics, repositories } = components
  const events = new EventEmitter()
  events.setMaxListeners(0)
  /** `stoppedBy`: the user who stopped it (stop's `by`); a job stopped without one was stopped by the node's shutdown. */
  const running = new Map<string, { record: JobRecord, controller: AbortController, done: Promise<void>, seq: number, stoppedBy?: string }>()
  const runningTasks = new Set<string>()

  const emit = (id: string, event: string, data: unknown): void => { events.emit('job', { id, event, data }) }

  const runner: JobRunner = {
    events,
    isTaskRunning: taskId => runningTasks.has(taskId),
    running: () => [...running.values()].map(r => r.record),
    live: id => running.get(id)?.record,

    async recover () {
      let n = 0
      for (const j of await state.list<JobRecord>('jobs')) {
        if (j.status !== 'running') continue
        n++
        const interrupted = new JobInterruptedError()
        await state.put('jobs', j.id, { ...j, status: 'failed', endedAt: clock.now().toISOString(), error: interrupted.message, errorCode: interrupted.code })
      }
      return n
    },

    async start (s) {
      if (s.task !== undefined) {
        if (runningTasks.has(s.task.id)) throw new TaskRunningError(s.task.name, 'start it again')
        runningTasks.add(s.task.id)
      }
      const started = clock.now()
      const record: JobRecord = {
        id: state.nextId('j'), type: s.type, name: s.name, taskId: (s.task ?? s.about)?.id, taskName: (s.task ?? s.about)?.name, spaceId: s.space?.id ?? '', spaceName: s.space?.name ?? '',
        nodeId: (s.task ?? s.about)?.nodeId, ownerId: s.ownerId ?? s.space?.ownerId ?? '', level: s.level, remark: s.remark, trigger: s.trigger, user: s.user, status: 'running',
        startedAt: started.toISOString(), progress: { files: 0, bytes: 0, speed: 0 }, params: { ...s.params }
      }
      const controller = new AbortController()
      const entry: { record: JobRecord, controller: AbortController, done: Promise<void>, seq: number, stoppedBy?: string } = { record, controller, done: Promise.resolve(), seq: 0 }
      try {
        await state.put('jobs', record.id, record)
      } catch (err) {
        if (s.task !== undefined) runningTasks.delete(s.task.id)
        throw err
      }
      running.set(record.id, entry)
      await logs.audit({ user: s.user, source: s.trigger === 'manual' ? 'api' : 'scheduler', action: `job.${s.type}.start`, target: record.id, detail: { name: record.name, task: record.taskId, level: record.level, params: record.params } })
      let lastEmit = 0
      const space = async (): Promise<SpaceRecord> => {
        if (s.space === undefined) throw new InternalError(`a ${s.type} job has no user space`)
        return s.space
      }
      const ctx: JobContext = {
        job: record,
        space: s.space,
        task: s.task,
        signal: controller.signal,
        repo: async () => {
          const taskId = s.task?.id ?? (typeof record.params.taskId === 'string' ? record.params.taskId : undefined)
          if (taskId === undefined) throw new InternalError(`a ${s.type} job has no task`)
          return await repositories.forTask(await space(), taskId)
        },
        repos: async () => await repositories.all(await space()),
        async log (level, message, text) {
          const line: JobLogLine = { seq: ++entry.seq, time: clock.now().toISOString(), level, message, ...(text !== undefined ? { text } : {}) }
          await state.put('joblogs', `${record.id}:${pad(line.seq)}`, line)
          emit(record.id, 'log', line)
        },
        progress (p) {
          Object.assign(record.progress, p)
          const elapsed = Math.max(1, clock.now().getTime() - started.getTime()) / 1000
          record.progress.speed = Math.round(record.progress.bytes / elapsed)
          if (record.progress.bytesTotal !== undefined && record.progress.speed > 0) {
            record.progress.etaSeconds = Math.max(0, Math.round((record.progress.bytesTotal - record.progress.bytes) / record.progress.speed))
          }
          const t = Date.now()
          if (t - lastEmit >= 250) { lastEmit = t; emit(record.id, 'progress', record.progress) }
        },
        onProgress: e => { ctx.progress(jobProgressOf(e)) }
      }
      entry.done = (async () => {
        const kind = JOB_KINDS[s.type]
        let failure: unknown
        await logs.write({ type: kind.logType, level: 'info', user: s.user, source: s.trigger === 'manual' ? 'console' : 'scheduler', ownerId: record.ownerId, message: `${s.trigger === 'manual' ? `User [${s.user}] started` : 'Schedule started'} ${s.type} job [${record.name}]`, text: said(s.trigger === 'manual' ? 'JOB_STARTED_BY_USER' : 'JOB_STARTED_BY_SCHEDULE', { user: s.user, type: s.type, name: record.name }) })
        await ctx.log('info', `${s.type} job ${record.name} started${s.level !== undefined ? ` (${s.level})` : ''}${s.remark !== undefined ? `: ${s.remark}` : ''}`,
          said(s.remark !== undefined ? 'JOB_LOG_STARTED_REMARK' : s.level !== undefined ? 'JOB_LOG_STARTED_LEVEL' : 'JOB_LOG_STARTED', { type: s.type, name: record.name, level: s.level, remark: s.remark }))
        try {
          if (init.beforeJob !== undefined) await abortable(init.beforeJob(record), controller.signal, `The ${s.type} job`)
          throwIfAborted(controller.signal, `The ${s.type} job`)
          const out = await s.body(ctx)
          record.status = controller.signal.aborted ? 'stopped' : out.status ?? 'success'
          record.result = out.result === undefined ? undefined : { ...out.result }
          record.snapshotId = out.snapshotId
          if (out.level !== undefined) record.level = out.level
        } catch (err) {
          record.status = controller.signal.aborted ? 'stopped' : 'failed'
          record.error = (err as Error).message
          const coded = saidError(err)
          if (coded.errorCode !== undefined) record.errorCode = coded.errorCode
          if (coded.errorParams !== undefined) record.errorParams = JSON.parse(coded.errorParams)
          failure = err
          await ctx.log(record.status === 'stopped' ? 'warning' : 'error', record.status === 'stopped' ? `Stopped: ${String(controller.signal.reason ?? 'by request')}` : `Failed: ${record.error}`,
            record.status === 'stopped' ? (entry.stoppedBy !== undefined ? said('JOB_LOG_STOPPED_BY', { user: entry.stoppedBy }) : said('JOB_LOG_STOPPED_NODE')) : said('JOB_LOG_FAILED', saidError(err)))
        }
        try {
          if (s.after !== undefined) await s.after(record, ctx)
        } catch (err) {
          await ctx.log('warning', `After-job step failed: ${(err as Error).message}`, said('JOB_AFTER_FAILED', saidError(err)))
        }
        const ended = clock.now()
        record.endedAt = ended.toISOString()
        record.durationMs = ended.getTime() - started.getTime()
        await state.put('jobs', record.id, record)
        metrics.jobFinished(s.type, record.status, record.durationMs, record.progress.bytes)
        const level: LogLevel = record.status === 'success' ? 'info' : record.status === 'warning' || record.status === 'stopped' ? 'warning' : 'error'
        await ctx.log(level, `Job ended: ${record.status}`, said('JOB_LOG_ENDED', { status: record.status }))
        await logs.write({
          type: record.status === 'failed' ? kind.failedLogType ?? kind.logType : kind.logType,
          level, user: s.user, source: 'scheduler', ownerId: record.ownerId,
          message: `${s.type[0].toUpperCase()}${s.type.slice(1)} job [${record.name}] ${record.status === 'success' ? 'is successfully executed' : `ended: ${record.status}${record.error !== undefined ? ` (${record.error})` : ''}`}`,
          text: said(record.status === 'success' ? 'JOB_SUCCEEDED' : record.error !== undefined ? 'JOB_ENDED_ERROR' : 'JOB_ENDED', { type: s.type, name: record.name, status: record.status, ...(failure !== undefined ? saidError(failure) : {}) })
        })
        emit(record.id, 'end', record)
      })().catch(() => {}).finally(() => {
        running.delete(record.id)
        if (s.task !== undefined) runningTasks.delete(s.task.id)
      })
      return record
    },

    async stop (id, reason = 'stopped by request', by) {
      const r = running.get(id)
      if (r === undefined) throw new JobNotRunningError(id)
      if (by !== undefined) await logs.audit({ ...by, action: `job.${r.record.type}.stop`, target: id })
      r.stoppedBy = by?.user
      r.controller.abort(reason)
      await r.done
    },

    async waitFor (id) { await running.get(id)?.done },

    async stopAll (reason) {
      const all = [...running.values()]
      for (const r of all) r.controller.abort(reason)
      await Promise.allSettled(all.map(async r => { await r.done }))
    },

    async get (id) {
      return running.get(id)?.record ?? await state.require<JobRecord>('jobs', id)
    },

    async list () {
      const stored = await state.list<JobRecord>('jobs', { reverse: true })
      return stored.map(j => running.get(j.id)?.record ?? j)
    },

    async logOf (id) { return await state.list<JobLogLine>('joblogs', { prefix: `${id}:` }) }
  }
  return runner
}
