// The report of a simulation run (PlanReport, node/api/planning-dto.ts): per site the bytes at the
// end, the peak and the date the disk is full; per task its runs against their interval and
// window; per link what it carried; per origin and holding site the lag and recovery point; the
// findings (what cannot work as planned); and the charts, drawn alike by the HTML report and
// the console.
import type { PlanChart, PlanFinding, PlanReport } from '../node/index.ts'
import { measuredParts } from './profile.ts'
import { formatBytes, formatSeconds } from './units.ts'
import type { World } from './engine/simulate.ts'

const HOUR = 3_600_000
const iso = (ms: number): string => new Date(ms).toISOString()
const round = (n: number, digits = 3): number => Number(n.toFixed(digits))
/** Series a chart draws at most (besides their capacity or window lines). */
const MAX_SERIES = 20

const CHARTS: Array<{ id: PlanChart['id'], title: string, unit: (w: World) => PlanChart['unit'] }> = [
  { id: 'storage', title: 'Storage per site (own stores and replica) against capacity', unit: () => 'bytes' },
  { id: 'lag', title: 'Recovery point at each holding site (age of the newest copy, hours)', unit: () => 'hours' },
  { id: 'backup-windows', title: 'Backup durations against their windows (hours)', unit: () => 'hours' },
  { id: 'link-utilisation', title: 'Replication link utilisation', unit: w => w.links.some(l => l.capacity !== null) ? 'percent' : 'bytes/s' }
]

