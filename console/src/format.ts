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

/** Well-known partition types by GPT type GUID or MBR type byte (as `sfdisk --json` writes them), as fdisk names them. */
const PARTITION_TYPES: Record<string, string> = {
  '0FC63DAF-8483-4772-8E79-3D69D8477DE4': 'Linux filesystem',
  'C12A7328-F81F-11D2-BA4B-00A0C93EC93B': 'EFI System',
  'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7': 'Microsoft basic data',
  '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F': 'Linux swap',
  'E6D6D379-F507-44C2-A23C-238F2A3DF928': 'Linux LVM',
  'A19D880F-05FC-4D3B-A006-743F0F84911E': 'Linux RAID',
  '21686148-6449-6E6F-744E-656564454649': 'BIOS boot',
  'E3C9E316-0B5C-4DB8-817D-F92DF00215AE': 'Microsoft reserved',
  '83': 'Linux', '82': 'Linux swap', '8e': 'Linux LVM', 'fd': 'Linux RAID', 'ef': 'EFI System',
  '7': 'NTFS/exFAT', 'b': 'FAT32', 'c': 'FAT32 (LBA)', 'e': 'FAT16 (LBA)', '5': 'Extended', 'f': 'Extended (LBA)'
}

/** A partition's type by name where it is a well-known one, with the raw value beside it. */
export function partitionType (type: string | undefined): string {
  if (type === undefined || type === '') return '—'
  const name = PARTITION_TYPES[type.toUpperCase()] ?? PARTITION_TYPES[type.toLowerCase().replace(/^0x/, '')]
  return name === undefined ? type : `${name} (${type.length > 8 ? `${type.slice(0, 8)}…` : type})`
}
