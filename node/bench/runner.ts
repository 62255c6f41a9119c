// Runs every phase for one tool, in the same order for every tool:
//   init, full backup of day 1, no-change backup, day-2 backup, restore (then verify), check.
// The backed-up path is the same folder for all phases and tools (`<root>/work`): a fresh
// `cp -a` of day 1, turned into day 2 with `rsync -a --delete`, so unchanged files keep
// their inodes and times as on a real second day and every tool's parent/files cache applies.
// Copies, rsync and verification are not timed. Before every timed command every dirty page
// is written to disk (`sync`, not timed), and the restore is timed up to the end of a `sync`
// after it: a restore is done when its files are on disk, whichever tool wrote them (see
// METHOD in report.ts for why).
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { type CommandSpec, diskUsage, dropCaches, flushAll, measure, run } from './command.ts'
import type { DataSet } from './dataset.ts'
import { PhaseFailedError } from './errors.ts'
import { locateRestored, type Tool, type ToolName, type Workspace } from './tools.ts'
import { type RestoreVerdict, verifyRestore } from './verify.ts'

export const PHASES = ['full', 'no-change', 'day-2', 'restore', 'check'] as const
export type Phase = typeof PHASES[number]

export interface PhaseResult {
  phase: Phase
  ok: boolean
  seconds: number
  maxRssKiB: number | null
  /** User + system CPU seconds of the command (not of the sync after a restore). */
  cpuSeconds?: number | null
  /** Repository size (`du -sb`) after a backup phase; null for the others. */
  storedBytes: number | null
  /** For the restore: the seconds of the `sync` after the command, included in `seconds`. */
  flushSeconds?: number
  error?: string
  /** What the tool printed on stdout, parsed, when it printed JSON (Cairn's --json). */
  report?: unknown
}

export interface ToolRun {
  tool: ToolName
  version: string
  phases: PhaseResult[]
  restore: RestoreVerdict | null
  /** Set when the run stopped early; phases after the failing one are absent. */
  error?: string
}

export interface RunnerInit {
  dataSet: DataSet
  /** Keep the repository and cache after the run. */
  keep: boolean
  /** Empty the page cache before each timed command (root only), instead of only writing it back. */
  cold?: boolean
  log: (line: string) => void
}

