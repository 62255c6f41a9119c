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
  /** Every round's runs, the tools in the same order in each (they ran A B, then B A, …). */
  rounds: ToolRun[][]
  /** Per tool, each phase's median over the rounds: what the table and the ratios show. */
  runs: ToolRun[]
  ratios: Ratio[]
}

export interface Ratio {
  figure: string
  subject: ToolName
  baseline: ToolName
  /** subject / baseline of the medians; null when either side has no figure (a failed or skipped phase). */
  value: number | null
  /** subject / baseline in each round. */
  perRound: Array<number | null>
  /** For a time: the ratio of the medians of CPU seconds (user + system), which a busy machine disturbs less. */
  cpu?: number | null
  /** The issue's target (against restic); null: shown for information. */
  target: number | null
  /** The target holds in every round, not only for the median. */
  everyRun: boolean
  ok: boolean
}

export const METHOD = [
  'Every tool runs the same phases in the same order on the same path: full backup of day 1, no-change backup, day-2 backup, restore of the latest snapshot, full read-back check.',
  'Rounds: `--repeat N` (default 3) runs every tool N times, the order reversed every other round (cairn restic borg, then borg restic cairn, …), so a machine that drifts weighs on every tool alike. The table shows each phase\'s median over the rounds; a target counts as met only when the median meets it (the restore\'s: in every round).',
  'Before every timed command, `sync` writes every dirty page to disk (not timed): no command pays for the write-back of what an earlier step wrote (the copy of day 1, the rsync, another tool\'s repository or restore). The page cache itself is kept (reads are warm, as on a machine that backs up what it just used); `--cold` drops it before every timed command instead (`echo 3 > /proc/sys/vm/drop_caches`, root only).',
  'A restore is timed until its files are on disk: the tool\'s command, then a `sync` (timed, shown apart in the log). A tool that leaves its files dirty in the page cache finishes its command sooner, and the kernel writes them back afterwards, during whatever runs next; timing only the command measured that, not the restore. `sync` is system-wide: on a machine shared with other work it writes their pages too, so figures worth quoting come from an idle machine.',
  'Why one run measured Cairn\'s restore at 0.42x restic\'s time and an A-B-B-A run with a `sync` before each command at 1.21x (measured 2026-12-07, restoring day 2 with each tool, `sync` or `drop_caches` before, a timed `sync` after): the write-back is not it. A restore leaves 0.4 to 1.7 GB dirty when its command exits, and the `sync` after it takes 0.7 to 2 s for either tool, a few per cent of the restore; emptying the page cache first did not make either tool slower beyond the noise. The machine is: the same Cairn restore took 26 s and then 46 to 104 s of wall time as other work came and went, restic\'s 35 s and then 111 s; their user CPU stayed put (Cairn 9.3 to 10.3 s, restic 8.7 s both times) while their system time swung from 5.5 to 28 s (kernel contention on a shared disk). The old bench ran each tool once, one after the other, so each tool met a different machine; one sample each could give either ratio. Hence rounds in alternating order, medians, the CPU ratio beside each time ratio, and the same flushing for every tool.',
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
  /** For a time: the phase, whose CPU seconds are compared too. */
  phase?: Phase
  /** Cairn / restic, issue 21. */
  target: number
  everyRun?: boolean
  of: (run: ToolRun) => number | null
}

/** The targets of issue 21, Cairn against restic; against borg the ratios are shown for information. */
export const FIGURES: Figure[] = [
  { name: 'full-backup time', phase: 'full', target: 0.7, of: r => seconds(r, 'full') },
  { name: 'no-change time', phase: 'no-change', target: 0.5, of: r => seconds(r, 'no-change') },
  { name: 'day-2 time', phase: 'day-2', target: 0.5, of: r => seconds(r, 'day-2') },
  { name: 'restore time', phase: 'restore', target: 0.5, everyRun: true, of: r => seconds(r, 'restore') },
  { name: 'check time', phase: 'check', target: 0.7, of: r => seconds(r, 'check') },
  { name: 'stored bytes', target: 0.97, of: r => phaseOf(r, 'day-2')?.storedBytes ?? null },
  {
    name: 'peak RSS',
    target: 1.5,
    of: r => r.phases.length < PHASES.length || r.phases.some(p => !p.ok || p.maxRssKiB === null)
      ? null
      : Math.max(...r.phases.map(p => p.maxRssKiB ?? 0))
  }
]

export function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

/** Each tool's runs folded into one: per phase the median of the rounds where it passed (FAIL when it passed in none). */
export function medianRuns (rounds: ToolRun[][]): ToolRun[] {
  if (rounds.length === 0) return []
  return rounds[0].map((first, i) => {
    const all = rounds.map(r => r[i])
    const phases: PhaseResult[] = []
    for (const p of PHASES) {
      const seen = all.map(r => phaseOf(r, p)).filter((x): x is PhaseResult => x !== undefined)
      if (seen.length === 0) continue
      const ok = seen.filter(x => x.ok)
      if (ok.length === 0) { phases.push(seen[0]); continue }
      const med = (f: (x: PhaseResult) => number | null | undefined): number | null => {
        const xs = ok.map(f).filter((x): x is number => typeof x === 'number')
        return xs.length === 0 ? null : median(xs)
      }
      const flushSeconds = med(x => x.flushSeconds)
      phases.push({ phase: p, ok: true, seconds: med(x => x.seconds) ?? 0, maxRssKiB: med(x => x.maxRssKiB), cpuSeconds: med(x => x.cpuSeconds), storedBytes: med(x => x.storedBytes), ...(flushSeconds === null ? {} : { flushSeconds }) })
    }
    const differs = all.find(r => r.restore !== null && !r.restore.identical)
    const restore = differs?.restore ?? all.map(r => r.restore).filter(x => x !== null).sort((a, b) => b.metadataMismatches - a.metadataMismatches)[0] ?? null
    const error = all.find(r => r.error !== undefined)?.error
    return { tool: first.tool, version: first.version, phases, restore, ...(error === undefined ? {} : { error }) }
  })
}

