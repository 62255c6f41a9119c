// The quantities a scenario is written in: sizes (500GB, 2TiB), rates (100Mbit/s, 10MiB/s),
// shares (2%, 0.02), spans of time (90d, 5y, 1h). Decimal units are powers of 1000, binary ones
// (KiB, MiB …) of 1024, as disk and link vendors write them. Parsers return undefined for text
// that is not one; the scenario checker turns that into a message with the field's path.

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, pb: 1e15,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40, pib: 2 ** 50
}

/** The text patterns, for the JSON Schema (it checks the form; the parsers read the value). */
export const SIZE_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*([KMGTP]i?B|B)?\\s*$'
export const RATE_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*(([KMGTP]i?B|B)/s|[KMGT]bit/s|[KMGT]bps)\\s*$'
export const SHARE_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*%\\s*$'
export const SPAN_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*(h|d|w|mo|y)\\s*$'

/** Bytes of "500GB", "1.5 TiB", "4096" (or a number). */
export function parseSize (v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined
  if (typeof v !== 'string') return undefined
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGTP]i?B|B)?\s*$/i.exec(v)
  if (m === null) return undefined
  return Number(m[1]) * SIZE_UNITS[(m[2] ?? 'b').toLowerCase()]
}

/** Bytes per second of "10MiB/s", "100MB/s", "100Mbit/s", "1Gbps" (or a number of bytes per second). */
export function parseRate (v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined
  if (typeof v !== 'string') return undefined
  let m = /^\s*(\d+(?:\.\d+)?)\s*([KMGTP]i?B|B)\/s\s*$/i.exec(v)
  if (m !== null) return Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()]
  m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT])(?:bit\/s|bps)\s*$/i.exec(v)
  if (m !== null) return Number(m[1]) * SIZE_UNITS[`${m[2].toLowerCase()}b`] / 8
  return undefined
}

/** A share as a fraction: "2%" → 0.02; a number is taken as the fraction itself. */
export function parseShare (v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined
  if (typeof v !== 'string') return undefined
  const m = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(v)
  return m === null ? undefined : Number(m[1]) / 100
}

const SPAN_HOURS: Record<string, number> = { h: 1, d: 24, w: 24 * 7, mo: 24 * 365.25 / 12, y: 24 * 365.25 }

/** Hours of "1h", "90d", "12w", "6mo", "5y" (or a number of days). */
export function parseSpanHours (v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v > 0 ? v * 24 : undefined
  if (typeof v !== 'string') return undefined
  const m = /^\s*(\d+(?:\.\d+)?)\s*(h|d|w|mo|y)\s*$/.exec(v)
  return m === null ? undefined : Number(m[1]) * SPAN_HOURS[m[2]]
}

/** Minutes since midnight of "HH:MM" (24:00 allowed as an end). */
export function parseClock (v: string): number {
  const m = /^(\d{2}):(\d{2})$/.exec(v)
  return m === null ? NaN : Number(m[1]) * 60 + Number(m[2])
}

const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

/** 1536 → "1.5 KiB". */
export function formatBytes (n: number): string {
  if (!Number.isFinite(n)) return '∞'
  let i = 0
  let v = Math.abs(n)
  while (v >= 1024 && i < BINARY.length - 1) { v /= 1024; i++ }
  const s = i === 0 ? String(Math.round(v)) : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)
  return `${n < 0 ? '-' : ''}${s} ${BINARY[i]}`
}

/** 5400 → "1.5 h", 90 → "1.5 min", 12 → "12 s". */
export function formatSeconds (s: number): string {
  if (!Number.isFinite(s)) return '∞'
  if (s >= 86_400 * 2) return `${(s / 86_400).toFixed(1)} d`
  if (s >= 3600) return `${(s / 3600).toFixed(1)} h`
  if (s >= 60) return `${(s / 60).toFixed(1)} min`
  return `${s.toFixed(s >= 10 ? 0 : 1)} s`
}

/** YYYY-MM-DD of an ISO time in a time zone (the report's dates are read in the scenario's). */
export function localDate (iso: string, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(iso))
}
