// Shared JSON-schema pieces of the routes. Schemas are the validation and the OpenAPI document at once.
export const idParam = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', minLength: 1, maxLength: 100 } } } as const
/**
 * Printable text: no control characters (NUL, CR, LF …), no format characters (bidi overrides
 * such as U+202E, zero-width spaces, BOM) and no line or paragraph separators.
 */
export const PRINTABLE = '^[^\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}]*$'
export const printable = (minLength: number, maxLength: number) => ({ type: 'string', minLength, maxLength, pattern: PRINTABLE }) as const
/** A name shown in lists: printable, 3–64 characters, no slashes. */
export const name364 = { type: 'string', minLength: 3, maxLength: 64, pattern: '^[^\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}/\\\\]+$' } as const
export const okReply = { type: 'object', properties: { ok: { type: 'boolean' } } } as const
export const anyObject = { type: 'object', additionalProperties: true } as const
export const page = {
  page: { type: 'integer', minimum: 1, default: 1 },
  pageSize: { type: 'integer', minimum: 1, maximum: 500, default: 20 }
} as const
export const timeRange = {
  from: { type: 'string', format: 'date-time' },
  to: { type: 'string', format: 'date-time' }
} as const
export const confirmBody = {
  type: 'object', required: ['confirm'], additionalProperties: false,
  properties: { confirm: { type: 'string', description: 'Type YES to confirm' } }
} as const
export const roleEnum = { type: 'string', enum: ['admin', 'operator', 'auditor'] } as const

export function paged<T> (items: T[], q: { page?: number, pageSize?: number }): { items: T[], total: number, page: number, pageSize: number } {
  const pageNo = q.page ?? 1
  const size = q.pageSize ?? 20
  return { items: items.slice((pageNo - 1) * size, pageNo * size), total: items.length, page: pageNo, pageSize: size }
}

const hhmm = { type: 'string', pattern: '^([01][0-9]|2[0-4]):[0-5][0-9]$' } as const
/** A bandwidth schedule (F12), for replication and for backups: MiB/s outside the windows, and time-of-day windows with their own rate (0 = no traffic). */
export const bandwidthSchema = {
  type: 'object', additionalProperties: false,
  properties: {
    defaultMibps: { type: 'number', minimum: 0, maximum: 1_000_000, description: 'MiB/s outside the windows; absent: unlimited' },
    windows: {
      type: 'array', maxItems: 48,
      items: {
        type: 'object', additionalProperties: false, required: ['from', 'to', 'mibps'],
        properties: { from: hhmm, to: hhmm, mibps: { type: 'number', minimum: 0, maximum: 1_000_000 }, days: { type: 'array', maxItems: 7, uniqueItems: true, items: { type: 'integer', minimum: 0, maximum: 6 } } }
      }
    }
  }
} as const

/** A signing helper's answer to a login (or enrolment) challenge: crypto/login-challenge's LoginResponse. */
export const loginResponseSchema = {
  type: 'object', required: ['nonce', 'user', 'attemptId', 'origin', 'signature'], additionalProperties: false,
  properties: { nonce: { type: 'string', minLength: 1, maxLength: 100 }, user: printable(1, 64), attemptId: { type: 'string', minLength: 1, maxLength: 100 }, origin: { type: 'string', minLength: 1, maxLength: 300 }, signature: { type: 'string', minLength: 1, maxLength: 4096 } }
} as const
