// The discrete-event simulation of a mesh (F28). Events are backup runs (from each task's
// schedules, walked with the node's own schedule code), their ends (retention and prune through
// chunkstore's rules, in StoreModel), replication runs between the sites that the node's policy
// resolution picks (bootstrap's targetsOf, through node), each run integrated over the source's
// bandwidth windows (chunkstore's rateAt/nextRateChange), archive runs, and one sampling step
// every `stepMs` that records storage, lag and link use. Nothing here re-implements those rules.
import { floorDaysOf, LOCK_FOREVER, lockDaysOf, runsAfter, selectTargets, targetsOf, type Member, type ReplicationPolicy, type Schedule } from '../../node/index.ts'
import { OperationAbortedError } from '../../crypto/index.ts'
import type { DatasetModel, ScenarioModel, SiteModel, TaskModel } from '../scenario.ts'
import { DEFAULT_MESH, DEFAULT_SAMPLE, type MeshMeasure, type SampleMeasure } from '../profile.ts'
import { wallClock } from '../zone.ts'
import { EventQueue } from './queue.ts'
import { SeriesSet } from './series.ts'
import { ReplicaModel, StoreModel, type ReplicaLog } from './store-model.ts'
import { SharedStore, StoreView } from './store-view.ts'
import { scheduleRate, sentBetween, transfer, type Piece, type RateSource } from './transfer.ts'

const MIB = 1 << 20
const DAY = 86_400_000

export interface TaskState {
  site: SiteState
  store: StoreView
  task: TaskModel
  runningUntil: number
  lastStart: number
  runs: number
  skipped: number
  firstSkipAt: number | null
  /** Runs skipped because another schedule of the task started it at the same moment. */
  collisions: number
  firstCollisionAt: number | null
  totalSeconds: number
  maxSeconds: number
  pastWindow: number
  firstPastAt: number | null
  series: number
  windowSeries: number | null
}

export interface ArchiveState {
  site: SiteState
  model: SiteModel['archives'][number]
  stores: StoreView[]
  runningUntil: number
  runs: number
  skipped: number
  firstSkipAt: number | null
  sets: number[]
}

interface Run {
  start: number
  end: number
  /** Per origin store: what the source held at the start (the run brings the target up to it), and what the target lacked. */
  marks: Map<StoreView, { to: number, lacking: number, pair: PairState | undefined }>
  bytes: number
  pieces: Piece[]
}

export interface LinkState {
  from: SiteState
  to: SiteState
  policies: ReplicationPolicy[]
  capacity: number | null
  declared: boolean
  source: RateSource
  limited: boolean
  /** Every policy of the link names spaces: then the replica (other sites' data) is not forwarded. */
  ownOnly: Set<string> | null
  run: Run | null
  again: boolean
  sentBytes: number
  recent: Piece[]
  series: number | null
  utilSum: number
  utilMax: number
  utilSteps: number
  lastCaughtUp: number
  neverOpen: boolean
}

export interface PairState {
  origin: StoreView
  target: SiteState
  /** Arrival time of each of the origin's snapshots at the target (NaN: not there). */
  arrival: number[]
  next: number
  lastTime: number
  arrived: number
  lagSum: number
  lagMax: number
  rpoMax: number
  behindMax: number
  behindEnd: number
  /** Bytes of the origin's store on their way to the target in a run (this step). */
  moving: number
  /** What the target holds of the origin's store (its `held`, kept here for the sampling step). */
  held: number
  series: number
  /** What the target holds of the origin's store, as the node's replica retention keeps it (`replicas: released`). */
  replica: ReplicaModel | null
  /** When each snapshot's lock at the target ends (its arrival plus the lock; Infinity: forever). */
  lockedUntil: number[]
  /** When the origin's release of each snapshot reached the target (NaN: not yet). */
  releasedAt: number[]
  /** Snapshots before this one have their release here (releases come oldest first). */
  releaseNext: number
  /** Snapshots before this one were dropped by the target's GC. */
  dropNext: number
  /** The time of a GC waiting for a lock to pass. */
  gcAt: number
}

