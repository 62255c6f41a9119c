// Local time of a site. The node reads bandwidth windows in its machine's local time (chunkstore's
// rateAt, nextRateChange); a simulation holds sites in many time zones in one process. So an
// instant is shifted to a Date whose *local* fields are the site's wall time, handed to the node's
// functions, and an answer shifted back. Offsets are cached per zone and hour: Intl is slow.

const formats = new Map<string, Intl.DateTimeFormat>()
const offsets = new Map<string, Map<number, number>>()
const HOUR = 3_600_000

function format (tz: string): Intl.DateTimeFormat {
  let f = formats.get(tz)
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })
    formats.set(tz, f)
  }
  return f
}

/** Milliseconds to add to UTC to get the wall time in `tz` at instant `ms`. */
export function zoneOffsetMs (tz: string, ms: number): number {
  if (tz === 'UTC' || tz === 'Etc/UTC') return 0
  let cache = offsets.get(tz)
  if (cache === undefined) offsets.set(tz, cache = new Map())
  const hour = Math.floor(ms / HOUR)
  let off = cache.get(hour)
  if (off === undefined) {
    const p: Record<string, number> = {}
    for (const part of format(tz).formatToParts(new Date(hour * HOUR))) if (part.type !== 'literal') p[part.type] = Number(part.value)
    off = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - hour * HOUR
    cache.set(hour, off)
  }
  return off
}

/** The instant as a Date whose local fields (getHours, getDay …) read the wall time in `tz`. */
export function asLocal (tz: string, ms: number): Date {
  const wall = ms + zoneOffsetMs(tz, ms)
  // Local fields of a Date are UTC fields plus this process's own offset at that moment.
  return new Date(wall + new Date(wall).getTimezoneOffset() * 60_000)
}

/** Back from a local-fields Date made by `asLocal` (or by arithmetic on one) to the instant. */
export function fromLocal (tz: string, d: Date): number {
  const wall = d.getTime() - d.getTimezoneOffset() * 60_000
  // The offset at the instant itself: try the offset at the wall time read as UTC, then correct once.
  const guess = wall - zoneOffsetMs(tz, wall)
  return wall - zoneOffsetMs(tz, guess)
}

/** Minutes since local midnight in `tz`, and the weekday (0 = Sunday). */
export function wallClock (tz: string, ms: number): { minute: number, day: number } {
  const d = new Date(ms + zoneOffsetMs(tz, ms))
  return { minute: d.getUTCHours() * 60 + d.getUTCMinutes(), day: d.getUTCDay() }
}
