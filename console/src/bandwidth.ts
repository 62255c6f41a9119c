// A bandwidth schedule (F12) as a form edits it: the mesh's replication limit and a backup task's
// `bandwidth` option have the same shape and the same rules (node/api/schemas.ts bandwidthSchema).
import type { Bandwidth } from './api.ts'
import { valid } from './validate.ts'

export interface WindowDraft { from: string, to: string, mibps: number, days: number[] }
/** `defaultMibps` '' = unlimited outside the windows. */
export interface BandwidthDraft { defaultMibps: number | '', windows: WindowDraft[] }

/** The API's limit on windows per schedule. */
export const MAX_WINDOWS = 48

export const bandwidthDraft = (b: Bandwidth | null | undefined): BandwidthDraft => ({
  defaultMibps: b?.defaultMibps ?? '',
  windows: (b?.windows ?? []).map(w => ({ from: w.from, to: w.to, mibps: w.mibps, days: [...(w.days ?? [])] }))
})

export const bandwidthOf = (d: BandwidthDraft): Bandwidth => ({
  ...(d.defaultMibps !== '' ? { defaultMibps: d.defaultMibps } : {}),
  windows: d.windows.map(w => ({ from: w.from, to: w.to, mibps: w.mibps, ...(w.days.length > 0 ? { days: [...w.days].sort() } : {}) }))
})

/** No limit at all: nothing outside the windows and no window. */
export const unlimited = (d: BandwidthDraft): boolean => d.defaultMibps === '' && d.windows.length === 0

/** What the API would refuse, as a message key of `bw`; undefined when it accepts the schedule. */
export function bandwidthProblem (d: BandwidthDraft): 'bw.errMibps' | 'bw.errWindow' | 'bw.errWindows' | undefined {
  if (d.defaultMibps !== '' && !valid.mibps(d.defaultMibps)) return 'bw.errMibps'
  if (d.windows.length > MAX_WINDOWS) return 'bw.errWindows'
  for (const w of d.windows) {
    if (!valid.hhmm(w.from) || !valid.hhmm(w.to)) return 'bw.errWindow'
    if (!valid.mibps(w.mibps)) return 'bw.errMibps'
  }
  return undefined
}