export interface SiteState {
  model: SiteModel
  stores: StoreView[]
  tasks: TaskState[]
  archives: ArchiveState[]
  /** What the replica holds of each other site's store: bytes up to which it has that store's blocks. */
  held: Map<StoreView, number>
  /** The replica's copies of other sites' stores (`replicas: released`), and the log they share. */
  replicas: ReplicaModel[]
  log: ReplicaLog
  replicaBytes: number
  /** Bytes arriving in runs under way (this step). */
  inflight: number
  linksOut: LinkState[]
  linksIn: LinkState[]
  fullAt: number | null
  peak: number
  /** Bytes of the site's own stores, as the sampling step last summed them; NaN once a backup ended since. */
  own: number
  end: { own: number, replica: number, archive: number }
  series: number
  capacitySeries: number | null
}

export interface World {
  model: ScenarioModel
  sample: SampleMeasure
  mesh: MeshMeasure
  instant: boolean
  sites: SiteState[]
  links: LinkState[]
  pairs: Map<string, PairState>
  series: SeriesSet
  steps: number
  missingLinks: Array<{ from: string, to: string }>
  unmetPolicies: Array<{ site: string, policy: string, wanted: number, found: number }>
  /** Tasks whose schedules bring no run within the horizon. */
  neverRuns: Array<{ site: string, task: string }>
  /** A link that has not caught up within this long before the end cannot catch up. */
  catchUpMs: number
  events: number
  elapsedMs: number
}

export interface SimulateOptions {
  signal?: AbortSignal
  /** Called now and then with the share of the horizon done. */
  onProgress?: (done: number) => void
  /** Leave groups of segments whose fates have converged apart (store-model.ts, mergeConverged): slower, for measuring that approximation. */
  exact?: boolean
}

/** Schedule runs over the horizon, shared by every task with the same schedule. */
function scheduleTimes (cache: Map<string, number[]>, s: Schedule, fromMs: number, toMs: number): number[] {
  const key = JSON.stringify([s.kind, s.startDate, s.time, s.timeZone, s.days, s.everyMinutes])
  let times = cache.get(key)
  if (times === undefined) {
    times = []
    for (const d of runsAfter(s, new Date(fromMs - 1))) {
      const t = d.getTime()
      if (t >= toMs) break
      times.push(t)
    }
    cache.set(key, times)
  }
  return times
}

