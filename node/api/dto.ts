// The shapes the API sends, for the console (`import type` only; it reaches the node over HTTP).
export type { PublicUser, Role, NotificationPrefs, ReportPrefs } from '../auth/index.ts'
export type { NodeRecord, SpaceRecord, AgentType } from '../inventory/index.ts'
export type { TaskRecord, TaskInput, TaskOptions, Retention, Schedule, JobRecord, JobProgress, JobLogLine, JobType, JobStatus, RestoreRequest, CleanRequest, EscrowAnswer, AdoptRequest } from '../jobs/index.ts'
export type { DeviceView, DeviceInput, DeviceTest, ArchiveTaskRecord, ArchiveTaskInput, ArchiveTaskChange, ArchiveRecord, ArchiveDataRow, CartridgeView, DeviceCartridges } from '../jobs/index.ts'
export type { Webhook, Delivery, WebhookEvent, SmtpSettings, ReportTable } from '../notify/index.ts'
export type { LogEntry, AuditEntry, LogType, LogLevel } from '../logs/index.ts'
export type { SnapshotRecord, TreeEntry } from '../../chunkstore/index.ts'
export type * from './planning-dto.ts'

/**
 * Every error answer: `code` is stable and listed in doc/api.md "Errors" (the console words a
 * message from it and `params`); `name` is the error class's, also stable.
 */
export type ApiError = import('../../crypto/index.ts').ErrorRecord

/** A page of a list (`page`, `pageSize` query parameters). */
export interface Page<T> { items: T[], total: number, page: number, pageSize: number }

/** POST /api/auth/login and /api/auth/login/token. */
export type LoginReply =
  | { step: 'done', user: import('../auth/index.ts').PublicUser, csrfToken: string, sessionId: string }
  | { step: 'token', challenge: import('../../crypto/index.ts').LoginChallenge, keyFingerprint?: string }

/** GET /api/dashboard: the home page (manual 2.1.1). */
export interface Dashboard {
  uptimeSeconds: number
  /** `spaces` user spaces, `online` of them on a client that is online (the manual's storage quantity and online storage). */
  storage: { capacityBytes: number, usedBytes: number, freeBytes: number, spaces: number, online: number }
  dailyBackupBytes: Array<{ day: string, bytes: number }>
  runningJobs: import('../jobs/index.ts').JobRecord[]
  nodes: { total: number, online: number }
  /** Each with its client's IP and online state ('' and false for a client this user cannot see). */
  spaces: Array<Pick<import('../inventory/index.ts').SpaceRecord, 'id' | 'name' | 'type' | 'capacityBytes' | 'usedBytes' | 'nodeId'> & { ip: string, online: boolean }>
  tasks: number
  failedJobsLastDays: number
}

/** GET /api/about (manual 2.1.2 "About"): what a support request names. */
export interface About {
  version: string
  node: { name: string, hostname: string, os: string, ip: string }
  /** The SPDX licence of the Cairn package (package.json). */
  licence: string
  startedAt: string
}

/** A client as GET /api/nodes shows it: with its online state (a heartbeat in the last 3 minutes). */
export type NodeView = import('../inventory/index.ts').NodeRecord & { online: boolean }

/** GET /api/nodes/{id}/files: one entry of a folder of the node. */
export interface FileEntry { name: string, path: string, type: 'dir' | 'file' | 'symlink' | 'other', size: number, mtime?: string }

/** GET /api/data/tasks: a row of the data management table (manual 2.5.1). */
export interface DataRow { taskId: string, taskName: string, agentType: string, spaceId: string, spaceName: string, backupBytes: number, /** Bytes the blocks of the copies occupy in the store, each block once; null when the store could not be read. */ storedBytes: number | null, copies: number, runs: number }

export type { Role as MeshRole, ReplicationPolicy as MeshPolicy } from '../../bootstrap/index.ts'
export type { BandwidthSchedule as Bandwidth, BandwidthWindow, BlockDeviceInfo as BlockDevice } from '../../chunkstore/index.ts'

/** GET /api/mesh (doc/api.md "The mesh"): the mesh this node hosts, or `{ configured: false }`. */
export interface MeshStatus {
  configured: true
  mesh: string
  version: number
  self: import('../../bootstrap/index.ts').MeshStatus['self']
  members: Array<import('../../bootstrap/index.ts').Member & { connected: boolean, self: boolean }>
  links: import('../../bootstrap/index.ts').LinkStatus[]
  policies: import('../../bootstrap/index.ts').PolicyStatus[]
  bandwidth: import('../../chunkstore/index.ts').BandwidthSchedule | null
  invitationsOpen: number
  held: import('../../bootstrap/index.ts').HeldSnapshots[]
  /** Snapshots other sites sent with manifests: lock and release state each, space per origin (doc/mesh.md "Retention at replicas"). */
  retention: import('../../bootstrap/index.ts').MeshStatus['retention']
}

/** The challenge of a USB-key login (POST /api/auth/login's second step). */
export type LoginChallenge = import('../../crypto/index.ts').LoginChallenge
