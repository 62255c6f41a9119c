// The accuracy check of the capacity planner (F28, N6): a real mesh of three `cairn serve` daemons
// (hq → branch-1 → dr-north, the README's cascade) started through the package's bin on 127.0.0.1,
// driven through simulated days on stepped time, beside the simulation of the same scenario.
//
// Time: every daemon runs on a manual clock (serve --test-clock) that moves only when told over
// its control socket. The check moves all three together to the earliest timer any of them has
// (a schedule, a bandwidth window's edge, a limiter's pause), waits until every daemon has settled
// (no job running, replication idle or waiting for its window), and repeats: so schedules,
// retention, prune and bandwidth windows all fire at their virtual times, and work takes no
// virtual time — which is what the profile's `timing: instant` tells the simulation.
//
// Data: a deterministic mutator (seeded) writes each site's files: half random, half a repeated
// pattern (zstd halves them), one in ten a copy of its neighbour (dedup), and each day at noon
// rewrites a share of them and adds new ones. The sample calibration (`cairn sim calibrate`,
// through the bin) measures the first day's data; the scenario names that profile.
//
// Recorded per site at each day's end: bytes in the segments of its own stores and of its
// replica; and per origin and holding site the arrival time of every snapshot, for lag.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { ApiClient, CAIRN_BIN, cairn } from '../../node/testing/index.ts'
import { callControl, type PlanReport } from '../../node/index.ts'
import type { ScenarioInput } from '../scenario.ts'

const DAY = 86_400_000
const HOUR = 3_600_000
const PASSWORD = 'stepped clocks at three sites'
const LISTEN = '/ip4/127.0.0.1/tcp/0'

export interface AccuracyPlan {
  workDir: string
  days: number
  /** Files at the start, per site with data, and their size. */
  files: { hq: number, branch: number }
  fileBytes: number
  /** Share of the files rewritten each day at noon, and new files each day. */
  change: number
  newFiles: { hq: number, branch: number }
  /** Copies each retention keeps. */
  keep: { hq: number, branch: number }
  /** branch-1 → dr-north outside its closed night window (00:00–06:00), MiB/s. */
  windowMibps: number
  /** Log the steps. */
  log?: (line: string) => void
  /** Called at the end while the daemons still run: more checks against the live mesh. */
  beforeStop?: (hq: { url: string, meshDir: string, admin: () => Promise<ApiClient> }) => Promise<void>
}

export interface SiteFigures { site: string, day: number, real: { own: number, replica: number }, sim: number }
export interface LagFigures { origin: string, target: string, real: { arrived: number, meanHours: number, maxHours: number }, sim: { arrived: number, meanHours: number, maxHours: number } }
export interface AccuracyResult {
  stored: SiteFigures[]
  /** Own and replica bytes per site at the end, real and simulated. */
  end: Array<{ site: string, real: { own: number, replica: number }, sim: { own: number, replica: number } }>
  lags: LagFigures[]
  snapshots: Array<{ site: string, real: number, sim: number }>
  steps: number
  report: PlanReport
  scenario: ScenarioInput
  /** Each daemon's log (stderr), to show when a figure is off. */
  logs: Record<string, string>
}

/** mulberry32: a small seeded PRNG, so every run writes the same bytes. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A file's bytes: the first half random, the second a repeated 61-byte pattern, from `seed`. */
function content (seed: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size)
  const r = prng(seed)
  const half = size >> 1
  for (let i = 0; i < half; i += 4) b.writeUInt32LE((r() * 4294967296) >>> 0, i)
  for (let i = half; i < size; i++) b[i] = (seed * 31 + (i % 61) * 7) & 0xff
  return b
}

/** One site's data folder: files in folders of ten; every tenth file copies its neighbour. */
class Mutator {
  private count = 0
  private readonly seeds: number[] = []
  private readonly random: () => number
  constructor (readonly dir: string, private readonly fileBytes: number, seed: number) { this.random = prng(seed) }

  private path (i: number): string { return join(this.dir, `d${Math.floor(i / 10)}`, `f${i}.bin`) }
  private write (i: number): void {
    // A copy holds its neighbour's bytes: dedup stores them once.
    const seed = i % 10 === 9 ? this.seeds[i - 1] : this.seeds[i]
    mkdirSync(join(this.dir, `d${Math.floor(i / 10)}`), { recursive: true })
    writeFileSync(this.path(i), content(seed, this.fileBytes))
  }

