// Turning the measurements into what people read: a table (phases × tools), one ratio
// line per figure against each baseline, a Markdown page, and a JSON document.
import type { DataSet } from './dataset.ts'
import type { MachineInfo } from './machine.ts'
import { mib, PHASES, type Phase, type PhaseResult, type ToolRun } from './runner.ts'
import type { ToolName } from './tools.ts'

export interface BenchResult {
  date: string
  machine: MachineInfo
  dataSet: { kind: DataSet['kind'], files: number, bytes: number }
  method: string[]
  runs: ToolRun[]
  ratios: Ratio[]
}

export interface Ratio {
  figure: string
  subject: ToolName
  baseline: ToolName
  /** subject / baseline; null when either side has no figure (a failed or skipped phase). */
  value: number | null
  target: number
  ok: boolean
}

export const METHOD = [
  'Every tool runs the same phases in the same order on the same path: full backup of day 1, no-change backup, day-2 backup, restore of the latest snapshot, full read-back check.',
  'The page cache is not dropped between phases or tools (not possible reliably in CI); the backed-up folder was just written by `cp -a`, so every tool starts warm.',
  'Not timed: copying day 1 into place, the rsync to day 2, and verifying the restore (`diff -r` plus a metadata walk).',
  'Time is wall clock; peak RSS is the child\'s ru_maxrss from GNU time; stored is `du -sb` of the repository folder after each backup (caches live outside it).'
]

const PHASE_LABEL: Record<Phase, string> = {
  full: 'full backup',
  'no-change': 'no-change backup',
  'day-2': 'day-2 backup',
  restore: 'restore',
  check: 'check --read-data'
}

interface Figure {
  name: string
  target: number
  of: (run: ToolRun) => number | null
}

const FIGURES: Figure[] = [
  { name: 'full-backup time', target: 0.5, of: r => seconds(r, 'full') },
  { name: 'no-change time', target: 0.5, of: r => seconds(r, 'no-change') },
  { name: 'day-2 time', target: 0.5, of: r => seconds(r, 'day-2') },
  { name: 'restore time', target: 0.5, of: r => seconds(r, 'restore') },
  { name: 'check time', target: 0.5, of: r => seconds(r, 'check') },
  { name: 'stored bytes', target: 0.97, of: r => phaseOf(r, 'day-2')?.storedBytes ?? null },
  {
    name: 'peak RSS',
    target: 1.0,
    of: r => r.phases.length < PHASES.length || r.phases.some(p => !p.ok || p.maxRssKiB === null)
      ? null
      : Math.max(...r.phases.map(p => p.maxRssKiB ?? 0))
  }
]

/** Cairn against each baseline that ran. */
export function computeRatios (runs: ToolRun[]): Ratio[] {
  const subject = runs.find(r => r.tool === 'cairn')
  if (subject === undefined) return []
  const ratios: Ratio[] = []
  for (const figure of FIGURES) {
    for (const baseline of runs.filter(r => r.tool !== 'cairn')) {
      const a = figure.of(subject)
      const b = figure.of(baseline)
      const value = a === null || b === null || b === 0 ? null : a / b
      ratios.push({ figure: figure.name, subject: subject.tool, baseline: baseline.tool, value, target: figure.target, ok: value !== null && value <= figure.target })
    }
  }
  return ratios
}

export function ratioLines (ratios: Ratio[]): string[] {
  return ratios.map(r =>
    `ratio ${r.figure} ${r.subject}/${r.baseline} = ${r.value === null ? 'n/a' : r.value.toFixed(2)} ` +
    `(target <= ${Number.isInteger(r.target) ? r.target.toFixed(1) : String(r.target)})${r.value === null || r.ok ? '' : '  MISS'}`)
}

/** Rows: phases; columns: time, peak RSS and stored MiB for each tool. */
function tableCells (runs: ToolRun[]): string[][] {
  const header = ['phase', ...runs.flatMap(r => [`${r.tool} s`, `${r.tool} RSS MiB`, `${r.tool} stored MiB`])]
  const rows = PHASES.map(p => [PHASE_LABEL[p], ...runs.flatMap(r => cells(phaseOf(r, p)))])
  return [header, ...rows]
}

function cells (p: PhaseResult | undefined): string[] {
  if (p === undefined) return ['-', '-', '-']
  if (!p.ok) return ['FAIL', '-', '-']
  return [p.seconds.toFixed(1), mib(p.maxRssKiB === null ? null : p.maxRssKiB * 1024), p.storedBytes === null ? '' : mib(p.storedBytes)]
}

export function textTable (runs: ToolRun[]): string {
  const rows = tableCells(runs)
  const widths = rows[0].map((_, i) => Math.max(...rows.map(r => r[i].length)))
  const line = (r: string[]): string => r.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join('  ')
  return [line(rows[0]), widths.map(w => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n')
}

function markdownTable (runs: ToolRun[]): string {
  const [header, ...rows] = tableCells(runs)
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => i === 0 ? ' --- ' : ' ---: ').join('|')}|`,
    ...rows.map(r => `| ${r.join(' | ')} |`)
  ].join('\n')
}

/** Restore verdicts and failures, one line per tool. */
export function notes (runs: ToolRun[]): string[] {
  return runs.map(r => {
    const parts: string[] = []
    if (r.restore !== null) {
      parts.push(r.restore.identical ? 'restore identical to source' : `restore DIFFERS from source: ${r.restore.differences.split('\n')[0]}`)
      parts.push(`${r.restore.metadataMismatches} metadata mismatches${r.restore.metadataExamples.length === 0 ? '' : ` (e.g. ${r.restore.metadataExamples[0]})`}`)
    }
    if (r.error !== undefined) parts.push(`FAILED: ${r.error.split('\n')[0]}`)
    return `${r.tool}: ${parts.join('; ')}`
  })
}

export function markdown (result: BenchResult): string {
  const m = result.machine
  return [
    '# Cairn benchmark',
    '',
    `Written by \`npm run bench\` on ${result.date}. Do not edit by hand; rerun instead.`,
    '',
    `- Machine: ${m.nproc} CPUs (${m.cpu}), ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB memory, Linux ${m.kernel}, Node.js ${m.node}`,
    `- Data set: ${result.dataSet.kind}, ${result.dataSet.files} files, ${mib(result.dataSet.bytes)} MiB (day 1)`,
    ...result.runs.map(r => `- ${r.tool}: ${r.version.split('\n')[0]}`),
    '',
    markdownTable(result.runs),
    '',
    ...(result.ratios.length === 0 ? ['No ratios: they need Cairn and restic or borg in the same run.'] : ['```', ...ratioLines(result.ratios), '```']),
    '',
    ...notes(result.runs).map(n => `- ${n}`),
    '',
    '## Method',
    '',
    ...result.method.map(x => `- ${x}`),
    ''
  ].join('\n')
}

function phaseOf (run: ToolRun, phase: Phase): PhaseResult | undefined {
  return run.phases.find(p => p.phase === phase)
}

function seconds (run: ToolRun, phase: Phase): number | null {
  const p = phaseOf(run, phase)
  return p?.ok === true ? p.seconds : null
}
