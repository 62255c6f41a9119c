// The simulation's speed benchmark (F28; `npm run bench:sim`, not a test): generated meshes of
// branch offices (generate.ts) at one-hour resolution, 100 sites over 5 years and 1,000 sites over
// one year, each run as `cairn sim run` runs it (parse, check, simulate, report). Wall time is the
// figure the issue sets targets for; CPU time (user + system of this process during the run) is
// printed beside it because other engineers' test suites share this 2-core machine, and the load
// average says how much. Writes its section of docs/bench.md. With --accuracy, the larger version
// of sim/accuracy.test.ts: three `cairn serve` daemons through the bin for ten stepped days.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { stringify } from 'yaml'
import { runScenario } from '../run.ts'
import { generatedScenario } from './generate.ts'
import { relativeError, runAccuracy } from '../testing/index.ts'

export const HEADING = '## Capacity-planning simulation (`npm run bench:sim`)'

interface Case { sites: number, horizon: string, targetSeconds: number }
const CASES: Case[] = [
  { sites: 100, horizon: '5y', targetSeconds: 10 },
  { sites: 1000, horizon: '1y', targetSeconds: 60 }
]

export interface SpeedResult extends Case { wallSeconds: number, cpuSeconds: number, events: number, engineSeconds: number, load: number, findings: number }

export async function measure (c: Case): Promise<SpeedResult> {
  const text = stringify(generatedScenario(c.sites, c.horizon, '1h'))
  const load = loadavg()[0]
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  const r = await runScenario(text, { file: `${c.sites}-sites.yaml` })
  const wall = (performance.now() - t0) / 1000
  const used = process.cpuUsage(cpu)
  return { ...c, wallSeconds: wall, cpuSeconds: (used.user + used.system) / 1e6, events: r.events, engineSeconds: r.elapsedMs / 1000, load, findings: r.findings.length }
}

export interface AccuracyFigures { days: number, storedWorst: number, lagWorst: number, points: number, seconds: number }

/** The accuracy check at a larger size: the worst relative error on stored bytes (per site and day) and on lag (mean and max per copy). */
export async function accuracy (days: number): Promise<AccuracyFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-sim-bench-accuracy-'))
  const t0 = performance.now()
  try {
    const r = await runAccuracy({
      workDir: dir, days, files: { hq: 1200, branch: 600 }, fileBytes: 64 * 1024, change: 0.08, newFiles: { hq: 30, branch: 15 }, keep: { hq: 4, branch: 5 }, windowMibps: 4 / 1024,
      log: line => { console.log(`  ${line}`) }
    })
    const stored = r.stored.map(x => relativeError(x.sim, x.real.own + x.real.replica))
    for (const x of r.stored) console.log(`  ${x.site} day ${x.day}: stored ${x.real.own + x.real.replica} (own ${x.real.own}, replica ${x.real.replica}), simulated ${Math.round(x.sim)}: ${(relativeError(x.sim, x.real.own + x.real.replica) * 100).toFixed(1)} %`)
    for (const l of r.lags) console.log(`  ${l.origin} → ${l.target}: arrived ${l.real.arrived}/${l.sim.arrived}, mean lag ${l.real.meanHours.toFixed(2)}/${l.sim.meanHours.toFixed(2)} h, max ${l.real.maxHours.toFixed(2)}/${l.sim.maxHours.toFixed(2)} h (real/simulated)`)
    const lag = r.lags.flatMap(l => [l.real.meanHours === 0 ? 0 : relativeError(l.sim.meanHours, l.real.meanHours), l.real.maxHours === 0 ? 0 : relativeError(l.sim.maxHours, l.real.maxHours)])
    return { days, storedWorst: Math.max(...stored), lagWorst: Math.max(...lag), points: stored.length, seconds: (performance.now() - t0) / 1000 }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export function markdown (results: SpeedResult[], at: Date, acc?: AccuracyFigures): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown'
  const lines = [
    HEADING,
    '',
    `Measured ${at.toISOString()} on ${availableParallelism()} CPUs (${cpu}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node.js ${process.version}. Generated meshes (sim/bench/generate.ts): a head office, one DR site per 25 sites, the rest branch offices with one or two data sets each, daily and weekly backups, retention with prune, policies to the DR sites, bandwidth windows on branch links; one-hour resolution. Wall time from scenario text to report, as \`cairn sim run\` spends it; CPU is this process's user + system time in the same span, and the load average (1 min, at the start) says how many other processes shared the 2 cores.`,
    '',
    '| scenario | events | wall s | CPU s | load | target (wall) |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
    ...results.map(r => `| ${r.sites} sites × ${r.horizon} | ${r.events} | ${r.wallSeconds.toFixed(1)} | ${r.cpuSeconds.toFixed(1)} | ${r.load.toFixed(1)} | < ${r.targetSeconds} s ${r.wallSeconds < r.targetSeconds ? 'met' : 'MISS'}${r.cpuSeconds < r.targetSeconds && r.wallSeconds >= r.targetSeconds ? ' (met in CPU time)' : ''} |`),
    ''
  ]
  if (acc !== undefined) {
    lines.push(`Accuracy at a larger size (\`npm run bench:sim -- --accuracy\`): three \`cairn serve\` daemons through the bin, ${acc.days} stepped days, 1,200 and 600 files of 64 KiB rewritten 8 % a day; worst error of the simulation on stored bytes ${(acc.storedWorst * 100).toFixed(1)} % over ${acc.points} site-days, on lag (mean and longest per copy) ${(acc.lagWorst * 100).toFixed(1)} % (target ≤ 10 %); ${acc.seconds.toFixed(0)} s.`, '')
  }
  return lines.join('\n')
}

/** Puts `section` in place of the page's section under HEADING, or at its end. */
export function withSection (page: string, section: string): string {
  const at = page.indexOf(HEADING)
  if (at < 0) return `${page.trimEnd()}\n\n${section}`
  const next = page.indexOf('\n## ', at + HEADING.length)
  return page.slice(0, at) + section + (next < 0 ? '' : page.slice(next + 1))
}

export async function main (argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { write: { type: 'boolean', default: false }, only: { type: 'string' }, accuracy: { type: 'boolean', default: false }, days: { type: 'string', default: '10' } } })
  const results: SpeedResult[] = []
  for (const c of CASES) {
    if (values.only !== undefined && values.only !== String(c.sites)) continue
    const r = await measure(c)
    console.log(`${r.sites} sites × ${r.horizon}: ${r.events} events, wall ${r.wallSeconds.toFixed(1)} s (engine ${r.engineSeconds.toFixed(1)} s), CPU ${r.cpuSeconds.toFixed(1)} s, load ${r.load.toFixed(1)}; target < ${r.targetSeconds} s ${r.wallSeconds < r.targetSeconds ? 'met' : 'MISSED'}`)
    results.push(r)
  }
  let acc: AccuracyFigures | undefined
  if (values.accuracy === true) {
    acc = await accuracy(Number(values.days))
    console.log(`accuracy over ${acc.days} days: stored bytes worst ${(acc.storedWorst * 100).toFixed(1)} % (${acc.points} site-days), lag worst ${(acc.lagWorst * 100).toFixed(1)} %; ${acc.seconds.toFixed(0)} s`)
  }
  if (values.write === true) {
    const page = fileURLToPath(new URL('../../docs/bench.md', import.meta.url))
    writeFileSync(page, withSection(readFileSync(page, 'utf8'), markdown(results, new Date(), acc)))
    console.log(`wrote the simulation section of ${page}`)
  }
  return 0
}
