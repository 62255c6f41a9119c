import { createHash, createHmac } from 'node:crypto'
import type { StateStore } from '../state/index.ts'
import type { Clock } from '../clock/index.ts'

export const LOG_TYPES = ['backup', 'restore', 'data', 'storage', 'archive', 'login', 'node', 'task', 'user', 'alert', 'system'] as const
export type LogType = typeof LOG_TYPES[number]
export const LOG_LEVELS = ['info', 'warning', 'error'] as const
export type LogLevel = typeof LOG_LEVELS[number]

/**
 * What a log line says as a stable code and its parameters (doc/api.md "Log texts"): the console
 * words it in the user's language (console/src/i18n.ts `logMsg`), as it words errors; `message`
 * keeps the English for the CSV download, mail and the CLI.
 */
export interface LogText { code: string, params?: Record<string, string | number> }

/** A LogText: `said('USER_LOGGED_IN', { user })`. Every code is one the console's tables word (console/i18n.test.ts). */
export function said (code: string, params?: Record<string, string | number | undefined>): LogText {
  const kept = Object.fromEntries(Object.entries(params ?? {}).filter((e): e is [string, string | number] => e[1] !== undefined))
  return Object.keys(kept).length === 0 ? { code } : { code, params: kept }
}

/**
 * An error as parameters of a LogText, for a line that reports one: `error` (its English
 * message, kept for old consoles), and, for an error with a stable code (CairnError, or one
 * carried as data), `errorCode` and its params as JSON (`errorParams`), so the console words it
 * from its error tables (console/src/error-messages.ts) in the user's language.
 */
export function saidError (err: unknown): { error: string, errorCode?: string, errorParams?: string } {
  const e = err as { message?: unknown, code?: unknown, params?: unknown } | undefined
  const message = typeof e?.message === 'string' ? e.message : String(err)
  if (typeof e?.code !== 'string' || !/^[A-Z][A-Z0-9_]+$/.test(e.code)) return { error: message }
  return { error: message, errorCode: e.code, ...(e.params !== undefined && e.params !== null ? { errorParams: JSON.stringify(e.params) } : {}) }
}

/** One line of the log list (manual 2.9.1): time, type, user, source, level, content. */
export interface LogEntry {
  id: string
  time: string
  type: LogType
  level: LogLevel
  /** User name the entry is about or was caused by ('system' for the scheduler). */
  user: string
  /** IP address or node name the action came from. */
  source: string
  message: string
  /** The message as a code and parameters, for the console to word (absent on older lines and a few rare ones). */
  text?: LogText
  /** Owner of the object concerned, so operators see only their own entries. */
  ownerId?: string
}

/**
 * One audit record: who changed what. Each carries the MAC of the one before (tamper evidence):
 * HMAC-SHA256 under the node's audit key, which is kept apart from the state (`alg` "hmac-sha256");
 * records of nodes from before issue 13 carry a plain SHA-256 (no `alg`) and may only open the chain.
 */
export interface AuditEntry {
  seq: number
  time: string
  user: string
  source: string
  action: string
  target: string
  detail?: unknown
  prev: string
  hash: string
  alg?: 'hmac-sha256'
}

export interface LogFilter {
  user?: string
  from?: string
  to?: string
  type?: LogType
  level?: LogLevel
  ownerId?: string
}

export interface LogBook {
  write: (entry: Omit<LogEntry, 'id' | 'time'>) => Promise<LogEntry>
  /** Appends to the audit log; there is no call to change or remove an audit record. */
  audit: (entry: Omit<AuditEntry, 'seq' | 'time' | 'prev' | 'hash'>) => Promise<AuditEntry>
  query: (filter: LogFilter) => Promise<LogEntry[]>
  auditTrail: (options?: { from?: number, limit?: number }) => Promise<AuditEntry[]>
  /** Recomputes the chain with the audit key; returns the sequence number of the first broken record, if any, and how many records at its start predate the key. */
  verifyAudit: () => Promise<{ ok: boolean, records: number, brokenAt?: number, unkeyed: number }>
  /** Called after every entry is stored (notifications, webhooks). */
  onEntry: (fn: (e: LogEntry) => void) => void
}

