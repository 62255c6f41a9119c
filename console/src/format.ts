// Sizes, speeds and durations as the manual shows them (KB/MB/GB, binary units; durations in the
// user's language).
import { i18n } from './i18n.ts'
const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB']

export function bytes (n: number | null | undefined): string {
  if (n === undefined || n === null || !Number.isFinite(n)) return '—'
  let v = n
  let i = 0
  while (Math.abs(v) >= 1024 && i < UNITS.length - 1) { v /= 1024; i++ }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${UNITS[i]}`
}

export const speed = (n: number | undefined): string => n === undefined ? '—' : `${bytes(n)}/s`

/** A duration in the user's language: "3m 13s", "3 分 13 秒". */
export function duration (seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '—'
  const { t } = i18n.global
  const s = Math.max(0, Math.round(seconds))
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  const rest = s % 60
  return [d > 0 ? t('dur.d', { n: d }) : '', h > 0 ? t('dur.h', { n: h }) : '', m > 0 ? t('dur.m', { n: m }) : '', t('dur.s', { n: rest })].filter(Boolean).join(t('dur.sep'))
}

export const time = (iso: string | undefined): string => iso === undefined ? '—' : new Date(iso).toLocaleString()

/** A job's name stamp, MM-DD-HHmm in the browser's local time: the time the console shows next to it. */
export function jobStamp (d = new Date()): string {
  const two = (n: number): string => String(n).padStart(2, '0')
  return `${two(d.getMonth() + 1)}-${two(d.getDate())}-${two(d.getHours())}${two(d.getMinutes())}`
}
