// A capacity-planning scenario (F28): as written in a scenario file (…Input, sizes and rates as
// text such as 500GB or 100Mbit/s), and as the engine reads it once checked (sizes in bytes,
// times in epoch milliseconds, everything defaulted). The file format is documented in
// doc/sim.md; its JSON Schema is scenario-schema.ts (`cairn sim schema`).
import type { BandwidthSchedule } from '../chunkstore/index.ts'
import type { ReplicationPolicy, Schedule } from '../node/index.ts'
import type { Profile } from './profile.ts'

export type Role = 'head' | 'branch' | 'dr'
export type ReplicasKeep = 'released' | 'everything' | 'retained'

/** A task schedule as the node takes it (F16); `startDate` defaults to the scenario's start, `timeZone` to the site's. */
export interface ScheduleInput {
  kind: Schedule['kind']
  startDate?: string
  time: string
  days?: number[]
  everyMinutes?: number
  level?: 'full' | 'incremental'
  timeZone?: string
}

export interface BackupTaskInput {
  name?: string
  schedules: ScheduleInput[]
  /** The node's retention (F18): keep forever, or copies and/or days. */
  retention?: 'forever' | { copies?: number, days?: number }
  /** The window (local time) backups should end within; a run that ends outside it is a finding. */
  window?: { from: string, to: string }
  /** Read limit of the backup (F12, backup traffic). */
  bandwidth?: BandwidthSchedule
  /** zstd level of the task (0 = off, the node's default); the profile's sample should be measured at it. */
  compression?: number
}

export interface DatasetInput {
  name: string
  /** The user space it is backed up into (policies' `spaces` name it); default: the data set's name. */
  space?: string
  /** Logical size at the start. */
  size: string | number
  files?: number
  dirs?: number
  /** New data per day: a size ("20GB") or a share of the data set ("0.5%", compounding). */
  growth?: string | number
  /** Data rewritten per day: a share ("2%") or a size ("40GB"). */
  change?: string | number
  /** Stored size of unique data after zstd, as a share of it (0.5 = halves). Default: measured, else 1. */
  compressibility?: number
  /** Share of the bytes that duplicate other bytes of the set (dedup removes them). Default: measured, else 0. */
  duplication?: number
  /** Measure compressibility and duplication on this folder with the real chunker (command line only). */
  sample?: string
  /** Bytes the data set's store holds already (a scenario of a running mesh): no first full backup then. */
  stored?: string | number
  backup: BackupTaskInput
}

export interface ArchiveInput {
  name: string
  kind: 'tape' | 's3' | 'directory'
  /** Data sets of the site archived (default all). */
  datasets?: string[]
  schedule: ScheduleInput
  /** Archive sets kept; older ones are recycled. */
  keep: number
  /** Tape: capacity of one cartridge (native). */
  cartridge?: string | number
  /** How fast the device takes data. Default: 300MB/s for tape, 100MB/s otherwise. */
  throughput?: string | number
}

export interface SiteInput {
  name: string
  role: Role
  /** Disk for the site's stores and replica. */
  capacity?: string | number
  timeZone?: string
  /** Bytes of other sites' data its replica holds at the start. */
  replicaStored?: string | number
  datasets?: DatasetInput[]
  /**
   * Policies as the node takes them (F11; `immutableDays` is the lock each policy asks of its
   * targets), the site's outgoing bandwidth windows, and what it does as a replica: its own lock
   * (`receive.immutableDays`, per origin site in `receive.perSite`), the floor under what senders ask.
   */
  replication?: { policies: ReplicationPolicy[], bandwidth?: BandwidthSchedule, receive?: ReceiveInput }
  archives?: ArchiveInput[]
}

/** A replica's own lock, in days or 'forever' (the node's `receive` settings, doc/mesh.md "Locks"). */
export interface ReceiveInput {
  immutableDays?: number | 'forever'
  perSite?: Record<string, number | 'forever'>
}

export interface LinkInput {
  sites: [string, string]
  /** Capacity in each direction. */
  bandwidth: string | number
  rttMs?: number
}

export interface ScenarioInput {
  format?: 'cairn-scenario'
  version?: 1
  name?: string
  /** YYYY-MM-DD (midnight in the scenario's time zone) or an ISO time. */
  start: string
  /** How long to simulate: 90d, 26w, 18mo, 5y (or days). */
  horizon: string | number
  /** How often the engine samples storage, lag and link use: 1h … 7d. Default 1h. Charts fold samples into at most 1000 points. */
  step?: string
  timeZone?: string
  /** A calibration profile: a file (command line) or the profile itself. */
  profile?: string | Profile
  sites: SiteInput[]
  links?: LinkInput[]
  /**
   * What replicas keep: `released` (default) — what the node does since issue 18: a replica's GC
   * frees the snapshots its origin released once their locks have passed; `everything` they were
   * sent (a what-if: replicas that never free, an upper bound); or `retained` — only the live blocks
   * of snapshots the origin still keeps, no locks and no dead space (a lower bound).
   */
  replicas?: {
    keep?: ReplicasKeep
    /**
     * The size replicas' logs seal a segment at: the node's 64 MiB (TARGET_SEGMENT) unless given.
     * A replica frees in steps of segments and never its open one, so a replica holding a few MiB
     * frees nothing at 64 MiB; a smaller size shows the curve of its live blocks.
     */
    segmentSize?: string | number
  }
}

// ------------------------------------------------------------------------------------------
// Checked and defaulted: what the engine reads.

export interface TaskModel {
  name: string
  schedules: Schedule[]
  retention: { keepLast?: number, keepDays?: number } | null
  window: { from: number, to: number, text: { from: string, to: string } } | null
  bandwidth: BandwidthSchedule | null
  compression: number | null
}

export interface DatasetModel {
  name: string
  space: string
  sizeBytes: number
  files: number
  dirs: number
  /** Either bytes per day, or a daily share (compounding). */
  growth: { bytesPerDay: number } | { sharePerDay: number }
  /** Share of the data rewritten per day. */
  changePerDay: number
  compressibility: number
  duplication: number
  storedBytes: number | null
  task: TaskModel
}

export interface ArchiveModel {
  name: string
  kind: 'tape' | 's3' | 'directory'
  datasets: string[]
  schedule: Schedule
  keep: number
  cartridgeBytes: number | null
  bytesPerSecond: number
}

export interface SiteModel {
  name: string
  role: Role
  capacityBytes: number | null
  timeZone: string
  replicaStoredBytes: number
  datasets: DatasetModel[]
  policies: ReplicationPolicy[]
  bandwidth: BandwidthSchedule | null
  /** Its own lock as a replica (the floor under what senders ask). */
  receive: ReceiveInput
  archives: ArchiveModel[]
}

export interface LinkModel {
  a: string
  b: string
  bytesPerSecond: number
  rttMs: number
}

export interface ScenarioModel {
  name: string
  startMs: number
  endMs: number
  stepMs: number
  timeZone: string
  profile: Profile
  sites: SiteModel[]
  links: LinkModel[]
  replicasKeep: ReplicasKeep
  /** Bytes at which replicas' logs seal a segment (`replicas.segmentSize`, else TARGET_SEGMENT). */
  replicaSegmentBytes: number
}