const auditText = (e: Omit<AuditEntry, 'hash' | 'alg'>): string => JSON.stringify([e.seq, e.time, e.user, e.source, e.action, e.target, e.detail ?? null, e.prev])
const plainHash = (e: Omit<AuditEntry, 'hash' | 'alg'>): string => createHash('sha256').update(auditText(e)).digest('hex')

/**
 * Control characters (CR, LF, ESC …), format characters (bidi overrides) and line separators
 * written as escapes, so a name or message cannot start a forged line or hide text in a log.
 */
export function escapeControls (s: string): string {
  return s.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, c => c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\\t' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

const seqKey = (n: number): string => n.toString().padStart(12, '0')

export async function createLogBook (components: { state: StateStore, clock: Clock }, init: { auditKey: Buffer }): Promise<LogBook> {
  const { state, clock } = components
  const mac = (e: Omit<AuditEntry, 'hash' | 'alg'>): string => createHmac('sha256', init.auditKey).update(auditText(e)).digest('hex')
  const listeners: Array<(e: LogEntry) => void> = []
  const last = await state.list<AuditEntry>('audit', { reverse: true, limit: 1 })
  let lastAudit: { seq: number, hash: string } = last[0] ?? { seq: 0, hash: '0'.repeat(64) }
  // The audit chain has its own lock: callers append while holding the state store's lock.
  let auditChain: Promise<unknown> = Promise.resolve()

  return {
    async write (entry) {
      const time = clock.now().toISOString()
      const stored: LogEntry = { id: `${time}_${state.nextId()}`, time, ...entry, user: escapeControls(entry.user), source: escapeControls(entry.source), message: escapeControls(entry.message) }
      await state.put('logs', stored.id, stored)
      for (const fn of listeners) {
        try { fn(stored) } catch { /* a listener's failure must not fail the logged action */ }
      }
      return stored
    },
    async audit (entry) {
      const run = auditChain.then(async () => {
        const base = { seq: lastAudit.seq + 1, time: clock.now().toISOString(), ...entry, user: escapeControls(entry.user), source: escapeControls(entry.source), prev: lastAudit.hash }
        const record: AuditEntry = { ...base, hash: mac(base), alg: 'hmac-sha256' }
        await state.put('audit', seqKey(record.seq), record)
        lastAudit = record
        return record
      })
      auditChain = run.catch(() => {})
      return await run
    },
    async query (filter) {
      const all = await state.list<LogEntry>('logs', {
        reverse: true,
        gte: filter.from,
        lte: filter.to
      })
      return all.filter(e =>
        (filter.user === undefined || e.user === filter.user) &&
        (filter.type === undefined || e.type === filter.type) &&
        (filter.level === undefined || e.level === filter.level) &&
        (filter.ownerId === undefined || e.ownerId === filter.ownerId))
    },
    async auditTrail (options = {}) {
      return await state.list<AuditEntry>('audit', { gte: seqKey(options.from ?? 1), limit: options.limit ?? 1000 })
    },
    async verifyAudit () {
      let prev = '0'.repeat(64)
      let n = 0
      let unkeyed = 0
      let keyed = false
      for (const e of await state.list<AuditEntry>('audit')) {
        n++
        const { hash, alg, ...rest } = e
        // Unkeyed records are accepted only before the first keyed one: anyone can recompute those.
        const good = alg === 'hmac-sha256' ? mac(rest) === hash : !keyed && plainHash(rest) === hash
        if (e.prev !== prev || !good || e.seq !== n) return { ok: false, records: n, brokenAt: e.seq, unkeyed }
        if (alg === 'hmac-sha256') keyed = true; else unkeyed++
        prev = hash
      }
      return { ok: true, records: n, unkeyed }
    },
    onEntry (fn) { listeners.push(fn) }
  }
}
