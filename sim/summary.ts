// The report as a person reads it on a terminal: one table per question (how much does each site
// store, do backups fit, how far behind are the copies, how busy are the links) and the findings.
import type { PlanReport } from '../node/index.ts'
import { formatBytes, formatSeconds, localDate } from './units.ts'

function table (head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => r[i].length)))
  const line = (r: string[]): string => r.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join('  ').trimEnd()
  return [line(head), line(widths.map(w => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

const hours = (h: number): string => h === 0 ? '0' : formatSeconds(h * 3600)
const share = (x: number | null): string => x === null ? '-' : `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%`

export function summarise (r: PlanReport): string {
  const s = r.scenario
  const out: string[] = []
  out.push(`${s.name}: ${s.sites} sites, ${localDate(s.start, s.timeZone)} to ${localDate(s.end, s.timeZone)} (${s.days} days, every ${s.stepHours} h); ${r.events} events in ${r.elapsedMs} ms`)
  out.push(s.profile === null ? 'profile: built-in defaults (measure this machine with `cairn sim calibrate`)' : `profile: ${s.profile.parts.join(' + ')} measured on ${s.profile.host} at ${s.profile.measuredAt}`)
  out.push('')
  out.push(table(['site', 'role', 'own', 'replica', 'total', 'peak', 'capacity', 'full on'], r.sites.map(x => [
    x.name, x.role, formatBytes(x.end.ownBytes), formatBytes(x.end.replicaBytes), formatBytes(x.end.totalBytes), formatBytes(x.peakBytes),
    x.capacityBytes === null ? '-' : formatBytes(x.capacityBytes), (x.fullAt === null ? undefined : localDate(x.fullAt, r.scenario.timeZone)) ?? (x.capacityBytes === null ? '-' : 'not within the horizon')
  ])))
  if (r.tasks.length > 0) {
    out.push('')
    out.push(table(['backup', 'runs', 'skipped', 'mean', 'longest', 'window', 'past window', 'copies kept', 'data at end'], r.tasks.map(t => [
      `${t.site}/${t.dataset}`, String(t.runs), String(t.skipped + t.collisions), formatSeconds(t.meanSeconds), formatSeconds(t.maxSeconds),
      t.window === null ? '-' : `${t.window.from}-${t.window.to}`, String(t.pastWindow), String(t.snapshots), formatBytes(t.logicalBytes)
    ])))
  }
  if (r.lags.length > 0) {
    out.push('')
    out.push(table(['copies of', 'at', 'arrived', 'mean lag', 'max lag', 'worst RPO', 'most behind', 'behind at end'], r.lags.map(l => [
      l.origin, l.target, String(l.snapshotsArrived), hours(l.meanLagHours), hours(l.maxLagHours), hours(l.maxRpoHours), formatBytes(l.maxBytesBehind), formatBytes(l.endBytesBehind)
    ])))
  }
  if (r.links.length > 0) {
    out.push('')
    out.push(table(['link', 'capacity', 'sent', 'mean use', 'peak use'], r.links.map(l => [
      `${l.from} → ${l.to}`, l.capacityBytesPerSecond === null ? '-' : `${formatBytes(l.capacityBytesPerSecond)}/s`, formatBytes(l.sentBytes), share(l.meanUtilisation), share(l.peakUtilisation)
    ])))
  }
  if (r.archives.length > 0) {
    out.push('')
    out.push(table(['archive', 'kind', 'sets', 'bytes', 'cartridges'], r.archives.map(a => [`${a.site}/${a.name}`, a.kind, String(a.sets), formatBytes(a.bytes), a.cartridges === null ? '-' : String(a.cartridges)])))
  }
  out.push('')
  if (r.findings.length === 0) out.push('No findings: every backup fits, every link catches up, every disk lasts the horizon.')
  else for (const f of r.findings) out.push(`${f.severity.toUpperCase().padEnd(8)} ${f.at !== undefined ? `${localDate(f.at, r.scenario.timeZone)} ` : ''}${f.message}`)
  return out.join('\n') + '\n'
}
