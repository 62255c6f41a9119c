// Reading a scenario: YAML or JSON text (JSON is read as YAML, which it is, so both get line and
// column), checked against the JSON Schema and then by the node's own rules for what the schema
// cannot say (schedules, bandwidth windows, replication policies, time zones), and resolved into
// the model the engine runs. Every problem names its field's path and, in the text, its place.
import { dirname, isAbsolute, resolve } from 'node:path'
import { LineCounter, parseDocument, type Document } from 'yaml'
import { Ajv, type ErrorObject } from 'ajv'
import { checkForgetPolicy, TARGET_SEGMENT, validateSchedule as validateBandwidth, type BandwidthSchedule } from '../chunkstore/index.ts'
import { validateReplicationConfig, validateSchedule, type Schedule } from '../node/index.ts'
import { ScenarioInvalidError, ScenarioSyntaxError, type SourcePlace } from './errors.ts'
import { checkProfile, DEFAULT_PROFILE, readProfile, type Profile, type SampleMeasure } from './profile.ts'
import { KIND_HINTS, SCENARIO_SCHEMA } from './scenario-schema.ts'
import type { ArchiveModel, DatasetInput, DatasetModel, ScenarioInput, ScenarioModel, ScheduleInput, SiteModel, TaskModel } from './scenario.ts'
import { parseClock, parseRate, parseShare, parseSize, parseSpanHours } from './units.ts'
import { zoneOffsetMs } from './zone.ts'

type Path = Array<string | number>
type Problem = SourcePlace & { problem: string }

export interface LoadOptions {
  /** The name messages give the text (and the folder relative files are read from). Default `scenario`. */
  file?: string
  /** May the scenario read files (a profile by path, sample folders)? Not when a node runs it for its API. */
  allowFiles?: boolean
  /** Measures a data set's sample folder (sim/calibrate-sample.ts); needed when a data set names one. */
  measureSample?: (folder: string) => Promise<SampleMeasure>
}

const DAY = 86_400_000
const HOUR = 3_600_000

let compiled: ReturnType<Ajv['compile']> | undefined
const validator = (): ReturnType<Ajv['compile']> => {
  compiled ??= new Ajv({ allErrors: true, strict: false }).compile(SCENARIO_SCHEMA)
  return compiled
}

