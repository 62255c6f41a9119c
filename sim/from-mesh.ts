// A scenario written from what a node knows (MeshFacts: GET /api/planning/scenario, `cairn sim
// from-mesh`): this site's data sets from its tasks and their backup history (size, growth, change,
// compression, durations), its policies and bandwidth, the other members with their roles, and
// links at the throughput replication measured. What is estimated says so in a comment; what this
// node cannot know (other sites' data, disk sizes) is left for the planner to fill in.
import { Document, isMap, isSeq, type Node } from 'yaml'
import type { MeshFacts, PlanFactRun, Schedule } from '../node/index.ts'
import type { DatasetInput, ScenarioInput, ScheduleInput, SiteInput } from './scenario.ts'
import { DEFAULT_MESH, DEFAULT_SAMPLE, type Profile } from './profile.ts'

const DAY = 86_400_000
const GB = 1e9

const median = (xs: number[]): number | undefined => {
  if (xs.length === 0) return undefined
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}
const bytesText = (n: number): string => n >= 1e12 ? `${(n / 1e12).toFixed(2)}TB` : n >= GB ? `${(n / GB).toFixed(1)}GB` : `${Math.max(1, Math.round(n / 1e6))}MB`
const pct = (x: number): string => `${Number((x * 100).toPrecision(3))}%`

function schedule (s: Schedule): ScheduleInput {
  return { kind: s.kind, startDate: s.startDate, time: s.time, timeZone: s.timeZone, level: s.level, ...(s.days !== undefined ? { days: s.days } : {}), ...(s.everyMinutes !== undefined ? { everyMinutes: s.everyMinutes } : {}) }
}

/** Growth per day, change per day, compressibility and duplication from a task's backup history. */
export function estimate (runs: PlanFactRun[]): { size: number, files: number, growthPerDay: number, change: number, compressibility?: number, duplication?: number, readBytesPerSecond?: number } {
  const last = runs[runs.length - 1]
  const first = runs[0]
  const days = runs.length > 1 ? (Date.parse(last.startedAt) - Date.parse(first.startedAt)) / DAY : 0
  const growthPerDay = days > 0 ? Math.max(0, (last.bytesTotal - first.bytesTotal) / days) : 0
  const changes: number[] = []
  for (let i = 1; i < runs.length; i++) {
    const gap = (Date.parse(runs[i].startedAt) - Date.parse(runs[i - 1].startedAt)) / DAY
    if (gap <= 0 || runs[i].bytesTotal <= 0) continue
    const grown = Math.max(0, runs[i].bytesTotal - runs[i - 1].bytesTotal)
    changes.push(Math.max(0, runs[i].bytesNew - grown) / runs[i].bytesTotal / gap)
  }
  const ratios = runs.filter(r => r.bytesNew > 0).map(r => r.bytesStored / r.bytesNew)
  const full = runs.find(r => r.bytesNew > 0 && r.bytesRead >= r.bytesTotal * 0.99)
  const speeds = runs.filter(r => r.durationSeconds > 0 && r.bytesRead > 0).map(r => r.bytesRead / r.durationSeconds)
  return {
    size: last.bytesTotal,
    files: last.files,
    growthPerDay,
    change: median(changes) ?? 0,
    compressibility: median(ratios),
    duplication: first === full && full !== undefined ? Math.max(0, 1 - full.bytesNew / full.bytesTotal) : undefined,
    readBytesPerSecond: median(speeds)
  }
}