export async function simulate (model: ScenarioModel, options: SimulateOptions = {}): Promise<World> {
  const started = performance.now()
  const sample = { ...DEFAULT_SAMPLE, ...model.profile.sample }
  const meshCost = { ...DEFAULT_MESH, ...model.profile.mesh }
  const instant = model.profile.timing === 'instant'
  const { startMs, endMs, stepMs } = model
  const steps = Math.max(1, Math.ceil((endMs - startMs) / stepMs))
  const series = new SeriesSet(steps)
  const queue = new EventQueue()

  // Sites, their stores and tasks; twin stores (the same data set, task and time zone) share one model.
  const shared = new Map<string, SharedStore>()
  const sites: SiteState[] = model.sites.map(m => {
    const site: SiteState = {
      model: m, stores: [], tasks: [], archives: [], held: new Map(), replicas: [], log: { fill: 0, epoch: 0 }, replicaBytes: m.replicaStoredBytes, inflight: 0, linksOut: [], linksIn: [],
      fullAt: null, peak: 0, own: NaN, end: { own: 0, replica: 0, archive: 0 },
      series: series.add({ chart: 'storage', label: m.name, site: m.name }, 'last'),
      capacitySeries: m.capacityBytes === null ? null : series.add({ chart: 'storage', label: `${m.name} capacity`, site: m.name, line: 'capacity' }, 'last')
    }
    for (const d of m.datasets) {
      const key = twinKey(m, d)
      let core = shared.get(key)
      if (core === undefined) {
        const store = new StoreModel(m.name, d, sample, startMs, sample.workers)
        store.merging = options.exact !== true
        shared.set(key, core = new SharedStore(store))
      }
      const store = new StoreView(m.name, d, core)
      site.stores.push(store)
      site.tasks.push({
        site, store, task: d.task, runningUntil: -Infinity, lastStart: -Infinity, runs: 0, skipped: 0, firstSkipAt: null, collisions: 0, firstCollisionAt: null, totalSeconds: 0, maxSeconds: 0, pastWindow: 0, firstPastAt: null,
        series: series.add({ chart: 'backup-windows', label: `${m.name}/${d.name}`, site: m.name }, 'max'),
        windowSeries: d.task.window === null ? null : series.add({ chart: 'backup-windows', label: `${m.name}/${d.name} window`, site: m.name, line: 'window' }, 'last')
      })
    }
    return site
  })
  const byName = new Map(sites.map(s => [s.model.name, s]))

  // Links: the targets the node's policy resolution picks, each over the physical link between the two sites.
  const members: Member[] = model.sites.map(s => ({ peer: s.name, site: s.name, role: s.role, addrs: [] }))
  const links: LinkState[] = []
  const missingLinks: World['missingLinks'] = []
  const unmetPolicies: World['unmetPolicies'] = []
  for (const site of sites) {
    for (const p of site.model.policies) {
      const found = selectTargets(p, members, site.model.name).length
      if (found < p.copies - 1) unmetPolicies.push({ site: site.model.name, policy: p.name, wanted: p.copies - 1, found })
    }
    for (const t of targetsOf(site.model.policies, members, site.model.name)) {
      const to = byName.get(t.member.site)!
      const physical = model.links.find(l => (l.a === site.model.name && l.b === to.model.name) || (l.b === site.model.name && l.a === to.model.name))
      if (physical === undefined && model.links.length > 0) missingLinks.push({ from: site.model.name, to: to.model.name })
      // What one link can carry: the physical link, the unacknowledged window over the RTT, the machine.
      let cap = physical?.bytesPerSecond ?? Infinity
      if (physical !== undefined && physical.rttMs > 0) cap = Math.min(cap, 8 * MIB / (physical.rttMs / 1000))
      if (!instant) cap = Math.min(cap, meshCost.bytesPerSecond)
      const link: LinkState = {
        from: site, to, policies: t.policies, capacity: physical?.bytesPerSecond ?? null, declared: physical !== undefined,
        source: scheduleRate(site.model.bandwidth, site.model.timeZone, cap),
        limited: site.model.bandwidth !== null,
        ownOnly: t.policies.some(p => p.spaces === undefined) ? null : new Set(t.policies.flatMap(p => p.spaces ?? [])),
        run: null, again: false, sentBytes: 0, recent: [],
        series: null, utilSum: 0, utilMax: 0, utilSteps: 0, lastCaughtUp: startMs, neverOpen: false
      }
      link.series = series.add({ chart: 'link-utilisation', label: `${site.model.name} → ${to.model.name}`, site: site.model.name }, 'mean')
      links.push(link)
      site.linksOut.push(link)
      to.linksIn.push(link)
    }
  }

  // Which site ends up holding which store: fixed point over the links (cascades included).
  const pairs = new Map<string, PairState>()
  const pairKey = (o: StoreView, y: SiteState): string => `${o.id}\0${y.model.name}`
  const holds = new Map<SiteState, Set<StoreView>>(sites.map(s => [s, new Set(s.stores)]))
  for (let changed = true; changed;) {
    changed = false
    for (const l of links) {
      for (const o of holds.get(l.from)!) {
        if (!covers(l, o)) continue
        const into = holds.get(l.to)!
        if (!into.has(o)) { into.add(o); changed = true }
      }
    }
  }
  for (const [y, set] of holds) {
    for (const o of set) {
      if (o.site === y.model.name) continue
      const replica = model.replicasKeep === 'released' ? new ReplicaModel(o, sample.avgBlockBytes + sample.recordOverheadBytes, y.log, model.replicaSegmentBytes) : null
      if (replica !== null) {
        replica.merging = options.exact !== true
        y.replicas.push(replica)
      }
      pairs.set(pairKey(o, y), {
        origin: o, target: y, arrival: [], next: 0, lastTime: NaN, arrived: 0, lagSum: 0, lagMax: 0, rpoMax: 0, behindMax: 0, behindEnd: 0, moving: 0, held: 0, series: -1,
        replica, lockedUntil: [], releasedAt: [], releaseNext: 0, dropNext: 0, gcAt: NaN
      })
    }
  }
  const lagSeries = new Map<string, number>()
  for (const p of pairs.values()) {
    const key = `${p.origin.site} → ${p.target.model.name}`
    if (!lagSeries.has(key)) lagSeries.set(key, series.add({ chart: 'lag', label: key, site: p.target.model.name }, 'max'))
    p.series = lagSeries.get(key)!
  }

  function covers (l: LinkState, o: StoreView): boolean {
    if (o.site === l.from.model.name) return l.ownOnly === null || l.ownOnly.has(o.dataset.space)
    return l.ownOnly === null
  }
  const heldAt = (s: SiteState, o: StoreView): number => o.site === s.model.name ? o.written : s.held.get(o) ?? 0
  const originsOf = (l: LinkState): StoreView[] => [...l.from.stores.filter(o => covers(l, o)), ...(l.ownOnly === null ? l.from.held.keys() : [])]

  // Replication (F11): a trigger starts a run, or queues one rerun if one is running.
  function trigger (l: LinkState, at: number): void {
    if (l.run !== null) { l.again = true; return }
    startRun(l, at)
  }

  function startRun (l: LinkState, at: number): void {
    const marks: Run['marks'] = new Map()
    let bytes = 0
    let offered = 0
    for (const o of originsOf(l)) {
      const to = heldAt(l.from, o)
      const have = heldAt(l.to, o)
      offered += o.site === l.from.model.name ? o.blocks : to / (sample.avgBlockBytes + sample.recordOverheadBytes)
      if (to <= have) continue
      marks.set(o, { to, lacking: to - have, pair: pairs.get(pairKey(o, l.to)) })
      bytes += to - have
    }
    if (bytes <= 0) return
    const blocks = bytes / (sample.avgBlockBytes + sample.recordOverheadBytes)
    const prepare = instant ? 0 : (meshCost.secondsPerRun + offered * meshCost.secondsPerBlockOffered) * 1000
    // The limiter lets the last batch go as soon as the one before it is paid for.
    const paced = l.limited ? Math.max(0, bytes - Math.min(bytes, Math.max(MIB, sample.avgBlockBytes))) : bytes
    const tr = transfer(at + prepare, paced, l.source, endMs)
    if (tr.endMs === Infinity && tr.pieces.length === 0 && l.source.nextChange(at) === null) l.neverOpen = true
    const end = tr.endMs + (instant ? 0 : blocks * meshCost.secondsPerBlockSent * 1000)
    l.run = { start: at, end, marks, bytes, pieces: tr.pieces }
    l.recent.push(...tr.pieces)
    if (end < endMs) queue.push(end, t => { finishRun(l, t) })
  }

  function finishRun (l: LinkState, at: number): void {
    const run = l.run!
    l.run = null
    l.sentBytes += run.bytes
    let arrived = false
    for (const [o, mark] of run.marks) {
      if (o.site !== l.to.model.name) {
        const had = l.to.held.get(o) ?? 0
        if (mark.to > had) {
          l.to.held.set(o, mark.to)
          if (mark.pair !== undefined) mark.pair.held = mark.to
          l.to.replicaBytes += mark.to - had
          mark.pair?.replica?.receive(had, mark.to)
          arrived = true
        }
      }
      deliverRoots(l, o, mark.to, run.start, at)
      // The run ends by handing on the releases of roots the target lists; one received starts its GC.
      if (mark.pair?.replica != null && deliverReleases(l, mark.pair, run.start, at)) collect(mark.pair, at)
    }
    // A received snapshot root starts the target's own links (cascade).
    if (arrived) for (const out of l.to.linksOut) trigger(out, at)
    if (l.again) { l.again = false; startRun(l, at) } else l.lastCaughtUp = at
  }

  /** Snapshots of `o` whose blocks the target now has, and that the source held when the run began. */
  function deliverRoots (l: LinkState, o: StoreView, upTo: number, runStart: number, at: number): void {
    const pair = pairs.get(pairKey(o, l.to))
    if (pair === undefined) return
    const via = o.site === l.from.model.name ? undefined : pairs.get(pairKey(o, l.from))
    let k = pair.next
    for (; k < o.snapshots.length && o.snapshots[k].written <= upTo; k++) {
      const s = o.snapshots[k]
      const present = via === undefined ? s.forgottenAt > runStart : via.arrival[k] <= runStart
      if (!present || !Number.isNaN(pair.arrival[k] ?? NaN)) continue
      pair.arrival[k] = at
      pair.lockedUntil[k] = at + lockMs(l, o.site)
      pair.arrived++
      const lag = at - s.ms
      pair.lagSum += lag
      if (lag > pair.lagMax) pair.lagMax = lag
      if (!(s.ms <= pair.lastTime)) pair.lastTime = s.ms
    }
    while (pair.arrival.length < k) pair.arrival.push(NaN)
    pair.next = k
  }

  // Replica retention (doc/mesh.md "Retention at replicas"): the lock a target fixes when a
  // snapshot arrives is the longest its sender's policies ask (bootstrap's lockDaysOf) or its own
  // floor for the origin's site (floorDaysOf), whichever ends later (as the node's lockEnd).
  function lockMs (l: LinkState, originSite: string): number {
    const asked = lockDaysOf(l.policies)
    const floor = floorDaysOf(l.to.model.receive, originSite)
    if (asked === LOCK_FOREVER || floor === 'forever') return Infinity
    return Math.max(asked, floor) * DAY
  }

  /** Releases the source had when the run began reach the target; true if any did. */
  function deliverReleases (l: LinkState, pair: PairState, runStart: number, at: number): boolean {
    const o = pair.origin
    const via = o.site === l.from.model.name ? undefined : pairs.get(pairKey(o, l.from))
    let k = pair.releaseNext
    for (; k < o.snapshots.length; k++) {
      const released = via === undefined ? o.snapshots[k].forgottenAt : via.releasedAt[k] ?? NaN
      if (!(released <= runStart)) break
      pair.releasedAt[k] = at
    }
    if (k === pair.releaseNext) return false
    pair.releaseNext = k
    return true
  }

  /**
   * The target's GC for one origin store: drops the snapshots released and past their locks,
   * oldest first, and frees what no kept one holds; a lock still running brings a GC when it ends.
   */
  function collect (pair: PairState, at: number): void {
    let k = pair.dropNext
    let wait = Infinity
    for (; k < pair.releaseNext && k < pair.next; k++) {
      if (Number.isNaN(pair.arrival[k])) continue
      if (pair.lockedUntil[k] > at) { wait = pair.lockedUntil[k]; break }
    }
    if (k > pair.dropNext) {
      pair.dropNext = k
      pair.replica!.collect(k < pair.origin.snapshots.length ? pair.origin.snapshots[k].ms : Infinity)
    }
    if (wait < endMs && wait !== pair.gcAt) {
      pair.gcAt = wait
      queue.push(wait, t => { collect(pair, t) })
    }
  }

  // Backups (F15–F18).
  function startBackup (t: TaskState, level: 'full' | 'incremental', at: number): void {
    // The node skips a run that falls due while the task still runs (TaskRunningError), also
    // when two of its schedules fall due at the same minute: the first one runs.
    if (at === t.lastStart) {
      t.collisions++
      t.firstCollisionAt ??= at
      return
    }
    if (at < t.runningUntil) {
      t.skipped++
      t.firstSkipAt ??= at
      return
    }
    const plan = t.store.plan(at, level)
    let seconds = 0
    if (!instant) {
      const files = t.store.files(at)
      const fresh = Math.min(plan.readBytes, plan.newLogical)
      seconds = files / sample.statFilesPerSecond + fresh / sample.newBytesPerSecond + (plan.readBytes - fresh) / sample.rereadBytesPerSecond
    }
    let end = at + seconds * 1000
    if (t.task.bandwidth !== null && plan.readBytes > 0) {
      // The read limit (F12, backup traffic) paces the reading, at no more than the machine's speed.
      const speed = seconds > 0 ? plan.readBytes / seconds : Infinity
      const tr = transfer(at, plan.readBytes, scheduleRate(t.task.bandwidth, t.site.model.timeZone, speed), Infinity)
      end = tr.endMs
      seconds = (end - at) / 1000
    }
    t.runningUntil = end
    t.lastStart = at
    t.runs++
    t.totalSeconds += seconds
    if (seconds > t.maxSeconds) t.maxSeconds = seconds
    series.record(t.series, stepOf(at), seconds / 3600)
    if (t.task.window !== null) {
      if (pastWindow(t.task.window, t.site.model.timeZone, at, end)) { t.pastWindow++; t.firstPastAt ??= at }
    }
    if (end < endMs) queue.push(end, e => { endBackup(t, level, at, e) })
  }

  function endBackup (t: TaskState, level: 'full' | 'incremental', startedAt: number, at: number): void {
    t.store.backup(startedAt, at, level)
    t.site.own = NaN
    // The finished backup hands its snapshot to the links at once (noteLocalChange).
    for (const l of t.site.linksOut) trigger(l, at)
  }

  // Archive runs (F20): a self-contained, compressed copy of the selected data sets per set.
  function startArchive (a: ArchiveState, at: number): void {
    if (at < a.runningUntil) { a.skipped++; a.firstSkipAt ??= at; return }
    let bytes = 0
    for (const s of a.stores) bytes += s.logical(at) * (1 - s.dataset.duplication) * s.dataset.compressibility
    const end = at + (instant ? 0 : bytes / a.model.bytesPerSecond * 1000)
    a.runningUntil = end
    a.runs++
    a.sets.push(bytes)
    if (a.sets.length > a.model.keep) a.sets.shift()
  }

  const stepOf = (at: number): number => Math.min(steps - 1, Math.max(0, Math.floor((at - startMs) / stepMs)))

  // The schedules' runs as events; one walk per distinct schedule.
  const times = new Map<string, number[]>()
  const neverRuns: Array<{ site: string, task: string }> = []
  for (const site of sites) {
    for (const t of site.tasks) {
      let any = false
      for (const s of t.task.schedules) {
        const list = scheduleTimes(times, s, startMs, endMs)
        if (list.length > 0) any = true
        let i = 0
        const next = (): void => {
          if (i >= list.length) return
          queue.push(list[i++], at => { startBackup(t, s.level, at); next() })
        }
        next()
      }
      if (!any) neverRuns.push({ site: site.model.name, task: t.task.name })
    }
    for (const a of site.model.archives) {
      const state: ArchiveState = { site, model: a, stores: site.stores.filter(s => a.datasets.includes(s.dataset.name)), runningUntil: -Infinity, runs: 0, skipped: 0, firstSkipAt: null, sets: [] }
      site.archives.push(state)
      const list = scheduleTimes(times, a.schedule, startMs, endMs)
      let i = 0
      const next = (): void => { if (i < list.length) queue.push(list[i++], at => { startArchive(state, at); next() }) }
      next()
    }
  }
  // A replica that holds data at the start counts it, and the links start once.
  for (const l of links) queue.push(startMs, at => { trigger(l, at) })

  // The sampling step: storage, lag, link use.
  const quarter = Math.max(86_400_000, (endMs - startMs) / 4)
  function record (step: number, at: number): void {
    const last = step === steps - 1
    const firstOfPoint = step % series.stepsPerPoint === 0
    for (const s of sites) s.inflight = 0
    for (const l of links) {
      if (l.run !== null) {
        const done = sentBetween(l.run.pieces, l.run.start, at)
        const share = l.run.bytes > 0 ? Math.min(1, done / l.run.bytes) : 0
        l.to.inflight += done
        for (const mark of l.run.marks.values()) if (mark.pair !== undefined) { mark.pair.moving += share * mark.lacking; moved.push(mark.pair) }
      } else l.lastCaughtUp = at
      let sent = 0
      if (l.recent.length > 0) {
        sent = sentBetween(l.recent, at - stepMs, at)
        if (l.recent[0].to <= at - stepMs) l.recent = l.recent.filter(p => p.to > at - stepMs)
      }
      if (l.series === null) continue
      if (l.capacity !== null) {
        const util = sent / (l.capacity * stepMs / 1000)
        series.record(l.series, step, util * 100)
        l.utilSum += util
        l.utilSteps++
        if (util > l.utilMax) l.utilMax = util
      } else series.record(l.series, step, sent / (stepMs / 1000))
    }
    for (const s of sites) {
      let own = s.own
      if (Number.isNaN(own)) {
        own = 0
        for (const o of s.stores) own += o.physical
        s.own = own
      }
      const replica = model.replicasKeep === 'retained' ? retainedReplica(s) : model.replicasKeep === 'released' ? releasedReplica(s) : s.replicaBytes + s.inflight
      const total = own + replica
      if (total > s.peak) s.peak = total
      if (s.model.capacityBytes !== null && s.fullAt === null && total > s.model.capacityBytes) s.fullAt = at
      series.record(s.series, step, total)
      if (firstOfPoint) {
        // Lines that never change (capacity, windows): one sample per chart point is its value.
        if (s.capacitySeries !== null) series.record(s.capacitySeries, step, s.model.capacityBytes!)
        for (const t of s.tasks) if (t.windowSeries !== null) series.record(t.windowSeries, step, windowHours(t.task.window!))
      }
      if (last) s.end = { own, replica, archive: s.archives.reduce((n, a) => n + a.sets.reduce((x, y) => x + y, 0), 0) }
    }
    for (const p of pairList) {
      const behind = Math.max(0, p.origin.written - p.held - p.moving)
      if (behind > p.behindMax) p.behindMax = behind
      p.behindEnd = behind
      if (p.lastTime === p.lastTime) {
        const age = at - p.lastTime
        if (age > p.rpoMax) p.rpoMax = age
        series.record(p.series, step, age / 3_600_000)
      }
    }
    for (const p of moved) p.moving = 0
    moved.length = 0
  }
  const moved: PairState[] = []
  const pairList = [...pairs.values()]
  function releasedReplica (s: SiteState): number {
    let n = s.model.replicaStoredBytes + s.inflight
    for (const r of s.replicas) n += r.physical
    return n
  }
  function retainedReplica (s: SiteState): number {
    let n = s.model.replicaStoredBytes
    for (const [o, held] of s.held) n += Math.min(held, o.liveBytes())
    return n
  }
  let step = 0
  const tick = (at: number): void => {
    record(step, at)
    step++
    if (step < steps) queue.push(Math.min(endMs, startMs + (step + 1) * stepMs), tick)
  }
  queue.push(Math.min(endMs, startMs + stepMs), tick)

  // Run, yielding to the event loop now and then (a node answering its API runs this).
  let lastYield = performance.now()
  for (let n = 1; queue.size > 0 && queue.peek() <= endMs; n++) {
    const e = queue.pop()!
    e.run(e.at)
    if ((n & 1023) === 0 && performance.now() - lastYield > 20) {
      await new Promise(resolve => setImmediate(resolve))
      lastYield = performance.now()
      if (options.signal?.aborted === true) throw new OperationAbortedError('The simulation', { cause: options.signal.reason })
      options.onProgress?.(Math.min(1, (e.at - startMs) / (endMs - startMs)))
    }
  }

  return {
    model, sample, mesh: meshCost, instant, sites, links, pairs, series, steps, missingLinks, unmetPolicies, neverRuns, catchUpMs: quarter,
    events: queue.processed, elapsedMs: performance.now() - started
  }
}

/** Stores with equal keys evolve alike: everything of the data set and its task but names, and the site's time zone (the read limit's windows). */
function twinKey (site: SiteModel, d: DatasetModel): string {
  const task = { ...d.task, name: '', schedules: d.task.schedules.map(s => ({ ...s, id: '' })) }
  return JSON.stringify([site.timeZone, { ...d, name: '', space: '', task }], (_, v: unknown) => typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)
}

/** True when a run that starts at `from` and ends at `to` is not inside the task's window (local time of the site). */
export function pastWindow (w: NonNullable<TaskModel['window']>, tz: string, from: number, to: number): boolean {
  const { minute } = wallClock(tz, from)
  const inside = w.from <= w.to ? minute >= w.from && minute < w.to : minute >= w.from || minute < w.to
  if (!inside) return true
  const left = ((w.to - minute) % 1440 + 1440) % 1440 || 1440
  return to > from + left * 60_000
}

const windowHours = (w: NonNullable<TaskModel['window']>): number => ((((w.to - w.from) % 1440) + 1440) % 1440 || 1440) / 60