/** `sites[0].datasets[1].size` */
export const fieldOf = (path: Path): string => path.map((p, i) => typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`).join('')

/** The text parsed, with a way to find where a field is written. */
export interface ParsedText {
  value: unknown
  place: (path: Path) => SourcePlace
}

export function parseText (text: string, file = 'scenario'): ParsedText {
  const lines = new LineCounter()
  const doc: Document = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  const first = doc.errors[0]
  if (first !== undefined) {
    const pos = lines.linePos(first.pos[0])
    throw new ScenarioSyntaxError({ file, field: '', line: pos.line, column: pos.col }, first.message)
  }
  let value: unknown
  try {
    value = doc.toJS({ maxAliasCount: 100 })
  } catch (err) {
    throw new ScenarioSyntaxError({ file, field: '' }, (err as Error).message, { cause: err })
  }
  return {
    value,
    place: (path) => {
      // The field itself, or the nearest enclosing one that is written (a missing field: its parent).
      for (let n = path.length; n >= 0; n--) {
        const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined
        const at = (node as { range?: [number, number, number] } | null | undefined)?.range?.[0]
        if (at !== undefined) {
          const pos = lines.linePos(at)
          return { file, field: fieldOf(path), line: pos.line, column: pos.col }
        }
      }
      return { file, field: fieldOf(path) }
    }
  }
}

const pathOf = (pointer: string): Path => pointer === '' ? [] : pointer.slice(1).split('/').map(s => s.replace(/~1/g, '/').replace(/~0/g, '~')).map(s => /^\d+$/.test(s) ? Number(s) : s)

/** Ajv's errors as one plain problem per field, in the words of the field's kind. */
function schemaProblems (errors: ErrorObject[], place: ParsedText['place']): Problem[] {
  const byField = new Map<string, { path: Path, problem: string, rank: number, branch: boolean }>()
  for (const e of errors) {
    let path = pathOf(e.instancePath)
    let problem: string
    let rank = 1
    const kind = /#\/definitions\/(size|rate|share)\//.exec(e.schemaPath)?.[1] ?? (/\/(growth|change)\//.test(e.schemaPath) ? 'growth' : undefined)
    if (e.keyword === 'required') {
      path = [...path, (e.params as { missingProperty: string }).missingProperty]
      problem = 'is required'
      rank = 3
    } else if (e.keyword === 'additionalProperties') {
      const extra = (e.params as { additionalProperty: string }).additionalProperty
      path = [...path, extra]
      problem = 'is not a field here; check its spelling (cairn sim schema lists the fields)'
      rank = 3
    } else if (kind !== undefined && kind !== 'growth') {
      problem = KIND_HINTS[kind]
      rank = 2
    } else if (kind === 'growth') {
      problem = /\/growth\//.test(e.schemaPath) ? 'should be a size per day such as 20GB, or a share such as 0.5%' : 'should be a share per day such as 2%, or a size such as 40GB'
      rank = 2
    } else if (e.keyword === 'enum') {
      problem = `should be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map(v => JSON.stringify(v)).join(', ')}`
    } else if (e.keyword === 'pattern' && /HH|\[01\]/.test(String((e.params as { pattern: string }).pattern))) {
      problem = 'should be a time of day, HH:MM'
    } else if (e.keyword === 'oneOf' || e.keyword === 'if') {
      problem = 'is not in a form this field takes (see cairn sim schema)'
      rank = 0
    } else {
      problem = e.message ?? 'is not valid'
    }
    const key = fieldOf(path)
    const known = byField.get(key)
    if (known === undefined || rank > known.rank) byField.set(key, { path, problem, rank, branch: e.keyword === 'oneOf' || /\/oneOf\//.test(e.schemaPath) })
  }
  // A field with its own problem explains why its parent matched none of its forms: drop the
  // parent's vaguer one ("one of", or another form's "must be equal to constant").
  const fields = [...byField.keys()]
  return [...byField.entries()]
    .filter(([key, v]) => !v.branch || v.rank >= 2 || !fields.some(f => f !== key && (f.startsWith(`${key}.`) || f.startsWith(`${key}[`))))
    .map(([, v]) => ({ ...place(v.path), problem: v.problem }))
}

const knownZone = (tz: string): boolean => { try { new Intl.DateTimeFormat('en', { timeZone: tz }); return true } catch { return false } }

/** Midnight of YYYY-MM-DD in `tz`, or an ISO time as it is. */
function startOf (text: string, tz: string): number {
  if (text.length > 10) return Date.parse(text)
  const utc = Date.parse(`${text}T00:00:00Z`)
  return utc - zoneOffsetMs(tz, utc)
}

/** YYYY-MM-DD of an instant in `tz`. */
const dateIn = (ms: number, tz: string): string => new Date(ms + zoneOffsetMs(tz, ms)).toISOString().slice(0, 10)

/**
 * Parses, checks and resolves a scenario. Throws ScenarioSyntaxError for text that is not YAML or
 * JSON, ScenarioInvalidError (every problem with its field) for one that breaks the schema or the
 * node's rules, ProfileInvalidError / SampleUnreadableError for what it names.
 */
export async function loadScenario (text: string, options: LoadOptions = {}): Promise<ScenarioModel> {
  const file = options.file ?? 'scenario'
  const parsed = parseText(text, file)
  const validate = validator()
  if (!validate(parsed.value)) throw new ScenarioInvalidError(schemaProblems(validate.errors ?? [], parsed.place))
  const input = parsed.value as ScenarioInput
  const problems: Problem[] = []
  const fail = (path: Path, problem: string): void => { problems.push({ ...parsed.place(path), problem }) }

  const tz = input.timeZone ?? 'UTC'
  if (!knownZone(tz)) fail(['timeZone'], `time zone ${tz} is unknown; use an IANA name like Asia/Shanghai`)
  const startMs = knownZone(tz) ? startOf(input.start, tz) : NaN
  if (Number.isNaN(startMs)) fail(['start'], 'is not a date (YYYY-MM-DD) or an ISO time')
  const horizonHours = parseSpanHours(input.horizon)!
  if (horizonHours > 100 * 365.25 * 24) fail(['horizon'], 'is longer than 100 years')
  const stepHours = input.step !== undefined ? parseSpanHours(input.step)! : 1
  if (stepHours < 1 || stepHours > 24 * 7) fail(['step'], 'should be from 1h to 7d')
  if (stepHours > horizonHours) fail(['step'], 'is longer than the horizon')

  let profile: Profile = DEFAULT_PROFILE
  if (typeof input.profile === 'string') {
    if (options.allowFiles === false) fail(['profile'], 'a scenario run on the node cannot read files: put the profile itself here, or run `cairn sim run` on the command line')
    else profile = readProfile(isAbsolute(input.profile) ? input.profile : resolve(dirname(resolve(file)), input.profile))
  } else if (input.profile !== undefined) {
    try { profile = checkProfile(input.profile, `${file} (profile)`) } catch (err) { fail(['profile'], (err as Error).message) }
  }

  const siteNames = new Set<string>()
  input.sites.forEach((s, i) => { if (siteNames.has(s.name)) fail(['sites', i, 'name'], `site ${s.name} is named twice`); siteNames.add(s.name) })

  const sites: SiteModel[] = []
  for (let i = 0; i < input.sites.length; i++) {
    const s = input.sites[i]
    const at: Path = ['sites', i]
    const siteTz = s.timeZone ?? tz
    if (!knownZone(siteTz)) fail([...at, 'timeZone'], `time zone ${siteTz} is unknown; use an IANA name like Asia/Shanghai`)
    const zoneOk = knownZone(siteTz) && !Number.isNaN(startMs)
    const schedule = (x: ScheduleInput, where: Path, id: string, job: Schedule['job'] = 'backup'): Schedule => {
      const sch: Schedule = {
        id, kind: x.kind, startDate: x.startDate ?? (zoneOk ? dateIn(startMs, x.timeZone ?? siteTz) : '2000-01-01'), time: x.time,
        timeZone: x.timeZone ?? siteTz, level: x.level ?? 'incremental', job, enabled: true,
        ...(x.days !== undefined ? { days: x.days } : {}), ...(x.everyMinutes !== undefined ? { everyMinutes: x.everyMinutes } : {})
      }
      // The node's own check of a schedule (F16): time zone, days, the shortest interval.
      try { validateSchedule(sch) } catch (err) { fail(where, (err as Error).message) }
      return sch
    }
    const bandwidth = (b: BandwidthSchedule | undefined, where: Path): BandwidthSchedule | null => {
      if (b === undefined) return null
      try { validateBandwidth(b) } catch (err) { fail(where, (err as Error).message) }
      return b
    }

    const datasets: DatasetModel[] = []
    const names = new Set<string>()
    for (let j = 0; j < (s.datasets ?? []).length; j++) {
      const d = s.datasets![j]
      const dat: Path = [...at, 'datasets', j]
      if (names.has(d.name)) fail([...dat, 'name'], `data set ${d.name} is named twice at site ${s.name}`)
      names.add(d.name)
      datasets.push(await dataset(d, dat, { profile, options, fail, schedule, bandwidth, siteName: s.name }))
    }
    const spaces = new Set(datasets.map(d => d.space))

    const policies = s.replication?.policies ?? []
    try {
      validateReplicationConfig({ policies, bandwidth: s.replication?.bandwidth, ...(s.replication?.receive !== undefined ? { receive: s.replication.receive } : {}) })
    } catch (err) { fail([...at, 'replication'], (err as Error).message) }
    policies.forEach((p, k) => {
      for (const other of p.sites ?? []) if (!siteNames.has(other)) fail([...at, 'replication', 'policies', k, 'sites'], `there is no site named ${other}`)
      for (const space of p.spaces ?? []) if (!spaces.has(space)) fail([...at, 'replication', 'policies', k, 'spaces'], `site ${s.name} has no user space named ${space} (a data set's space, or its name)`)
    })
    for (const other of Object.keys(s.replication?.receive?.perSite ?? {})) if (!siteNames.has(other)) fail([...at, 'replication', 'receive', 'perSite', other], `there is no site named ${other}`)

    const archives: ArchiveModel[] = (s.archives ?? []).map((a, k) => {
      const aat: Path = [...at, 'archives', k]
      for (const name of a.datasets ?? []) if (!names.has(name)) fail([...aat, 'datasets'], `site ${s.name} has no data set named ${name}`)
      return {
        name: a.name,
        kind: a.kind,
        datasets: a.datasets ?? [...names],
        schedule: schedule(a.schedule, [...aat, 'schedule'], `${s.name}/${a.name}`),
        keep: a.keep,
        cartridgeBytes: a.kind === 'tape' ? parseSize(a.cartridge ?? '18TB')! : null,
        bytesPerSecond: a.throughput !== undefined ? parseRate(a.throughput)! : a.kind === 'tape' ? 300e6 : 100e6
      }
    })

    sites.push({
      name: s.name,
      role: s.role,
      capacityBytes: s.capacity === undefined ? null : parseSize(s.capacity)!,
      timeZone: siteTz,
      replicaStoredBytes: s.replicaStored === undefined ? 0 : parseSize(s.replicaStored)!,
      datasets,
      policies,
      bandwidth: bandwidth(s.replication?.bandwidth, [...at, 'replication', 'bandwidth']),
      receive: s.replication?.receive ?? {},
      archives
    })
  }

  const links = (input.links ?? []).map((l, i) => {
    const [a, b] = l.sites
    for (const [k, name] of [a, b].entries()) if (!siteNames.has(name)) fail(['links', i, 'sites', k], `there is no site named ${name}`)
    if (a === b) fail(['links', i, 'sites'], 'a link joins two different sites')
    return { a, b, bytesPerSecond: parseRate(l.bandwidth)!, rttMs: l.rttMs ?? 0 }
  })
  const pairs = new Set<string>()
  links.forEach((l, i) => {
    const key = [l.a, l.b].sort().join('\0')
    if (pairs.has(key)) fail(['links', i], `sites ${l.a} and ${l.b} are linked twice`)
    pairs.add(key)
  })

  const replicaSegmentBytes = input.replicas?.segmentSize === undefined ? TARGET_SEGMENT : parseSize(input.replicas.segmentSize)!
  if (replicaSegmentBytes < 4096) fail(['replicas', 'segmentSize'], 'is below 4 KiB: a segment holds at least a block')
  if (problems.length > 0) throw new ScenarioInvalidError(problems)
  return {
    name: input.name ?? 'scenario',
    startMs,
    endMs: startMs + horizonHours * HOUR,
    stepMs: stepHours * HOUR,
    timeZone: tz,
    profile,
    sites,
    links,
    replicasKeep: input.replicas?.keep ?? 'released',
    replicaSegmentBytes
  }
}

