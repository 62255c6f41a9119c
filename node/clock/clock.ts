import type { LimiterClock } from '../../chunkstore/index.ts'
import { abortable } from '../../crypto/index.ts'

/**
 * The time the daemon's schedules, timeouts and retries read. Production uses the system clock;
 * tests use a manual clock they move forward, so no test waits for wall-clock time.
 */
export interface Clock {
  now: () => Date
  /**
   * Calls `fn` once the clock reaches `at` (at once if it already has). Returns a cancel function.
   * `fn` may return a promise of the work it started; a manual clock waits for it.
   */
  at: (at: Date, fn: () => void | Promise<void>) => () => void
}

// setTimeout's longest delay; longer waits re-arm.
const MAX_DELAY = 2 ** 31 - 1

export function systemClock (): Clock {
  return {
    now: () => new Date(),
    at (at, fn) {
      let timer: NodeJS.Timeout | undefined
      let cancelled = false
      const arm = (): void => {
        const delay = at.getTime() - Date.now()
        if (delay <= 0) { timer = setTimeout(() => { if (!cancelled) void fn() }, 0); timer.unref(); return }
        timer = setTimeout(arm, Math.min(delay, MAX_DELAY))
        timer.unref()
      }
      arm()
      return () => { cancelled = true; if (timer !== undefined) clearTimeout(timer) }
    }
  }
}

export interface ManualClock extends Clock {
  /** Sets the time and fires, in time order, every timer that came due; awaits what they start. */
  set: (to: Date) => Promise<void>
  advance: (ms: number) => Promise<void>
  /** When the earliest timer set is due; undefined when none is. */
  next: () => Date | undefined
}

/** The clock as bandwidth limiters read it and sleep on it (chunkstore's LimiterClock). */
export function limiterClockOf (clock: Clock): LimiterClock {
  return {
    now: () => clock.now().getTime(),
    sleep: async (ms, signal) => {
      let cancel = (): void => {}
      try {
        await abortable(new Promise<void>(resolve => { cancel = clock.at(new Date(clock.now().getTime() + ms), resolve) }), signal, 'The wait for a bandwidth window')
      } finally {
        cancel()
      }
    }
  }
}

export function manualClock (start: Date): ManualClock {
  let now = start.getTime()
  let seq = 0
  const timers = new Map<number, { at: number, fn: () => void | Promise<void> }>()
  const settle = async (): Promise<void> => {
    // Let promise chains the fired timers started run before the next timer fires.
    for (let i = 0; i < 5; i++) await new Promise(resolve => setImmediate(resolve))
  }
  const clock: ManualClock = {
    now: () => new Date(now),
    at (at, fn) {
      const id = ++seq
      timers.set(id, { at: at.getTime(), fn })
      if (at.getTime() <= now) queueMicrotask(() => { if (timers.delete(id)) void fn() })
      return () => { timers.delete(id) }
    },
    async set (to) {
      const target = to.getTime()
      for (;;) {
        let next: [number, { at: number, fn: () => void | Promise<void> }] | undefined
        for (const entry of timers) {
          if (entry[1].at <= target && (next === undefined || entry[1].at < next[1].at)) next = entry
        }
        if (next === undefined) break
        timers.delete(next[0])
        now = Math.max(now, next[1].at)
        try { await next[1].fn() } catch { /* the timer's owner reports its own failures */ }
        await settle()
      }
      now = Math.max(now, target)
      await settle()
    },
    async advance (ms) { await clock.set(new Date(now + ms)) },
    next () {
      let first: number | undefined
      for (const t of timers.values()) if (first === undefined || t.at < first) first = t.at
      return first === undefined ? undefined : new Date(first)
    }
  }
  return clock
}
