// The values the console offers in its filters and forms (log types and levels, job types,
// webhook events, mesh roles): the keys of their label tables in the message catalogue, which the
// type checker holds to the node's own types (from node/api/dto.ts) — a value the node adds or
// drops fails `npm run typecheck` until it has a label here. So no list is written twice.
import { en } from './i18n.ts'
import type { JobType, LogLevel, LogType, MeshRole, WebhookEvent } from './api.ts'

/** The keys of `labels`, which must be exactly the values of K. */
const valuesOf = <K extends string>() => <L extends Record<K, string>>(labels: L & Record<Exclude<keyof L, K>, never>): K[] => Object.keys(labels) as K[]

export const LOG_TYPES = valuesOf<LogType>()(en.logType)
export const LOG_LEVELS = valuesOf<LogLevel>()(en.level)
export const WEBHOOK_EVENTS = valuesOf<WebhookEvent>()(en.event)
export const JOB_TYPES = valuesOf<JobType>()(en.jobType)
export const MESH_ROLES = valuesOf<MeshRole>()(en.meshRole)
