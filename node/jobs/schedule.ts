import { Cron } from 'croner'
import { ScheduleInvalidError } from './errors.ts'

export const SCHEDULE_KINDS = ['once', 'daily', 'weekly', 'monthly', 'interval'] as const
export const MIN_INTERVAL_MINUTES = 10

/** One plan of a task (F16, manual 2.2.1 "策略备份"). Several per task. */
export interface Schedule {
  id: string
  kind: typeof SCHEDULE_KINDS[number]
  /** First day it may run, YYYY-MM-DD in `timeZone`. */
  startDate: string
  /** HH:MM in `timeZone`. For interval: the first run; later runs every `everyMinutes` after it. */
  time: string
  timeZone: string
  level: 'full' | 'incremental'
  /** weekly: 0 (Sunday) … 6; monthly: 1 … 31 (months without that day are skipped). */
  days?: number[]
  everyMinutes?: number
  /**
   * What the schedule starts: a backup, a DR drill restoring the latest copy (F8); of an archive
   * task (F20), its run or a verify of its device.
   */
  job: 'backup' | 'drill' | 'archive' | 'archive-verify'
  enabled: boolean
}

function hm (s: Schedule): [number, number] {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(s.time)
  if (m === null) throw new ScheduleInvalidError(`time ${s.time} is not HH:MM`)
  return [Number(m[1]), Number(m[2])]
}

function cron (pattern: string, s: Schedule): Cron {
  try {
    return new Cron(pattern, { timezone: s.timeZone, startAt: `${s.startDate}T00:00:00`, paused: true })
  } catch (err) {
    throw new ScheduleInvalidError(`schedule ${s.kind} at ${s.startDate} ${s.time} ${s.timeZone}: ${(err as Error).message}`, { cause: err })
  }
}

/** The first run: `startDate` at `time` in `timeZone`. */
export function firstRun (s: Schedule): Date {
  const [h, m] = hm(s)
  const c = cron(`${m} ${h} * * *`, s)
  const d = c.nextRun(new Date(0))
  c.stop()
  if (d === null) throw new ScheduleInvalidError(`schedule start ${s.startDate} ${s.time} never comes`)
  return d
}

/** Checks a schedule beyond what its JSON schema can say. */
export function validateSchedule (s: Schedule): void {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s.startDate) || Number.isNaN(Date.parse(s.startDate))) throw new ScheduleInvalidError(`startDate ${s.startDate} is not YYYY-MM-DD`)
  try { new Intl.DateTimeFormat('en', { timeZone: s.timeZone }) } catch { throw new ScheduleInvalidError(`time zone ${s.timeZone} is unknown; use an IANA name like Asia/Shanghai`) }
  if ((s.kind === 'weekly' || s.kind === 'monthly') && (s.days === undefined || s.days.length === 0)) throw new ScheduleInvalidError(`a ${s.kind} schedule needs days`)
  if (s.kind === 'weekly' && s.days!.some(d => d < 0 || d > 6)) throw new ScheduleInvalidError('weekly days are 0 (Sunday) to 6')
  if (s.kind === 'monthly' && s.days!.some(d => d < 1 || d > 31)) throw new ScheduleInvalidError('monthly days are 1 to 31')
  if (s.kind === 'interval' && (s.everyMinutes === undefined || s.everyMinutes < MIN_INTERVAL_MINUTES)) throw new ScheduleInvalidError(`an interval schedule runs at most every ${MIN_INTERVAL_MINUTES} minutes (45 or more is advised)`)
  firstRun(s)
}

/** The croner pattern of a daily, weekly or monthly schedule. */
function pattern (s: Schedule): string {
  const [h, m] = hm(s)
  return s.kind === 'daily'
    ? `${m} ${h} * * *`
    : s.kind === 'weekly' ? `${m} ${h} * * ${[...s.days!].sort().join(',')}` : `${m} ${h} ${[...s.days!].sort((a, b) => a - b).join(',')} * *`
}

/**
 * Every run strictly after `after`, in time order. One walk keeps one croner object, so a caller
 * that needs many runs (the capacity-planning simulation, years of them) does not pay for a new
 * one per run as `nextRun` does.
 */
export function * runsAfter (s: Schedule, after: Date): Generator<Date, void, undefined> {
  const start = firstRun(s)
  switch (s.kind) {
    case 'once':
      if (start > after) yield start
      return
    case 'interval': {
      const step = s.everyMinutes! * 60_000
      let t = start > after ? start.getTime() : start.getTime() + (Math.floor((after.getTime() - start.getTime()) / step) + 1) * step
      for (;;) { yield new Date(t); t += step }
    }
    default: {
      const c = cron(pattern(s), s)
      try {
        for (let d = c.nextRun(after); d !== null; d = c.nextRun(d)) yield d
      } finally {
        c.stop()
      }
    }
  }
}

/** The first run strictly after `after`, or null when there is none (a once schedule that passed). */
export function nextRun (s: Schedule, after: Date): Date | null {
  const runs = runsAfter(s, after)
  const first = runs.next()
  runs.return(undefined)
  return first.done === true ? null : first.value
}