  add (n: number): void {
    for (let k = 0; k < n; k++) {
      const i = this.count++
      this.seeds[i] = Math.floor(this.random() * 2 ** 31)
      this.write(i)
    }
  }

  /** Rewrites a share of the files, picked at random (a copy changes with its original). */
  change (share: number): void {
    const originals = [...Array(this.count).keys()].filter(i => i % 10 !== 9)
    const k = Math.round(share * originals.length)
    for (let n = 0; n < k; n++) {
      const j = n + Math.floor(this.random() * (originals.length - n))
      ;[originals[n], originals[j]] = [originals[j], originals[n]]
      const i = originals[n]
      this.seeds[i] = Math.floor(this.random() * 2 ** 31)
      this.write(i)
      if (i + 1 < this.count && (i + 1) % 10 === 9) this.write(i + 1)
    }
  }

  get files (): number { return this.count }
}

interface Daemon { site: string, dir: string, mesh: string, url: string, child: ChildProcess, log: () => string, stop: () => Promise<void> }

/** `cairn serve` through the bin on a stepped clock starting at `start`, in UTC. */
async function serve (site: string, dir: string, start: number): Promise<Daemon> {
  const child = spawn(process.execPath, [CAIRN_BIN, 'serve', '--listen', '127.0.0.1:0', '--data', dir, '--insecure-http', '--replicate-every', '3600', '--test-clock', new Date(start).toISOString()],
    { env: { ...process.env, TZ: 'UTC', CAIRN_ADMIN_PASSWORD: PASSWORD }, stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', d => { log += String(d); const m = /listening on (http:\/\/[\d.:]+)/.exec(log); if (m !== null) resolve(m[1]) })
    child.once('exit', code => { reject(new Error(`cairn serve (${site}) exited ${String(code)}:\n${log}`)) })
  })
  return {
    site, dir, mesh: join(dir, 'mesh'), url, child, log: () => log,
    stop: async () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM'); await exited }
  }
}

const segmentBytes = (dir: string): number => {
  let n = 0
  try { for (const f of readdirSync(dir)) if (f.endsWith('.seg')) n += statSync(join(dir, f)).size } catch {}
  return n
}

/** Each segment file's size, own stores then replica: what a prune kept, for a figure that is off. */
function segmentSizes (d: Daemon): string[] {
  const list = (dir: string): string[] => { try { return readdirSync(dir).filter(f => f.endsWith('.seg')).sort().map(f => `${f}=${statSync(join(dir, f)).size}`) } catch { return [] } }
  let own: string[] = []
  try { for (const s of readdirSync(join(d.dir, 'spaces'))) own = own.concat(list(join(d.dir, 'spaces', s, 'segments'))) } catch {}
  return [...own, '|', ...list(join(d.dir, 'replica', 'segments'))]
}

function storedAt (d: Daemon): { own: number, replica: number } {
  let own = 0
  try { for (const s of readdirSync(join(d.dir, 'spaces'))) own += segmentBytes(join(d.dir, 'spaces', s, 'segments')) } catch {}
  return { own, replica: segmentBytes(join(d.dir, 'replica', 'segments')) }
}

async function admin (d: Daemon): Promise<ApiClient> {
  const c = new ApiClient(d.url)
  const r = await c.login('admin', PASSWORD)
  if (r.status !== 200) throw new Error(`${d.site}: admin login ${r.status} ${r.text}`)
  return c
}

async function ok<T = any> (what: string, p: Promise<{ status: number, body: T, text: string }>): Promise<T> {
  const r = await p
  if (r.status >= 300) throw new Error(`${what}: ${r.status} ${r.text}`)
  return r.body
}

