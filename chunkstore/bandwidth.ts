// Bandwidth limits per link (F12): MiB/s by time-of-day windows, e.g. 10 MiB/s on weekdays
// 08:00–18:00, unlimited at night, or 0 (no replication at all) in a window. A token bucket
// paces senders at the rate in force; the clock and the sleep are injectable so tests run
// on simulated time.
import { InvalidScheduleError } from './errors.ts'
import { OperationAbortedError, throwIfAborted } from '../crypto/index.ts'

export interface BandwidthWindow {
  /** Local time "HH:MM", inclusive. */
  from: string
  /** Local time "HH:MM", exclusive; may be before `from` to wrap past midnight. */
  to: string
  /** MiB/s allowed in this window; 0 means no traffic at all. */
  mibps: number
  /** Days of the week (0 = Sunday); all days when absent. */
  days?: number[]
}

export interface BandwidthSchedule {
  /** MiB/s outside every window; absent or Infinity for unlimited. */
  defaultMibps?: number
  windows?: BandwidthWindow[]
}

const MIB = 1024 * 1024

function minutes (hhmm: string): number {
  const m = /^(\d{2}):(\d{2})$/.exec(hhmm)
  if (m === null || Number(m[1]) > 24 || Number(m[2]) > 59) throw new InvalidScheduleError(`"${hhmm}" is not HH:MM`)
  return Number(m[1]) * 60 + Number(m[2])
}

export function validateSchedule (s: BandwidthSchedule): void {
  for (const w of s.windows ?? []) {
    minutes(w.from); minutes(w.to)
    if (!(w.mibps >= 0)) throw new InvalidScheduleError(`window ${w.from}-${w.to} has no rate`)
    if (w.days?.some(d => !Number.isInteger(d) || d < 0 || d > 6) === true) throw new InvalidScheduleError('days are 0 (Sunday) to 6')
  }
  if (s.defaultMibps !== undefined && !(s.defaultMibps >= 0)) throw new InvalidScheduleError('the default rate is negative')
}

/** Bytes per second in force at `when` (Infinity when unlimited, 0 when traffic is not allowed). */
export function rateAt (s: BandwidthSchedule, when: Date): number {
  const day = when.getDay()
  const now = when.getHours() * 60 + when.getMinutes()
  for (const w of s.windows ?? []) {
    const from = minutes(w.from); const to = minutes(w.to)
    const inside = from <= to ? now >= from && now < to : now >= from || now < to
    // A window wrapping past midnight belongs to the day it started on.
    const startDay = from > to && now < to ? (day + 6) % 7 : day
    if (inside && (w.days === undefined || w.days.includes(startDay))) return w.mibps * MIB
  }
  return (s.defaultMibps ?? Infinity) * MIB
}

/**
 * The first moment after `when` at which the rate in force differs from the rate at `when`, or
 * null when it never changes. Windows start and end on whole minutes of local time, so the
 * candidates are their edges over the next week.
 */
export function nextRateChange (s: BandwidthSchedule, when: Date): Date | null {
  const windows = s.windows ?? []
  if (windows.length === 0) return null
  const current = rateAt(s, when)
  const edges = [...new Set(windows.flatMap(w => [minutes(w.from), minutes(w.to)]))].sort((a, b) => a - b)
  for (let day = 0; day <= 7; day++) {
    for (const m of edges) {
      const t = new Date(when.getFullYear(), when.getMonth(), when.getDate() + day, Math.floor(m / 60), m % 60)
      if (t > when && rateAt(s, t) !== current) return t
    }
  }
  return null
}

/** Longest wait in a window of rate 0 before the limiter looks again: a clock set forward or back shows within the hour. */
const MAX_CLOSED_WAIT_MS = 3600_000

export interface LimiterClock {
  now: () => number
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>
}

export const realClock: LimiterClock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => await new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => { clearTimeout(t); reject(new OperationAbortedError('Waiting for bandwidth', { cause: signal.reason })) }, { once: true })
  })
}

export interface BandwidthLimiter {
  /** Waits until `bytes` may be sent under the schedule. */
  take: (bytes: number, signal?: AbortSignal) => Promise<void>
  /** Rate in force now, bytes/s. */
  rate: () => number
}

function closedWait (schedule: BandwidthSchedule, now: number): number {
  const next = nextRateChange(schedule, new Date(now))
  return next === null ? MAX_CLOSED_WAIT_MS : Math.min(MAX_CLOSED_WAIT_MS, Math.max(1, next.getTime() - now))
}

/** A token bucket holding at most one second of traffic at the current rate. */
export function createLimiter (schedule: BandwidthSchedule, clock: LimiterClock = realClock): BandwidthLimiter {
  validateSchedule(schedule)
  let tokens = 0
  let last = clock.now()
  // Senders queue so that one large block cannot starve the others.
  let queue: Promise<void> = Promise.resolve()
  const rate = (): number => rateAt(schedule, new Date(clock.now()))
  const takeNow = async (bytes: number, signal?: AbortSignal): Promise<void> => {
    for (;;) {
      throwIfAborted(signal, 'Waiting for bandwidth')
      const r = rate()
      const t = clock.now()
      if (r === Infinity) { last = t; return }
      tokens = Math.min(r, tokens + (t - last) / 1000 * r)
      last = t
      if (r > 0 && (tokens >= bytes || tokens >= r)) { tokens -= bytes; return }
      // Rate 0: wait until the rate changes (at most an hour); else wait for the deficit.
      const wait = r === 0 ? closedWait(schedule, t) : Math.max(1, Math.ceil((Math.min(bytes, r) - tokens) / r * 1000))
      await clock.sleep(wait, signal)
    }
  }
  return {
    rate,
    take: async (bytes, signal) => {
      const mine = queue.then(async () => { await takeNow(bytes, signal) })
      queue = mine.catch(() => {})
      await mine
    }
  }
}
