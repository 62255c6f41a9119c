// Human-readable figures for the command line (and the same rules the console uses).

export function bytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let i = 0
  let v = n
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return i === 0 ? `${Math.round(v)} B` : `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`
}

export function duration (ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  const s = ms / 1000
  if (s < 60) return `${s.toFixed(1)} s`
  const m = Math.floor(s / 60)
  const h = Math.floor(m / 60)
  return h > 0 ? `${h}:${String(m % 60).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}` : `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`
}

export function count (n: number): string {
  return n.toLocaleString('en-US')
}

/** A count with its noun in the right number: "1 file", "2 files", "1,024 entries". */
export function counted (n: number, one: string, many = one + 's'): string {
  return `${count(n)} ${n === 1 ? one : many}`
}

/** Parses a size such as 512K, 1M, 4MiB or 1048576. */
export function parseSize (s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(s.trim())
  if (m === null) return NaN
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't']
  return Math.round(Number(m[1]) * mult)
}

/** A fixed-width table for listings. */
export function table (head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd()
  return [line(head), line(w.map(n => '-'.repeat(n))), ...rows.map(line)].join('\n')
}