/** The scenario the simulation runs: the same sites, data, schedules, retention, policies and window. */
export function accuracyScenario (plan: AccuracyPlan, start: number, profile: string): ScenarioInput {
  const dataset = (name: string, files: number, newFiles: number, time: string, keep: number): NonNullable<ScenarioInput['sites'][number]['datasets']>[number] => ({
    name,
    size: files * plan.fileBytes,
    files,
    dirs: Math.ceil(files / 10) + 1,
    growth: newFiles * plan.fileBytes,
    change: plan.change,
    backup: { name: `${name}-backup`, schedules: [{ kind: 'daily', time, level: 'incremental' }], retention: { copies: keep }, compression: 3 }
  })
  return {
    format: 'cairn-scenario',
    version: 1,
    name: 'Accuracy check: hq → branch-1 → dr-north',
    start: new Date(start).toISOString(),
    horizon: `${plan.days}d`,
    step: '1h',
    timeZone: 'UTC',
    profile,
    sites: [
      { name: 'hq', role: 'head', datasets: [dataset('files', plan.files.hq, plan.newFiles.hq, '02:00', plan.keep.hq)], replication: { policies: [{ name: 'to-branch', copies: 2, roles: ['branch'] }] } },
      {
        name: 'branch-1', role: 'branch', datasets: [dataset('office', plan.files.branch, plan.newFiles.branch, '03:00', plan.keep.branch)],
        replication: { policies: [{ name: 'to-dr', copies: 2, roles: ['dr'] }], bandwidth: { windows: [{ from: '00:00', to: '06:00', mibps: 0 }], defaultMibps: plan.windowMibps } }
      },
      { name: 'dr-north', role: 'dr' }
    ]
  }
}