export function buildReport (w: World): PlanReport {
  const m = w.model
  const findings: PlanFinding[] = []
  const add = (f: PlanFinding): void => { findings.push(f) }

  const sites = w.sites.map(s => {
    if (s.fullAt !== null) {
      add({ code: 'CAPACITY_EXHAUSTED', severity: 'critical', site: s.model.name, at: iso(s.fullAt), message: `Site ${s.model.name} runs out of its ${formatBytes(s.model.capacityBytes!)} on ${iso(s.fullAt).slice(0, 10)} (peak ${formatBytes(s.peak)})`, params: { capacity: s.model.capacityBytes!, peak: s.peak, date: iso(s.fullAt).slice(0, 10) } })
    }
    return {
      name: s.model.name,
      role: s.model.role,
      capacityBytes: s.model.capacityBytes,
      end: { ownBytes: Math.round(s.end.own), replicaBytes: Math.round(s.end.replica), archiveBytes: Math.round(s.end.archive), totalBytes: Math.round(s.end.own + s.end.replica) },
      peakBytes: Math.round(s.peak),
      fullAt: s.fullAt === null ? null : iso(s.fullAt)
    }
  })

  const tasks = w.sites.flatMap(s => s.tasks.map(t => {
    const name = `${s.model.name}/${t.store.dataset.name}`
    if (t.skipped > 0) {
      add({ code: 'BACKUP_OVER_INTERVAL', severity: t.skipped * 2 >= t.runs ? 'critical' : 'warning', site: s.model.name, at: iso(t.firstSkipAt!), message: `Backups of ${name} take up to ${formatSeconds(t.maxSeconds)}, longer than the time between their runs: ${t.skipped} planned runs are skipped (the task is still running)`, params: { task: name, skipped: t.skipped, maxSeconds: round(t.maxSeconds, 1) } })
    }
    if (t.collisions > 0) {
      add({ code: 'SCHEDULES_COLLIDE', severity: 'warning', site: s.model.name, at: iso(t.firstCollisionAt!), message: `Two schedules of ${name} fall due at the same moment ${t.collisions} times: the node runs the first and skips the other (give them different times)`, params: { task: name, collisions: t.collisions } })
    }
    if (t.pastWindow > 0) {
      add({ code: 'BACKUP_PAST_WINDOW', severity: 'warning', site: s.model.name, at: iso(t.firstPastAt!), message: `${t.pastWindow} of ${t.runs} backups of ${name} do not fit the window ${t.task.window!.text.from}–${t.task.window!.text.to} (longest ${formatSeconds(t.maxSeconds)})`, params: { task: name, runs: t.runs, pastWindow: t.pastWindow, from: t.task.window!.text.from, to: t.task.window!.text.to } })
    }
    const level = t.task.compression
    const measured = w.model.profile.sample?.compression
    if (level !== null && measured !== undefined && level !== measured && t.store.dataset.compressibility === (w.model.profile.sample?.compressibility ?? -1)) {
      add({ code: 'PROFILE_LEVEL_DIFFERS', severity: 'info', site: s.model.name, message: `${name} compresses at level ${level}, but the profile's sample was measured at ${measured}: measure again with --compression ${level} for a closer figure`, params: { task: name, level, measured } })
    }
    return {
      site: s.model.name, dataset: t.store.dataset.name, task: t.task.name, runs: t.runs, skipped: t.skipped, collisions: t.collisions,
      meanSeconds: t.runs > 0 ? round(t.totalSeconds / t.runs, 1) : 0, maxSeconds: round(t.maxSeconds, 1),
      window: t.task.window?.text ?? null, pastWindow: t.pastWindow, snapshots: t.store.kept, logicalBytes: Math.round(t.store.logical(m.endMs))
    }
  }))
  for (const n of w.neverRuns) add({ code: 'SCHEDULE_NEVER_RUNS', severity: 'warning', site: n.site, message: `Task ${n.task} at ${n.site} has no run within the horizon: its schedules start later or have passed`, params: { task: n.task } })

  const links = w.links.map(l => {
    const name = `${l.from.model.name} → ${l.to.model.name}`
    if (l.neverOpen || l.lastCaughtUp < m.endMs - w.catchUpMs) {
      add({ code: 'LINK_CANNOT_CATCH_UP', severity: 'critical', site: l.from.model.name, at: iso(l.lastCaughtUp), message: l.neverOpen ? `Replication ${name} never gets bandwidth: every window has rate 0` : `Replication ${name} falls behind for good: last caught up ${iso(l.lastCaughtUp).slice(0, 16).replace('T', ' ')}; the site sends more than its windows let through`, params: { from: l.from.model.name, to: l.to.model.name, lastCaughtUp: iso(l.lastCaughtUp) } })
    }
    return {
      from: l.from.model.name, to: l.to.model.name, capacityBytesPerSecond: l.capacity, sentBytes: Math.round(l.sentBytes),
      meanUtilisation: l.capacity === null || l.utilSteps === 0 ? null : round(l.utilSum / l.utilSteps, 4),
      peakUtilisation: l.capacity === null ? null : round(l.utilMax, 4)
    }
  })
  for (const x of w.missingLinks) add({ code: 'NO_LINK', severity: 'info', site: x.from, message: `Sites ${x.from} and ${x.to} replicate but the scenario gives no link between them: taken as unlimited`, params: { from: x.from, to: x.to } })
  for (const x of w.unmetPolicies) add({ code: 'NO_TARGET', severity: 'warning', site: x.site, message: `Policy ${x.policy} of ${x.site} wants ${x.wanted} other copies but the mesh has ${x.found} sites that qualify`, params: { policy: x.policy, wanted: x.wanted, found: x.found } })
  if (m.replicasKeep === 'everything' && w.sites.some(s => s.held.size > 0)) {
    const holders = w.sites.filter(s => s.held.size > 0).map(s => s.model.name)
    add({ code: 'REPLICA_GROWS', severity: 'info', message: `Replicas keep every block they were sent (replicas: { keep: everything }), an upper bound: ${holders.join(', ')} only grow. A node frees what an origin released once its lock has passed (replicas: { keep: released }, the default)`, params: { sites: holders.join(',') } })
  }

  // Lag per origin site and holding site, over the origin's data sets.
  const lagBy = new Map<string, { origin: string, target: string, arrived: number, lagSum: number, lagMax: number, rpoMax: number, behindMax: number, behindEnd: number }>()
  for (const p of w.pairs.values()) {
    const key = `${p.origin.site}\0${p.target.model.name}`
    const x = lagBy.get(key) ?? { origin: p.origin.site, target: p.target.model.name, arrived: 0, lagSum: 0, lagMax: 0, rpoMax: 0, behindMax: 0, behindEnd: 0 }
    x.arrived += p.arrived
    x.lagSum += p.lagSum
    x.lagMax = Math.max(x.lagMax, p.lagMax)
    x.rpoMax = Math.max(x.rpoMax, p.rpoMax)
    x.behindMax += p.behindMax
    x.behindEnd += p.behindEnd
    lagBy.set(key, x)
  }
  const lags = [...lagBy.values()].map(x => ({
    origin: x.origin, target: x.target, snapshotsArrived: x.arrived,
    meanLagHours: x.arrived > 0 ? round(x.lagSum / x.arrived / HOUR) : 0, maxLagHours: round(x.lagMax / HOUR), maxRpoHours: round(x.rpoMax / HOUR),
    maxBytesBehind: Math.round(x.behindMax), endBytesBehind: Math.round(x.behindEnd)
  }))

  const archives = w.sites.flatMap(s => s.archives.map(a => {
    if (a.skipped > 0) add({ code: 'ARCHIVE_OVER_INTERVAL', severity: 'warning', site: s.model.name, at: iso(a.firstSkipAt!), message: `Archive ${a.model.name} at ${s.model.name} takes longer than the time between its runs: ${a.skipped} runs skipped`, params: { archive: a.model.name, skipped: a.skipped } })
    const bytes = a.sets.reduce((n, b) => n + b, 0)
    return {
      site: s.model.name, name: a.model.name, kind: a.model.kind, sets: a.sets.length, bytes: Math.round(bytes),
      cartridges: a.model.cartridgeBytes === null ? null : a.sets.reduce((n, b) => n + Math.max(1, Math.ceil(b / a.model.cartridgeBytes!)), 0)
    }
  }))

  // A chart shows the series that matter most: the sites nearest to full, the copies furthest
  // behind, the backups nearest their window's end, the busiest links. The tables list them all.
  const rank = new Map<string, number>()
  for (const x of sites) rank.set(`storage\0${x.name}`, (x.fullAt !== null ? 2 : 0) + (x.capacityBytes !== null ? x.peakBytes / x.capacityBytes : x.peakBytes / 1e18))
  for (const x of lags) rank.set(`lag\0${x.origin} → ${x.target}`, x.maxRpoHours)
  for (const x of w.sites.flatMap(s => s.tasks)) rank.set(`backup-windows\0${x.site.model.name}/${x.store.dataset.name}`, x.task.window !== null ? x.maxSeconds / 3600 / ((((x.task.window.to - x.task.window.from) % 1440 + 1440) % 1440 || 1440) / 60) : x.maxSeconds / 86_400)
  for (const x of links) rank.set(`link-utilisation\0${x.from} → ${x.to}`, x.peakUtilisation ?? x.sentBytes / 1e18)
  const stepHours = w.series.stepsPerPoint * m.stepMs / HOUR
  const charts: PlanChart[] = CHARTS.map(c => {
    const measured = w.series.meta.flatMap((meta, i) => meta.chart === c.id && meta.line === undefined ? [{ meta, i, rank: rank.get(`${c.id}\0${meta.label}`) ?? 0 }] : [])
    const shown = measured.sort((a, b) => b.rank - a.rank).slice(0, MAX_SERIES)
    const keep = new Set(shown.map(x => x.meta.label))
    const lines = w.series.meta.flatMap((meta, i) => meta.chart === c.id && meta.line !== undefined && [...keep].some(k => meta.label === `${k} ${meta.line === 'capacity' ? 'capacity' : 'window'}`) ? [{ meta, i }] : [])
    return {
      id: c.id, title: c.title, unit: c.unit(w), start: iso(m.startMs), stepHours, omitted: measured.length - shown.length,
      series: [...shown, ...lines].map(({ meta, i }) => ({ label: meta.label, ...(meta.site !== undefined ? { site: meta.site } : {}), ...(meta.line !== undefined ? { line: meta.line } : {}), data: w.series.data(i).map(v => v === null ? null : round(v, 4)) }))
    }
  })

  const severity = { critical: 0, warning: 1, info: 2 }
  findings.sort((a, b) => severity[a.severity] - severity[b.severity] || (a.at ?? '').localeCompare(b.at ?? ''))
  return {
    format: 'cairn-plan-report',
    version: 1,
    scenario: {
      name: m.name, timeZone: m.timeZone, start: iso(m.startMs), end: iso(m.endMs), days: round((m.endMs - m.startMs) / 86_400_000, 2), stepHours: m.stepMs / HOUR, sites: m.sites.length,
      profile: m.profile.measuredAt === '' ? null : { host: m.profile.host.name, measuredAt: m.profile.measuredAt, parts: measuredParts(m.profile) }
    },
    elapsedMs: Math.round(w.elapsedMs),
    events: w.events,
    sites, tasks, links, lags, archives, findings, charts
  }
}