export async function runTool (tool: Tool, init: RunnerInit): Promise<ToolRun> {
  const { dataSet, log } = init
  const home = join(dataSet.root, 'runs', tool.name)
  const ws: Workspace = { repo: join(home, 'repo'), cache: join(home, 'cache'), logs: join(home, 'logs') }
  const work = join(dataSet.root, 'work')
  const restoreTarget = join(home, 'restore')
  rmSync(home, { recursive: true, force: true })
  mkdirSync(ws.cache, { recursive: true })
  mkdirSync(ws.logs, { recursive: true })

  const result: ToolRun = { tool: tool.name, version: await tool.version(), phases: [], restore: null }
  log(`${tool.name}: ${result.version}; workspace ${home}`)
  log(`${tool.name}: preparing ${work} (cp -a day1, not timed)`)
  rmSync(work, { recursive: true, force: true })
  await run({ argv: ['cp', '-a', dataSet.day1, work] })

  const step = async (name: string, spec: CommandSpec, flushAfter = false): Promise<{ seconds: number, flushSeconds?: number, maxRssKiB: number | null, cpuSeconds: number | null, report?: unknown }> => {
    if (init.cold === true) await dropCaches(); else await flushAll()
    const m = await measure(spec, join(ws.logs, name))
    if (m.code !== 0) {
      throw new PhaseFailedError(`${tool.name} ${name} exited with ${m.code} (logs: ${join(ws.logs, name)}.{out,err})${m.stderrTail === '' ? '' : `\n${m.stderrTail}`}`)
    }
    const flushSeconds = flushAfter ? await flushAll() : undefined
    return { seconds: m.seconds + (flushSeconds ?? 0), ...(flushSeconds === undefined ? {} : { flushSeconds }), maxRssKiB: m.maxRssKiB, cpuSeconds: m.cpuSeconds, report: parseJson(m.stdout) }
  }
  const phase = async (p: Phase, spec: CommandSpec, stored: boolean): Promise<void> => {
    log(`${tool.name}: ${p} …`)
    try {
      const m = await step(p, spec, p === 'restore')
      const storedBytes = stored ? await diskUsage(ws.repo) : null
      result.phases.push({ phase: p, ok: true, ...m, storedBytes })
      log(`${tool.name}: ${p} ${m.seconds.toFixed(1)} s, CPU ${m.cpuSeconds?.toFixed(1) ?? '?'} s${m.flushSeconds === undefined ? '' : ` (of which the sync after it ${m.flushSeconds.toFixed(1)} s)`}, peak RSS ${mib(m.maxRssKiB === null ? null : m.maxRssKiB * 1024)} MiB` +
        (storedBytes === null ? '' : `, repository ${mib(storedBytes)} MiB`))
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err)
      result.phases.push({ phase: p, ok: false, seconds: 0, maxRssKiB: null, storedBytes: null, error: message })
      throw err
    }
  }

  try {
    log(`${tool.name}: init …`)
    await step('init', tool.init(ws))
    await phase('full', tool.backup(ws, work, 'day1'), true)
    await phase('no-change', tool.backup(ws, work, 'day1-again'), true)
    log(`${tool.name}: turning ${work} into day 2 (rsync -a --delete, not timed)`)
    await run({ argv: ['rsync', '-a', '--delete', `${dataSet.day2}/`, `${work}/`] })
    await phase('day-2', tool.backup(ws, work, 'day2'), true)
    rmSync(restoreTarget, { recursive: true, force: true })
    mkdirSync(restoreTarget)
    await phase('restore', tool.restore(ws, restoreTarget, 'day2'), false)
    log(`${tool.name}: verifying the restore against ${work} (not timed)`)
    result.restore = await verifyRestore(work, locateRestored(restoreTarget, work))
    rmSync(restoreTarget, { recursive: true, force: true })
    log(`${tool.name}: restore ${result.restore.identical ? 'identical' : 'DIFFERS'}` +
      `, ${result.restore.metadataMismatches} metadata mismatches${result.restore.metadataExamples.length === 0 ? '' : ` (${result.restore.metadataExamples.join('; ')})`}`)
    if (!result.restore.identical) log(result.restore.differences)
    await phase('check', tool.check(ws), false)
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err)
    log(`${tool.name}: FAILED — ${result.error}`)
  } finally {
    rmSync(restoreTarget, { recursive: true, force: true })
    if (!init.keep) {
      rmSync(ws.repo, { recursive: true, force: true })
      rmSync(ws.cache, { recursive: true, force: true })
    }
  }
  return result
}

/**
 * `rounds` runs of every tool, the order reversed every other round (A B, B A, A B …, with
 * three tools A B C, C B A, A B C …): a machine that slows down or speeds up during the bench
 * weighs on every tool alike, and the medians of the rounds are what the report compares.
 */
export async function runRounds (tools: Tool[], rounds: number, init: RunnerInit & { keepLast?: ToolName }): Promise<ToolRun[][]> {
  const out: ToolRun[][] = []
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? tools : [...tools].reverse()
    init.log(`round ${round + 1}/${rounds}: ${order.map(t => t.name).join(', ')}`)
    const runs: ToolRun[] = []
    for (const tool of order) runs.push(await runTool(tool, { ...init, keep: init.keep || (tool.name === init.keepLast && round === rounds - 1) }))
    // every round lists the tools in the same order, whatever order they ran in
    out.push(tools.map(t => runs.find(r => r.tool === t.name)!))
  }
  return out
}

function parseJson (stdout: string): unknown {
  const text = stdout.trim()
  if (!text.startsWith('{') && !text.startsWith('[')) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

export function mib (bytes: number | null): string {
  return bytes === null ? '-' : (bytes / 2 ** 20).toFixed(1)
}