export async function runAccuracy (plan: AccuracyPlan): Promise<AccuracyResult> {
  const log = plan.log ?? (() => {})
  const start = Date.parse('2027-03-01T00:00:00Z')
  const hqData = new Mutator(join(plan.workDir, 'hq-data'), plan.fileBytes, 17)
  const brData = new Mutator(join(plan.workDir, 'branch-data'), plan.fileBytes, 29)
  hqData.add(plan.files.hq)
  brData.add(plan.files.branch)

  // The sample calibration through the bin, on the first day's data; then the stepped-clock world.
  const profile = join(plan.workDir, 'profile.json')
  const cal = await cairn(['sim', 'calibrate', '--sample', hqData.dir, '--compression', '3', '--out', profile])
  if (cal.code !== 0) throw new Error(`cairn sim calibrate: ${cal.stderr}`)
  writeFileSync(profile, JSON.stringify({ ...JSON.parse(readFileSync(profile, 'utf8')), timing: 'instant' }, null, 2))
  const scenario = accuracyScenario(plan, start, profile)
  const scenarioFile = join(plan.workDir, 'scenario.yaml')
  writeFileSync(scenarioFile, stringify(scenario))

  const dirs = { hq: join(plan.workDir, 'hq'), branch: join(plan.workDir, 'branch'), dr: join(plan.workDir, 'dr') }
  const daemons: Daemon[] = []
  const logs: Record<string, string> = {}
  const jobLog: string[] = []
  try {
    const init = await cairn(['mesh', 'init', '--mesh-dir', join(dirs.hq, 'mesh'), '--site', 'hq', '--role', 'head', '--listen', LISTEN])
    if (init.code !== 0) throw new Error(init.stderr)
    const hq = await serve('hq', dirs.hq, start); daemons.push(hq)
    for (const [site, role, dir] of [['branch-1', 'branch', dirs.branch], ['dr-north', 'dr', dirs.dr]]) {
      const invitation = (await callControl(hq.mesh, 'invite') as { invitation: string }).invitation
      const j = await cairn(['mesh', 'join', invitation, '--mesh-dir', join(dir, 'mesh'), '--site', site, '--role', role, '--listen', LISTEN])
      if (j.code !== 0) throw new Error(j.stderr)
    }
    const [branch, dr] = await Promise.all([serve('branch-1', dirs.branch, start), serve('dr-north', dirs.dr, start)])
    daemons.push(branch, dr)
    for (let i = 0; ; i++) {
      const s = await Promise.all(daemons.map(async d => await callControl(d.mesh, 'status') as { members: Array<{ connected: boolean }> }))
      if (s.every(x => x.members.every(m => m.connected))) break
      if (i > 600) throw new Error('the three daemons did not connect')
      await new Promise(resolve => setTimeout(resolve, 100))
    }

    // Spaces, tasks and policies as an admin sets them up (the same as the scenario says).
    const setup = async (d: Daemon, space: string, data: string, time: string, keep: number, replication: unknown): Promise<void> => {
      const c = await admin(d)
      const nodeId = (await ok<any[]>('nodes', c.get('/api/nodes'))).find(n => n.local).id
      const adminId = (await ok<any[]>('users', c.get('/api/users'))).find(u => u.name === 'admin').id
      const sp = await ok<any>('space', c.post('/api/spaces', { name: space, type: 'backup', nodeId, ownerId: adminId, capacityBytes: 0 }))
      await ok('task', c.post('/api/tasks', {
        name: `${space}-backup`, nodeId, spaceId: sp.id, sources: { include: [data] }, mode: 'scheduled',
        schedules: [{ kind: 'daily', startDate: '2027-03-01', time, timeZone: 'UTC', level: 'incremental' }],
        options: { compression: 3, retention: { mode: 'policy', copies: keep } }
      }))
      await ok('policies', c.put('/api/mesh/policies', replication))
    }
    await setup(hq, 'files', hqData.dir, '02:00', plan.keep.hq, { policies: [{ name: 'to-branch', copies: 2, roles: ['branch'] }] })
    await setup(branch, 'office', brData.dir, '03:00', plan.keep.branch, { policies: [{ name: 'to-dr', copies: 2, roles: ['dr'] }], bandwidth: { windows: [{ from: '00:00', to: '06:00', mibps: 0 }], defaultMibps: plan.windowMibps } })

    // Stepped time.
    type Clock = { now: string, next: string | null, settled: boolean }
    const clocks = async (): Promise<Clock[]> => await Promise.all(daemons.map(async d => await callControl(d.mesh, 'clock') as Clock))
    const settle = async (): Promise<Clock[]> => {
      for (let i = 0; ; i++) {
        const a = await clocks()
        if (a.every(c => c.settled)) {
          const b = await clocks()
          if (b.every(c => c.settled)) return b
        }
        if (i > 6000) throw new Error(`the daemons did not settle: ${JSON.stringify(a)}`)
        await new Promise(resolve => setTimeout(resolve, 10))
      }
    }
    // Arrivals: how many of each origin's snapshots a holding site has received, after each step.
    // Counted by root from the replica's locks (issue 18): a replica frees what its origin
    // released, so how many it holds now is not how many arrived.
    const arrivals = new Map<string, Array<{ at: number, count: number }>>()
    const received = new Map<string, Set<string>>()
    const observe = async (at: number): Promise<void> => {
      for (const d of [branch, dr]) {
        const { retention } = await callControl(d.mesh, 'status') as { retention: { locks: Array<{ site: string, root: string }> } }
        for (const l of retention.locks) {
          const key = `${l.site}\0${d.site}`
          const roots = received.get(key) ?? new Set<string>()
          received.set(key, roots)
          if (roots.has(l.root)) continue
          roots.add(l.root)
          const list = arrivals.get(key) ?? []
          list.push({ at, count: roots.size })
          arrivals.set(key, list)
        }
      }
    }
    let steps = 0
    const setAll = async (to: number): Promise<void> => { await Promise.all(daemons.map(async d => await callControl(d.mesh, 'clock-set', { to: new Date(to).toISOString() }))) }
    const runUntil = async (target: number): Promise<void> => {
      for (;;) {
        const c = await settle()
        await observe(Date.parse(c[0].now))
        const next = Math.min(...c.map(x => x.next === null ? Infinity : Date.parse(x.next)))
        if (next > target) break
        await setAll(next)
        steps++
      }
      await setAll(target)
      await settle()
      await observe(target)
    }

    const stored: Array<{ site: string, day: number, own: number, replica: number }> = []
    for (let day = 0; day < plan.days; day++) {
      const midnight = start + day * DAY
      await runUntil(midnight + 12 * HOUR)
      hqData.change(plan.change); hqData.add(plan.newFiles.hq)
      brData.change(plan.change); brData.add(plan.newFiles.branch)
      await runUntil(midnight + DAY)
      for (const d of daemons) stored.push({ site: d.site, day: day + 1, ...storedAt(d) })
      jobLog.push(`day ${day + 1} segments: ${daemons.map(d => `${d.site} ${segmentSizes(d).join(' ')}`).join('; ')}`)
      log(`day ${day + 1}: ${steps} steps; ${daemons.map(d => { const s = storedAt(d); return `${d.site} ${s.own}+${s.replica}` }).join(', ')}`)
    }

    // The origins' snapshots: when each was made (its job's end, on the virtual clock), and how many are kept.
    const made = new Map<string, number[]>()
    const kept: Array<{ site: string, real: number }> = []
    for (const d of [hq, branch]) {
      const c = await admin(d)
      const jobs = (await ok<{ items: any[] }>('jobs', c.get('/api/jobs?type=backup&pageSize=500'))).items.filter(j => j.status === 'success' || j.status === 'warning')
      made.set(d.site, jobs.map(j => Date.parse(j.endedAt)).sort((a, b) => a - b))
      // The backups' own words (retention, reclaim), for the figures' explanation.
      for (const j of jobs) {
        const lines = await ok<any>('job log', c.get(`/api/jobs/${String(j.id)}/log`))
        jobLog.push(`${d.site} ${String(j.name)}: ${JSON.stringify(lines)}`)
      }
      const spaces = await ok<any[]>('spaces', c.get('/api/spaces'))
      const snaps = await ok<any[]>('snapshots', c.get(`/api/spaces/${spaces[0].id}/snapshots`))
      kept.push({ site: d.site, real: snaps.length })
    }

    await plan.beforeStop?.({ url: hq.url, meshDir: hq.mesh, admin: async () => await admin(hq) })

    // The simulation of the same scenario, through the bin.
    const sim = await cairn(['sim', 'run', scenarioFile, '--json'])
    if (sim.code !== 0) throw new Error(`cairn sim run: ${sim.stderr}`)
    const report = JSON.parse(sim.stdout) as PlanReport
    const storage = report.charts.find(c => c.id === 'storage')!
    const simAt = (site: string, at: number): number => {
      const s = storage.series.find(x => x.label === site && x.line === undefined)!
      const i = Math.round((at - Date.parse(storage.start)) / (storage.stepHours * HOUR)) - 1
      return s.data[Math.min(s.data.length - 1, i)] ?? 0
    }

    const lags: LagFigures[] = []
    for (const l of report.lags) {
      const times = made.get(l.origin) ?? []
      const seen = arrivals.get(`${l.origin}\0${l.target}`) ?? []
      const delays: number[] = []
      for (let k = 0; k < times.length; k++) {
        const got = seen.find(x => x.count >= k + 1)
        if (got !== undefined) delays.push(got.at - times[k])
      }
      lags.push({
        origin: l.origin, target: l.target,
        real: { arrived: delays.length, meanHours: delays.reduce((a, b) => a + b, 0) / Math.max(1, delays.length) / HOUR, maxHours: Math.max(0, ...delays) / HOUR },
        sim: { arrived: l.snapshotsArrived, meanHours: l.meanLagHours, maxHours: l.maxLagHours }
      })
    }
    return {
      stored: stored.map(s => ({ site: s.site, day: s.day, real: { own: s.own, replica: s.replica }, sim: simAt(s.site, start + s.day * DAY) })),
      end: daemons.map(d => {
        const s = report.sites.find(x => x.name === d.site)!
        const last = stored.filter(x => x.site === d.site).pop()!
        return { site: d.site, real: { own: last.own, replica: last.replica }, sim: { own: s.end.ownBytes, replica: s.end.replicaBytes } }
      }),
      lags,
      snapshots: kept.map(k => ({ ...k, sim: report.tasks.find(t => t.site === k.site)?.snapshots ?? 0 })),
      steps,
      report,
      scenario,
      logs
    }
  } finally {
    await Promise.all(daemons.map(async d => { await d.stop() }))
    for (const d of daemons) logs[d.site] = d.log()
    logs.jobs = jobLog.join('\n')
  }
}

/** |a − b| / b, and 0 when both are 0. */
export const relativeError = (sim: number, real: number): number => real === 0 ? (sim === 0 ? 0 : Infinity) : Math.abs(sim - real) / real