interface DatasetContext {
  profile: Profile
  options: LoadOptions
  fail: (path: Path, problem: string) => void
  schedule: (x: ScheduleInput, where: Path, id: string) => Schedule
  bandwidth: (b: BandwidthSchedule | undefined, where: Path) => BandwidthSchedule | null
  siteName: string
}

async function dataset (d: DatasetInput, at: Path, c: DatasetContext): Promise<DatasetModel> {
  const sizeBytes = parseSize(d.size)!
  let measured = c.profile.sample
  if (d.sample !== undefined) {
    if (c.options.allowFiles === false) c.fail([...at, 'sample'], 'a scenario run on the node cannot read folders: measure the sample with `cairn sim calibrate --sample` and give compressibility and duplication')
    else if (c.options.measureSample === undefined) c.fail([...at, 'sample'], 'sample folders are measured by `cairn sim run` on the command line')
    else measured = await c.options.measureSample(isAbsolute(d.sample) ? d.sample : resolve(dirname(resolve(c.options.file ?? '.')), d.sample))
  }
  const growth = d.growth === undefined
    ? { bytesPerDay: 0 }
    : typeof d.growth === 'string' && d.growth.trim().endsWith('%') ? { sharePerDay: parseShare(d.growth)! } : { bytesPerDay: parseSize(d.growth)! }
  const change = d.change === undefined ? 0 : parseShare(d.change) ?? (sizeBytes > 0 ? parseSize(d.change)! / sizeBytes : 0)
  if (change >= 1) c.fail([...at, 'change'], 'rewrites the whole data set every day or more; give at most 100%')
  const t = d.backup
  const tat: Path = [...at, 'backup']
  let retention: TaskModel['retention'] = null
  if (t.retention !== undefined && t.retention !== 'forever') {
    retention = { ...(t.retention.copies !== undefined ? { keepLast: t.retention.copies } : {}), ...(t.retention.days !== undefined ? { keepDays: t.retention.days } : {}) }
    // The node's own check of what forget is told to keep (F18).
    try { checkForgetPolicy(retention) } catch (err) { c.fail([...tat, 'retention'], (err as Error).message) }
  }
  const name = t.name ?? `${d.name}-backup`
  return {
    name: d.name,
    space: d.space ?? d.name,
    sizeBytes,
    files: d.files ?? Math.max(1, Math.round(sizeBytes / (4 << 20))),
    dirs: d.dirs ?? Math.max(1, Math.round((d.files ?? sizeBytes / (4 << 20)) / 20)),
    growth,
    changePerDay: Math.min(change, 0.999),
    compressibility: d.compressibility ?? measured?.compressibility ?? 1,
    duplication: d.duplication ?? measured?.duplication ?? 0,
    storedBytes: d.stored === undefined ? null : parseSize(d.stored)!,
    task: {
      name,
      schedules: t.schedules.map((x, k) => c.schedule(x, [...tat, 'schedules', k], `${c.siteName}/${d.name}/${k}`)),
      retention,
      window: t.window === undefined ? null : { from: parseClock(t.window.from), to: parseClock(t.window.to), text: t.window },
      bandwidth: c.bandwidth(t.bandwidth, [...tat, 'bandwidth']),
      compression: t.compression ?? null
    }
  }
}

export { DAY as DAY_MS, HOUR as HOUR_MS }