function ratioOf (x: number | null | undefined, y: number | null | undefined): number | null {
  return x === null || x === undefined || y === null || y === undefined || y === 0 ? null : x / y
}

/** Cairn against each baseline that ran: the ratio of the medians, and of each round. */
export function computeRatios (runs: ToolRun[], rounds: ToolRun[][] = [runs]): Ratio[] {
  const subject = runs.find(r => r.tool === 'cairn')
  if (subject === undefined) return []
  const ratio = (figure: Figure, a: ToolRun | undefined, b: ToolRun | undefined): number | null =>
    ratioOf(a === undefined ? null : figure.of(a), b === undefined ? null : figure.of(b))
  const ratios: Ratio[] = []
  for (const figure of FIGURES) {
    for (const baseline of runs.filter(r => r.tool !== 'cairn')) {
      const value = ratio(figure, subject, baseline)
      const perRound = rounds.map(round => ratio(figure, round.find(r => r.tool === 'cairn'), round.find(r => r.tool === baseline.tool)))
      const target = baseline.tool === 'restic' ? figure.target : null
      const everyRun = figure.everyRun === true
      const meets = (v: number | null): boolean => target === null || (v !== null && v <= target)
      const cpu = figure.phase === undefined ? undefined : ratioOf(phaseOf(subject, figure.phase)?.cpuSeconds, phaseOf(baseline, figure.phase)?.cpuSeconds)
      ratios.push({ figure: figure.name, subject: subject.tool, baseline: baseline.tool, value, perRound, ...(cpu === undefined ? {} : { cpu }), target, everyRun, ok: meets(value) && (!everyRun || perRound.every(meets)) })
    }
  }
  return ratios
}

export function ratioLines (ratios: Ratio[]): string[] {
  const fmt = (v: number | null): string => v === null ? 'n/a' : v.toFixed(2)
  return ratios.map(r =>
    `ratio ${r.figure} ${r.subject}/${r.baseline} = ${fmt(r.value)}` +
    (r.perRound.length > 1 ? ` (rounds ${r.perRound.map(fmt).join(' ')})` : '') +
    (r.cpu === undefined ? '' : `, CPU ${fmt(r.cpu)}`) +
    (r.target === null ? '' : ` (target <= ${String(r.target)}${r.everyRun ? ' every round' : ''})${r.value === null || r.ok ? '' : '  MISS'}`))
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
    `Written by \`npm run bench\` on ${result.date}: this part, "Method", "Cipher suites" and "Replication"; do not edit those by hand, rerun instead. A run keeps the other sections as they are.`,
    '',
    `- Machine: ${m.nproc} CPUs (${m.cpu}), ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB memory, Linux ${m.kernel}, Node.js ${m.node}`,
    `- Data set: ${result.dataSet.kind}, ${result.dataSet.files} files, ${mib(result.dataSet.bytes)} MiB (day 1)`,
    ...result.runs.map(r => `- ${r.tool}: ${r.version.split('\n')[0]}`),
    '',
    `Each figure is the median of ${result.rounds.length} round${result.rounds.length === 1 ? '' : 's'} (order: ${roundOrders(result).join(' | ')}); restore times include the \`sync\` after the command (median: ${flushNote(result.runs)}).`,
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

function roundOrders (result: BenchResult): string[] {
  const names = result.runs.map(r => r.tool)
  return result.rounds.map((_, i) => (i % 2 === 0 ? names : [...names].reverse()).join(' '))
}

function flushNote (runs: ToolRun[]): string {
  return runs.map(r => `${r.tool} ${phaseOf(r, 'restore')?.flushSeconds?.toFixed(1) ?? '-'} s`).join(', ')
}

/** A page's `## ` sections: the text before the first, then each section from its heading line on. */
function splitSections (page: string): { head: string, sections: Array<{ heading: string, text: string }> } {
  const parts = page.split(/\n(?=## )/)
  const first = parts[0].startsWith('## ') ? 0 : 1
  const head = first === 1 ? parts[0] : ''
  const sections = parts.slice(first).map(text => ({ heading: text.split('\n', 1)[0].trim(), text: text.trimEnd() }))
  return { head: head.trimEnd(), sections }
}

/**
 * `page` with the `## ` sections of `written` put in place of those of the same heading; sections
 * `written` does not have (hand-kept ones: the archive, the simulation, …) are kept where they are,
 * and a new section goes after the last one replaced. When `written` has text before its first
 * heading, that replaces the page's.
 */
export function withSections (page: string, written: string): string {
  const old = splitSections(page)
  const mine = splitSections(written)
  const byHeading = new Map(mine.sections.map(s => [s.heading, s.text]))
  const out: string[] = []
  let insertAt = 0
  for (const s of old.sections) {
    const replaced = byHeading.get(s.heading)
    out.push(replaced ?? s.text)
    if (replaced !== undefined) { byHeading.delete(s.heading); insertAt = out.length }
  }
  out.splice(insertAt, 0, ...byHeading.values())
  const head = mine.head !== '' ? mine.head : old.head
  return [head, ...out].filter(x => x !== '').join('\n\n') + '\n'
}

function phaseOf (run: ToolRun, phase: Phase): PhaseResult | undefined {
  return run.phases.find(p => p.phase === phase)
}

function seconds (run: ToolRun, phase: Phase): number | null {
  const p = phaseOf(run, phase)
  return p?.ok === true ? p.seconds : null
}
