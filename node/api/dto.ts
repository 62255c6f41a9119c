// The shapes the API sends, for the console (`import type` only; it reaches the node over HTTP).
export type { PublicUser, Role, NotificationPrefs, ReportPrefs } from '../auth/index.ts'
export type { NodeRecord, SpaceRecord, AgentType } from '../inventory/index.ts'
export type { TaskRecord, TaskInput, TaskOptions, Retention, Schedule, JobRecord, JobProgress, JobLogLine, JobType, JobStatus, RestoreRequest, CleanRequest, EscrowAnswer, AdoptRequest } from '../jobs/index.ts'
export type { LogEntry, AuditEntry, LogType, LogLevel, Webhook, Delivery, WebhookEvent, SmtpSettings, ReportTable } from '../notify/index.ts'
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
  | { step: 'token', challenge: import('../../crypto/index.ts').LoginChallenge }
