// Moving bytes under a bandwidth schedule: the rate in force and when it next changes come from
// the node's own functions (chunkstore's rateAt and nextRateChange, read in the site's local
// time), capped by what the link and the machine can do; a transfer is integrated window by
// window, so a run's end is known when it starts and no event is needed at each window edge.
import { nextRateChange, rateAt, type BandwidthSchedule } from '../../chunkstore/index.ts'
import { asLocal, fromLocal } from '../zone.ts'

/** Bytes per second in force at an instant, and the next instant it changes (null: never). */
export interface RateSource {
  rateAt: (ms: number) => number
  nextChange: (ms: number) => number | null
}

/** A schedule read in `tz`, capped at `capBytesPerSecond` (Infinity: no cap). */
export function scheduleRate (schedule: BandwidthSchedule | null, tz: string, capBytesPerSecond: number): RateSource {
  if (schedule === null || ((schedule.windows ?? []).length === 0 && schedule.defaultMibps === undefined)) {
    return { rateAt: () => capBytesPerSecond, nextChange: () => null }
  }
  const windows = (schedule.windows ?? []).length > 0
  const rate = (ms: number): number => Math.min(capBytesPerSecond, rateAt(schedule, asLocal(tz, ms)))
  if (!windows) return { rateAt: rate, nextChange: () => null }
  // The rate holds from an instant asked until the next change: asked again inside that stretch
  // (every run of a link, every sampling step), the answer is the one found for it.
  let from = Infinity
  let until = -Infinity
  let held = 0
  let next: number | null = null
  const look = (ms: number): void => {
    if (ms >= from && ms < until) return
    const change = nextRateChange(schedule, asLocal(tz, ms))
    next = change === null ? null : fromLocal(tz, change)
    held = rate(ms)
    from = ms
    until = next ?? Infinity
  }
  return {
    rateAt: ms => { look(ms); return held },
    nextChange: ms => { look(ms); return next }
  }
}

/** One stretch of a transfer at a constant rate. */
export interface Piece { from: number, to: number, rate: number }

export interface Transfer {
  /** When the last byte is sent; Infinity if that is not before `untilMs`. */
  endMs: number
  pieces: Piece[]
  /** Bytes not sent by `untilMs` (0 when it ends before). */
  leftBytes: number
}

/**
 * Sends `bytes` from `startMs` at the rates of `source`, looking no further than `untilMs`.
 * A window of rate 0 holds the transfer until it ends, as the node's limiter does.
 */
export function transfer (startMs: number, bytes: number, source: RateSource, untilMs: number): Transfer {
  const pieces: Piece[] = []
  let t = startMs
  let left = bytes
  while (left > 0) {
    if (t >= untilMs) return { endMs: Infinity, pieces, leftBytes: left }
    const rate = source.rateAt(t)
    const change = source.nextChange(t) ?? Infinity
    const edge = Math.min(change, untilMs)
    if (rate <= 0) {
      if (change === Infinity) return { endMs: Infinity, pieces, leftBytes: left }
      t = edge
      continue
    }
    if (rate === Infinity) { pieces.push({ from: t, to: t, rate: Infinity }); left = 0; break }
    const need = left / rate * 1000
    if (t + need <= edge) {
      pieces.push({ from: t, to: t + need, rate })
      t += need
      left = 0
    } else {
      pieces.push({ from: t, to: edge, rate })
      left -= (edge - t) / 1000 * rate
      t = edge
    }
  }
  return { endMs: t, pieces, leftBytes: 0 }
}

/** Bytes the pieces send between `a` and `b`. */
export function sentBetween (pieces: readonly Piece[], a: number, b: number): number {
  let n = 0
  for (const p of pieces) {
    if (p.to <= a || p.from >= b) continue
    if (p.rate === Infinity) continue
    n += (Math.min(b, p.to) - Math.max(a, p.from)) / 1000 * p.rate
  }
  return n
}
