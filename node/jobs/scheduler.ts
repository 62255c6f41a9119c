import type { StateStore } from '../state/index.ts'
import type { Clock } from '../clock/index.ts'
import { said, saidError, type LogBook } from '../logs/index.ts'
import type { User } from '../auth/index.ts'
import type { Tasks, TaskRecord } from './tasks.ts'
import type { Operations } from './operations.ts'
import type { Archive } from './archive-jobs.ts'
import { nextRun, type Schedule } from './schedule.ts'
import { TaskRunningError } from './errors.ts'

interface ScheduleState { nextRunAt: string | null, lastRunAt?: string }

/** The user schedules act as: an admin that is no one, named "system" in logs. */
export const SCHEDULER_USER: User = { id: 'system', name: 'system', role: 'admin', enabled: true, passwordHash: '', createdAt: '', passwordChangedAt: '', failedLogins: 0 }

export interface SchedulerInit {
  /**
   * Missed-run rule: a schedule whose run fell due while the node was down runs once at start
   * (never more than once, however many runs were missed) when its latest missed run is at most
   * this old; older misses are logged as warnings and skipped. Default 24 h.
   */
  missedRunGraceMs?: number
}

/**
 * Fires task schedules (F16): backups, drills and the rest at their times, as the system user.
 * Run times come from croner; waiting goes through the Clock, so tests move time by hand.
 *
 * Contract:
 * - Fires nothing before `start` nor after `stop`. The next run of every schedule is stored, so
 *   a restart sees what it missed: one catch-up run within the grace (SchedulerInit), else a
 *   warning in the log list.
 * - A schedule that cannot start its job (the task runs, a quota) logs why and fires again at
 *   its next time; it never throws to the clock.
 */
export interface Scheduler {
  start: () => Promise<void>
  /** Re-reads one task's schedules after it was created, edited or deleted. */
  taskChanged: (taskId: string) => Promise<void>
  /** Resolves when every schedule fired so far has started its job (or logged why not). */
  idle: () => Promise<void>
  /** Next run of every active schedule of a task or archive task (the console's "next run" column). */
  nextRuns: (task: Scheduled) => Promise<Array<{ scheduleId: string, nextRunAt: string | null, lastRunAt?: string }>>
  /** Cancels every timer; jobs already started run on (`idle` waits for their start). */
  stop: () => void
}

export interface SchedulerComponents {
  state: StateStore
  clock: Clock
  logs: LogBook
  tasks: Tasks
  operations: Operations
  /** Archive tasks (F20), whose schedules fire archive runs; absent, only backup tasks have schedules. */
  archive?: () => Pick<Archive, 'allTasks' | 'run' | 'verify'> | undefined
}

/** What has schedules: a backup task, or an archive task (with its device). */
type Scheduled = Pick<TaskRecord, 'id' | 'name' | 'ownerId' | 'mode' | 'schedules'> & { device?: string }

