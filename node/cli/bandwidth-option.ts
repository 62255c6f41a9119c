// Bandwidth limits on the command line (F12): `--limit 08:00-18:00=10@1-5` adds a window
// (MiB/s from 08:00 to 18:00, Monday to Friday), `--limit 20` sets the rate outside every
// window. Used by `cairn backup` (backup traffic) and `cairn mesh policy` (replication).
import { InvalidArgumentError } from 'commander'
import type { BandwidthSchedule, BandwidthWindow } from '../../chunkstore/index.ts'

const HINT = 'write MIBPS or FROM-TO=MIBPS[@DAY[-DAY]], e.g. 20 or 08:00-18:00=10@1-5 (days 0=Sunday)'

/** Parses "08:00-18:00=10" or "08:00-18:00=10@1-5" (MiB/s, optional days 0=Sunday). */
export function parseLimit (spec: string): BandwidthWindow {
  const m = /^(\d{2}:\d{2})-(\d{2}:\d{2})=(\d+(?:\.\d+)?)(?:@(\d)(?:-(\d))?)?$/.exec(spec)
  if (m === null) throw new InvalidArgumentError(`--limit ${spec}: ${HINT}`)
  const w: BandwidthWindow = { from: m[1], to: m[2], mibps: Number(m[3]) }
  if (m[4] !== undefined) {
    const a = Number(m[4]); const b = m[5] === undefined ? a : Number(m[5])
    if (a > 6 || b > 6 || b < a) throw new InvalidArgumentError(`--limit ${spec}: days run 0 (Sunday) to 6, first day first`)
    w.days = Array.from({ length: b - a + 1 }, (_, i) => a + i)
  }
  return w
}

/** A commander option parser: each `--limit` adds a window or sets the default rate. */
export function collectLimit (spec: string, prev: BandwidthSchedule = {}): BandwidthSchedule {
  if (/^\d+(?:\.\d+)?$/.test(spec)) {
    if (!(Number(spec) > 0)) throw new InvalidArgumentError(`--limit ${spec}: the rate must be above 0 MiB/s`)
    return { ...prev, defaultMibps: Number(spec) }
  }
  return { ...prev, windows: [...(prev.windows ?? []), parseLimit(spec)] }
}