export function scenarioFromFacts (facts: MeshFacts, options: { horizon?: string } = {}): string {
  const estimated: Array<{ path: Array<string | number>, note: string }> = []
  const note = (path: Array<string | number>, text: string): void => { estimated.push({ path, note: text }) }
  const speeds: number[] = []
  const datasets: DatasetInput[] = []
  facts.tasks.forEach((t, i) => {
    const space = facts.spaces.find(s => s.name === t.space)
    const at = ['sites', 0, 'datasets', datasets.length]
    const e = t.runs.length > 0 ? estimate(t.runs) : undefined
    if (e?.readBytesPerSecond !== undefined) speeds.push(e.readBytesPerSecond)
    const d: DatasetInput = {
      name: t.name,
      space: t.space,
      size: e === undefined ? '100GB' : bytesText(e.size),
      ...(e !== undefined && e.files > 0 ? { files: e.files } : {}),
      growth: bytesText(e?.growthPerDay ?? 0),
      change: pct(e?.change ?? 0.01),
      ...(e?.compressibility !== undefined ? { compressibility: Number(Math.min(1.1, e.compressibility).toFixed(3)) } : {}),
      ...(e?.duplication !== undefined ? { duplication: Number(Math.min(0.99, e.duplication).toFixed(3)) } : {}),
      // The space's store as it is now (shared by the space's tasks: given with the first).
      ...(space !== undefined && facts.tasks.findIndex(x => x.space === t.space) === i && space.usedBytes > 0 ? { stored: bytesText(space.usedBytes) } : {}),
      backup: {
        name: t.name,
        schedules: t.schedules.length > 0 ? t.schedules.map(schedule) : [{ kind: 'daily', time: '01:00', level: 'incremental' }],
        retention: t.retention.mode === 'forever' ? 'forever' : { ...(t.retention.copies !== undefined ? { copies: t.retention.copies } : {}), ...(t.retention.days !== undefined ? { days: t.retention.days } : {}) },
        ...(t.bandwidth !== null ? { bandwidth: t.bandwidth } : {}),
        compression: t.compression
      }
    }
    datasets.push(d)
    if (e === undefined) note([...at, 'size'], 'no backup of this task yet: size, growth and change are guesses, fill them in')
    else note([...at, 'growth'], `estimated from ${t.runs.length} backups in the job history (growth, change, compressibility${d.duplication !== undefined ? ', duplication' : ''})`)
    if (t.schedules.length === 0) note([...at, 'backup', 'schedules'], 'the task runs by hand only: a daily run is assumed')
  })

  const self: SiteInput = {
    name: facts.site,
    role: facts.role as SiteInput['role'],
    timeZone: facts.timeZone,
    ...(facts.replicaBytes > 0 ? { replicaStored: bytesText(facts.replicaBytes) } : {}),
    datasets,
    ...(facts.policies.length > 0 ? { replication: { policies: facts.policies, ...(facts.bandwidth !== null ? { bandwidth: facts.bandwidth } : {}) } } : {})
  }
  note(['sites', 0, 'name'], 'this node; add capacity: (its disk) to see when it fills')
  // The other members by name, whatever order the member list has them in: the same mesh writes the same scenario.
  const others: SiteInput[] = facts.members.filter(m => !m.self).sort((a, b) => a.site < b.site ? -1 : a.site > b.site ? 1 : 0).map(m => ({ name: m.site, role: m.role as SiteInput['role'], datasets: [] }))
  others.forEach((m, k) => {
    const held = facts.held.find(h => h.site === m.name)
    note(['sites', k + 1, 'name'], `another member${held !== undefined ? ` (${held.snapshots} of its snapshots are held here)` : ''}: its data sets, policies and disk are not known here — run from-mesh there and merge`)
  })
  const links = facts.links.filter(l => l.seconds > 0 && l.bytesSent > 1e6).map(l => ({ sites: [facts.site, l.site] as [string, string], bandwidth: `${Math.max(1, Math.round(l.bytesSent / l.seconds / 1e6))}MB/s` }))
  links.forEach((l, k) => { note(['links', k, 'bandwidth'], `what replication to ${l.sites[1]} moved in its last run: a lower bound of the link`) })

  const profile: Profile = {
    format: 'cairn-sim-profile',
    version: 1,
    measuredAt: facts.at,
    host: { name: facts.site, cpus: 0, cpuModel: '', node: '' },
    ...(speeds.length > 0 ? { sample: { ...DEFAULT_SAMPLE, folder: '(job history)', newBytesPerSecond: Math.round(median(speeds)!), rereadBytesPerSecond: Math.round(median(speeds)! * 3) } } : {})
  }
  const measuredLinks = facts.links.filter(l => l.seconds > 0 && l.bytesSent > 1e6)
  if (measuredLinks.length > 0) profile.mesh = { ...DEFAULT_MESH, bytesPerSecond: Math.round(Math.max(...measuredLinks.map(l => l.bytesSent / l.seconds))) }

  const scenario: ScenarioInput = {
    format: 'cairn-scenario',
    version: 1,
    name: `${facts.site} and its mesh, ${facts.at.slice(0, 10)}`,
    start: facts.at.slice(0, 10),
    horizon: options.horizon ?? '1y',
    timeZone: facts.timeZone,
    ...(profile.sample !== undefined || profile.mesh !== undefined ? { profile } : {}),
    sites: [self, ...others],
    ...(links.length > 0 ? { links } : {})
  }
  const doc = new Document(scenario)
  doc.commentBefore = ` Written by cairn sim from-mesh at ${facts.site} on ${facts.at}. Estimates are marked; edit what-ifs and run it:\n   cairn sim run FILE --html report.html`
  for (const e of estimated) {
    const node = doc.getIn(e.path, true) as Node | undefined
    if (node !== undefined && node !== null) node.comment = ` ${e.note}`
  }
  // Short lists and schedule entries on one line read better.
  const flow = (n: unknown): void => {
    if (isSeq(n)) { if (n.items.every(x => !isMap(x) && !isSeq(x))) n.flow = true; n.items.forEach(flow) } else if (isMap(n)) n.items.forEach(p => { flow(p.value) })
  }
  flow(doc.contents)
  return doc.toString({ lineWidth: 0 })
}