export function createScheduler (components: SchedulerComponents, init: SchedulerInit = {}): Scheduler {
  const { state, clock, logs, tasks, operations } = components
  const grace = init.missedRunGraceMs ?? 24 * 3600_000
  const timers = new Map<string, () => void>()
  let running = false
  const key = (t: Scheduled, s: Schedule): string => `${t.id}:${s.id}`
  const actor = { user: SCHEDULER_USER, source: 'scheduler' }
  /** A backup task, else an archive task (their ids differ: state.nextId's prefixes). */
  const scheduled = async (id: string): Promise<Scheduled | undefined> => await state.get<TaskRecord>('tasks', id) ?? await state.get<Scheduled>('archiveTasks', id)

  async function fire (taskId: string, scheduleId: string, trigger: 'schedule' | 'catch-up'): Promise<void> {
    const task = await scheduled(taskId)
    const s = task?.schedules.find(x => x.id === scheduleId)
    if (task === undefined || s === undefined) return
    try {
      if (s.job === 'archive' || s.job === 'archive-verify') {
        const archive = components.archive?.()
        if (archive !== undefined && s.job === 'archive') await archive.run(actor, task.id, trigger)
        else if (archive !== undefined) await archive.verify(actor, task.device ?? '', trigger)
      } else if (s.job === 'drill') await operations.drill(actor, task.id, trigger)
      else await operations.backup(actor, task.id, { level: s.level, trigger, remark: trigger === 'catch-up' ? 'catch-up run for a schedule missed while the node was down' : undefined })
    } catch (err) {
      const busy = err instanceof TaskRunningError
      const archiving = s.job === 'archive' || s.job === 'archive-verify'
      const what = archiving ? 'archive task' : 'backup task'
      await logs.write({ type: archiving ? 'archive' : 'backup', level: busy ? 'info' : 'error', user: 'system', source: 'scheduler', ownerId: task.ownerId, message: busy ? `Planned run of ${what} [${task.name}] skipped: the task is still running` : `Planned run of ${what} [${task.name}] could not start: ${(err as Error).message}`, text: said(busy ? 'SCHEDULE_SKIPPED_BUSY' : 'SCHEDULE_NOT_STARTED', { task: task.name, ...(busy ? {} : saidError(err)) }) })
    }
  }

  const pending = new Set<Promise<void>>()
  const track = (p: Promise<void>): void => {
    const q = p.catch(() => {})
    pending.add(q)
    void q.finally(() => pending.delete(q))
  }

  // Schedule-state writes go one after another, so a later write never loses to an earlier one.
  let writes: Promise<void> = Promise.resolve()
  const record = (k: string, nextRunAt: string | null, lastRunAt?: string): Promise<void> => {
    writes = writes.then(async () => {
      const prev = await state.get<ScheduleState>('schedules', k)
      await state.put<ScheduleState>('schedules', k, { nextRunAt, lastRunAt: lastRunAt ?? prev?.lastRunAt })
    }).catch(() => {})
    return writes
  }

  /**
   * Sets the timer for the first run after `from`. The timer re-arms itself before it starts the
   * job, so a clock that jumps over several runs fires each of them in order.
   */
  function arm (task: Scheduled, s: Schedule, from: Date, lastRunAt?: string): Promise<void> {
    const k = key(task, s)
    timers.get(k)?.()
    timers.delete(k)
    const next = nextRun(s, from)
    const written = record(k, next?.toISOString() ?? null, lastRunAt)
    track(written)
    if (next === null || !running) return written
    timers.set(k, clock.at(next, async () => {
      timers.delete(k)
      if (!running) return
      const now = clock.now()
      void arm(task, s, now > next ? now : next, next.toISOString())
      const fired = fire(task.id, s.id, 'schedule')
      track(fired)
      return fired
    }))
    return written
  }

  const active = (t: Scheduled): Schedule[] => t.mode === 'scheduled' ? t.schedules.filter(s => s.enabled) : []

  const scheduler: Scheduler = {
    async start () {
      running = true
      const now = clock.now()
      const all: Scheduled[] = [...await tasks.all(), ...await components.archive?.()?.allTasks() ?? []]
      for (const task of all) {
        for (const s of active(task)) {
          const stored = await state.get<ScheduleState>('schedules', key(task, s))
          let caughtUp: string | undefined
          if (stored?.nextRunAt != null && Date.parse(stored.nextRunAt) <= now.getTime()) {
            // Find the latest run that fell due while the node was down.
            let latest = new Date(stored.nextRunAt)
            for (let i = 0; i < 100_000; i++) {
              const n = nextRun(s, latest)
              if (n === null || n > now) break
              latest = n
            }
            if (now.getTime() - latest.getTime() <= grace) {
              await logs.write({ type: 'backup', level: 'warning', user: 'system', source: 'scheduler', ownerId: task.ownerId, message: `Backup task [${task.name}] missed its run of ${latest.toISOString()} while the node was down; running it once now`, text: said('SCHEDULE_CATCH_UP', { task: task.name, time: latest.toISOString() }) })
              await fire(task.id, s.id, 'catch-up')
              caughtUp = latest.toISOString()
            } else {
              await logs.write({ type: 'backup', level: 'warning', user: 'system', source: 'scheduler', ownerId: task.ownerId, message: `Backup task [${task.name}] missed its run of ${latest.toISOString()} while the node was down; too long ago to catch up, skipped`, text: said('SCHEDULE_MISSED', { task: task.name, time: latest.toISOString() }) })
            }
          }
          void arm(task, s, now, caughtUp)
        }
      }
      await scheduler.idle()
    },

    async taskChanged (taskId) {
      for (const [k, cancel] of timers) if (k.startsWith(`${taskId}:`)) { cancel(); timers.delete(k) }
      const task = await scheduled(taskId)
      if (task === undefined || !running) return
      for (const s of active(task)) await arm(task, s, clock.now())
    },

    async idle () { while (pending.size > 0) await Promise.allSettled([...pending]) },

    async nextRuns (task) {
      const out = []
      for (const s of task.schedules) {
        const st = await state.get<ScheduleState>('schedules', key(task, s))
        out.push({ scheduleId: s.id, nextRunAt: st?.nextRunAt ?? null, lastRunAt: st?.lastRunAt })
      }
      return out
    },

    stop () {
      running = false
      for (const cancel of timers.values()) cancel()
      timers.clear()
    }
  }
  return scheduler
}
