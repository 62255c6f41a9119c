// Capacity planning (F28) as the API carries it: the report of a simulation run, and the facts
// of this node and its mesh from which a scenario is written. Declared here, where the routes
// and the console read them; the simulation (sim/) produces them. Sizes are bytes, times ISO
// strings, durations seconds unless a name says otherwise.
import type { BandwidthSchedule } from '../../chunkstore/index.ts'
import type { ReplicationPolicy } from '../../bootstrap/index.ts'
import type { Retention, Schedule } from '../jobs/index.ts'

/** What the scenario said and what the run covered. */
export interface PlanScenarioSummary {
  name: string
  /** The scenario's time zone: dates of the report read in it. */
  timeZone: string
  start: string
  end: string
  days: number
  /** Hours between two points of every series. */
  stepHours: number
  sites: number
  /** The calibration profile the run used: where it was measured and when (null: the built-in defaults). */
  profile: { host: string, measuredAt: string, parts: string[] } | null
}

export interface PlanSiteBytes {
  /** This site's own stores (its user spaces), on disk. */
  ownBytes: number
  /** What other sites sent it (the replica). */
  replicaBytes: number
  /** Archive sets on its devices (tape, object storage, folder). */
  archiveBytes: number
  /** own + replica: what its disks hold. */
  totalBytes: number
}

export interface PlanSite {
  name: string
  role: string
  capacityBytes: number | null
  /** At the end of the horizon. */
  end: PlanSiteBytes
  peakBytes: number
  /** When own + replica first exceed the capacity; null if never within the horizon. */
  fullAt: string | null
}

export interface PlanTask {
  site: string
  dataset: string
  task: string
  runs: number
  /** Runs that fell due while the previous one still ran (the node skips them too). */
  skipped: number
  /** Runs skipped because another of the task's schedules fell due at the same moment. */
  collisions: number
  meanSeconds: number
  maxSeconds: number
  /** The backup window the scenario gives the task (local time), if any. */
  window: { from: string, to: string } | null
  /** Runs that ended outside their window. */
  pastWindow: number
  /** Snapshots retained at the end, and the logical size of the data then. */
  snapshots: number
  logicalBytes: number
}

export interface PlanLink {
  from: string
  to: string
  /** Capacity of the link in bytes per second; null when the scenario gives none. */
  capacityBytesPerSecond: number | null
  sentBytes: number
  /** Share of the capacity used, mean over the horizon and the highest step; null without a capacity. */
  meanUtilisation: number | null
  peakUtilisation: number | null
}

/** How far a site's copy of another site's backups trails: per origin and holding site (F11 cascades included). */
export interface PlanLag {
  origin: string
  target: string
  snapshotsArrived: number
  /** Time from a snapshot's end at the origin to its arrival at the target: mean and largest. */
  meanLagHours: number
  maxLagHours: number
  /** The achievable recovery point at the target: the age of the newest copy it holds, largest over the horizon. */
  maxRpoHours: number
  maxBytesBehind: number
  endBytesBehind: number
}

export interface PlanArchive {
  site: string
  name: string
  kind: 'tape' | 's3' | 'directory'
  sets: number
  bytes: number
  /** Tape: cartridges the retained sets take. */
  cartridges: number | null
}

export type PlanFindingCode =
  | 'BACKUP_OVER_INTERVAL' | 'BACKUP_PAST_WINDOW' | 'CAPACITY_EXHAUSTED' | 'LINK_CANNOT_CATCH_UP'
  | 'NO_TARGET' | 'NO_LINK' | 'SCHEDULE_NEVER_RUNS' | 'ARCHIVE_OVER_INTERVAL' | 'REPLICA_GROWS'
  | 'PROFILE_LEVEL_DIFFERS' | 'SCHEDULES_COLLIDE'

/** Something the planner should act on: an impossible or risky part of the scenario. Never a crash. */
export interface PlanFinding {
  code: PlanFindingCode
  severity: 'info' | 'warning' | 'critical'
  site?: string
  /** When it first happens. */
  at?: string
  /** English; the console words it from `code` and `params`. */
  message: string
  params: Record<string, string | number>
}

export type PlanChartId = 'storage' | 'lag' | 'backup-windows' | 'link-utilisation'

/** One chart: series on a common time grid (`start`, every `stepHours`), drawn the same in the HTML report and the console. */
export interface PlanChart {
  id: PlanChartId
  title: string
  unit: 'bytes' | 'hours' | 'percent' | 'bytes/s'
  start: string
  stepHours: number
  /** Series left out to keep the chart readable (the tables have every site, copy, backup and link). */
  omitted: number
  series: Array<{
    label: string
    site?: string
    /** A reference line rather than a measured series: a site's capacity, a task's window. */
    line?: 'capacity' | 'window'
    /** null where the series has no value (a backup window chart between runs). */
    data: Array<number | null>
  }>
}

/** A simulation run (POST /api/planning/run, `cairn sim run --json`). */
export interface PlanReport {
  format: 'cairn-plan-report'
  version: 1
  scenario: PlanScenarioSummary
  /** Wall time the simulation took, and the events it processed. */
  elapsedMs: number
  events: number
  sites: PlanSite[]
  tasks: PlanTask[]
  links: PlanLink[]
  lags: PlanLag[]
  archives: PlanArchive[]
  findings: PlanFinding[]
  charts: PlanChart[]
}

/** One backup run of a task as the job history has it. */
export interface PlanFactRun {
  startedAt: string
  durationSeconds: number
  level: string
  files: number
  bytesTotal: number
  bytesRead: number
  bytesNew: number
  bytesStored: number
}

/**
 * What this node knows of itself and its mesh (GET /api/planning/scenario, `cairn sim from-mesh`):
 * the sites and roles, its own spaces, tasks and their backup history, its policies, bandwidth
 * and links' measured throughput, and what other sites' backups it holds.
 */
export interface MeshFacts {
  at: string
  site: string
  role: string
  timeZone: string
  members: Array<{ site: string, role: string, self: boolean, connected: boolean }>
  policies: ReplicationPolicy[]
  bandwidth: BandwidthSchedule | null
  links: Array<{ site: string, bytesSent: number, seconds: number, blocksOffered: number }>
  /** Snapshots of other sites held here, by origin site. */
  held: Array<{ site: string, snapshots: number }>
  replicaBytes: number
  spaces: Array<{ name: string, usedBytes: number, capacityBytes: number }>
  tasks: Array<{ name: string, space: string, schedules: Schedule[], retention: Retention, compression: number, bandwidth: BandwidthSchedule | null, runs: PlanFactRun[] }>
}
