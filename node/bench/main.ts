// `npm run bench`: Cairn against restic and borg, measured in the same run on the same data.
// A benchmark, not a test: it prints figures and ratios and never fails on speed.
// Exit code 1 only when a tool fails a phase or restores something different.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { projectRoot } from '../project-root.ts'
import { prepareDataSet, type DataSet } from './dataset.ts'
import { CommandFailedError, UsageError } from './errors.ts'
import { describeMachine, ensurePackages } from './machine.ts'
import { type BenchResult, computeRatios, markdown, medianRuns, METHOD, notes, ratioLines, textTable, withSections } from './report.ts'
import { runRounds } from './runner.ts'
import { cipherLines, cipherMarkdown, measureCiphers } from './ciphers.ts'
import { measureReplication, replicationLines, replicationMarkdown, type ReplicationBenchResult } from './replication.ts'
import { measure } from './command.ts'
import { measureConcurrency } from './concurrency.ts'
import { measureScale, scaleLines } from './scale.ts'
import { createTools, TOOL_NAMES, type Tool, type ToolName } from './tools.ts'
import { WAN_USAGE, wanMain } from './wan.ts'

const USAGE = `usage: npm run bench -- [options]
  --quick          small data set (~150 MB) for a smoke run instead of the ~2.2 GB reference set
  --only a,b       tools to run, from: ${TOOL_NAMES.join(', ')} (default: all)
  --keep           keep each tool's repository and cache after the run
  --json           print the results as JSON on stdout (the table goes to stderr)
  --prepare        only install the tools and build the data set, then stop
  --replication    only the replication figures: a Cairn store of day 1 (built once, cached) replicated
                   between two node processes, beside a raw libp2p stream; updates that section of the page
  --concurrency    only the one-store-many-clients figures (4 backups at once; a prune beside a backup)
  --repeat N       rounds of every tool's phases, the order reversed every other round (A B, B A, …),
                   and replication runs (each followed by its raw stream run); medians are reported; default 3
  --cold           empty the page cache before every timed command (root only); default: only sync
  --scale          only the scale case (SPEC N4): a synthetic store of 10 million blocks and a tree of
                   2 million files; peak RSS and time of backup, no-change backup, check, prune and
                   replication (node/bench/scale.ts; --scale-blocks N and --scale-files N to change the sizes)
${WAN_USAGE}
env: CAIRN_BENCH_DIR  cache folder for data sets and repositories (default ~/.cache/cairn-bench)
     CAIRN_SCALE_DIR  scratch folder of --scale (default the system's temp folder), removed after the run`

interface Options {
  quick: boolean
  only: ToolName[]
  keep: boolean
  json: boolean
  prepare: boolean
  replicationOnly: boolean
  concurrencyOnly: boolean
  repeat: number
  scale: { blocks: number, files: number } | undefined
  cold: boolean
}

function parseOptions (argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      keep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      prepare: { type: 'boolean', default: false },
      replication: { type: 'boolean', default: false },
      concurrency: { type: 'boolean', default: false },
      repeat: { type: 'string', default: '3' },
      scale: { type: 'boolean', default: false },
      'scale-blocks': { type: 'string', default: '10000000' },
      'scale-files': { type: 'string', default: '2000000' },
      cold: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false }
    },
    strict: true
  })
  if (values.help === true) return null
  const only = values.only === undefined ? [...TOOL_NAMES] : values.only.split(',').map(s => s.trim()).filter(s => s !== '')
  for (const name of only) {
    if (!(TOOL_NAMES as readonly string[]).includes(name)) throw new UsageError(`unknown tool "${name}" in --only; choose from ${TOOL_NAMES.join(', ')}`)
  }
  const repeat = Number(values.repeat)
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 20) throw new UsageError(`--repeat takes a whole number from 1 to 20, not "${values.repeat}"`)
  const scale = values.scale === true ? { blocks: Number(values['scale-blocks']), files: Number(values['scale-files']) } : undefined
  if (scale !== undefined && !(Number.isInteger(scale.blocks) && scale.blocks >= 10 && Number.isInteger(scale.files) && scale.files >= 10)) throw new UsageError('--scale-blocks and --scale-files take whole numbers of at least 10')
  return {
    scale,
    replicationOnly: values.replication === true,
    concurrencyOnly: values.concurrency === true,
    repeat,
    cold: values.cold === true,
    quick: values.quick === true,
    // always the same order, whatever order --only lists them in
    only: TOOL_NAMES.filter(n => only.includes(n)),
    keep: values.keep === true,
    json: values.json === true,
    prepare: values.prepare === true
  }
}

export async function main (argv: string[]): Promise<number> {
  // Replication over a WAN has options of its own (wan.ts).
  if (argv.includes('--wan')) return await wanMain(argv)
  let options: Options | null
  try {
    options = parseOptions(argv)
  } catch (err) {
    console.error(`cairn-bench: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`)
    return 2
  }
  if (options === null) {
    console.log(USAGE)
    return 0
  }
  const log = (line: string): void => { console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`) }
  const repoRoot = projectRoot()
  const dir = process.env.CAIRN_BENCH_DIR ?? join(homedir(), '.cache', 'cairn-bench')
  mkdirSync(dir, { recursive: true })
  const tools = createTools({ repoRoot })
  const selected = options.only.map(n => tools[n])

  if (options.scale !== undefined) {
    const r = await measureScale({ dir: join(process.env.CAIRN_SCALE_DIR ?? tmpdir(), 'cairn-scale'), ...options.scale, readData: true, replication: true, keep: options.keep, log })
    if (options.json) console.log(JSON.stringify({ date: new Date().toISOString(), machine: describeMachine(), scale: r }, null, 2))
    else for (const line of scaleLines(r)) console.log(line)
    return r.steps.some(s => s.error !== undefined) ? 1 : 0
  }
  if (options.concurrencyOnly) {
    const r = await measureConcurrency({ dir, log })
    if (options.json) console.log(JSON.stringify({ date: new Date().toISOString(), machine: describeMachine(), concurrency: r }, null, 2))
    else {
      console.log(`4 backups of ${r.folderMiB} MiB into one store: one after another ${r.sequentialS.toFixed(1)} s, at once ${r.concurrentS.toFixed(1)} s (${(r.concurrentS / r.sequentialS).toFixed(2)}x; target <= 1.2x)`)
      console.log(`full backup of ${2 * r.folderMiB} MiB: alone ${r.backupAloneS.toFixed(1)} s, beside a prune ${r.backupBesidePruneS.toFixed(1)} s (${(r.backupBesidePruneS / r.backupAloneS).toFixed(2)}x; target <= 1.3x); prune ${r.pruneS.toFixed(1)} s (${r.pruneOutput}); check --read-data ${r.checkOk ? 'passed' : 'FAILED'}`)
      for (const f of r.failed) console.log(`FAILED: ${f}`)
    }
    return r.failed.length === 0 && r.checkOk ? 0 : 1
  }
  try {
    // Tools first: the reference data set copies /usr, so installing afterwards would make
    // a data set built on a machine without the tools differ from one built with them.
    await ensurePackages(['time', 'rsync', ...(options.replicationOnly ? [] : selected.flatMap(t => t.packages))], log)
    const dataSet = await prepareDataSet({ dir, scriptsDir: join(repoRoot, '..', 'shared', 'bench'), quick: options.quick, log })
    for (const tool of selected) log(`version: ${(await tool.version()).split('\n')[0]}`)
    if (options.prepare) return 0

    if (options.replicationOnly) return await replicationOnly({ dataSet, tool: tools.cairn, repoRoot, repeat: options.repeat, json: options.json, log })
    for (const line of METHOD) log(line)
    // Cairn's store of the last round is kept until its blocks have been replicated for the mesh figures.
    const rounds = await runRounds(selected, options.repeat, { dataSet, keep: options.keep, keepLast: 'cairn', cold: options.cold, log })
    const runs = medianRuns(rounds)
    rmSync(join(dataSet.root, 'work'), { recursive: true, force: true })
    log('measuring cipher suites')
    const ciphers = measureCiphers(options.quick)
    let replication: ReplicationBenchResult[] = []
    const cairnRepo = join(dataSet.root, 'runs', 'cairn', 'repo')
    if (selected.some(t => t.name === 'cairn')) {
      try {
        replication = await replicationRuns(dataSet, cairnRepo, options.repeat, log)
      } finally {
        if (!options.keep) rmSync(cairnRepo, { recursive: true, force: true })
      }
    }
    const replicationText = replicationLines(replication)

    const result: BenchResult = {
      date: new Date().toISOString(),
      machine: describeMachine(),
      dataSet: { kind: dataSet.kind, files: dataSet.files, bytes: dataSet.bytes },
      method: METHOD,
      rounds,
      runs,
      ratios: computeRatios(runs, rounds)
    }
    const text = [
      '',
      `Cairn benchmark — ${dataSet.kind} data set, ${dataSet.files} files; medians of ${rounds.length} rounds (tool order reversed every other round); sync before every timed command, restore timed with its sync${options.cold ? ', page cache dropped before every timed command' : ''}`,
      '',
      textTable(runs),
      '',
      ...(result.ratios.length === 0 ? ['(no ratios: they need cairn and restic or borg in the same run)'] : ratioLines(result.ratios)),
      '',
      ...notes(runs),
      '',
      ...cipherLines(ciphers),
      '',
      ...replicationText,
      ''
    ].join('\n')
    if (options.json) {
      console.error(text)
      console.log(JSON.stringify({ ...result, ciphers, replication }, null, 2))
    } else {
      console.log(text)
    }
    // only the reference data set's figures belong in the docs; smoke runs stay in the cache
    const page = dataSet.kind === 'full' ? join(repoRoot, 'docs', 'bench.md') : join(dataSet.root, 'bench.md')
    mkdirSync(dirname(page), { recursive: true })
    // The page's other sections (kept by hand: concurrency, simulation, archive, …) stay as they are.
    const before = existsSync(page) ? readFileSync(page, 'utf8') : ''
    writeFileSync(page, withSections(before, markdown(result) + '\n' + cipherMarkdown(ciphers) + (replication.length === 0 ? '' : '\n' + replicationMarkdown(replication))))
    log(`wrote ${page}`)
    return runs.every(r => r.error === undefined && r.restore?.identical === true) ? 0 : 1
  } catch (err) {
    log(`failed: ${err instanceof Error ? err.message : String(err)}`)
    return 1
  }
}

/** Replication runs one after the other, each from a fresh receiving node; a failed run is logged and left out. */
async function replicationRuns (dataSet: DataSet, sourceStore: string, repeat: number, log: (line: string) => void): Promise<ReplicationBenchResult[]> {
  const out: ReplicationBenchResult[] = []
  for (let i = 1; i <= repeat; i++) {
    log(`replication run ${i}/${repeat}: the Cairn store between two node processes, then a raw libp2p stream`)
    const workDir = join(dataSet.root, 'runs', 'replication')
    rmSync(workDir, { recursive: true, force: true })
    try {
      const r = await measureReplication({ workDir, sourceStore })
      log(replicationLines([r])[1])
      out.push(r)
    } catch (err) {
      log(`replication: FAILED — ${err instanceof Error ? err.message : String(err)}`)
    } finally {
      rmSync(workDir, { recursive: true, force: true })
    }
  }
  return out
}

/**
 * `--replication`: only the replication figures. The store replicated is Cairn's backup of day 1,
 * made once (not timed) and kept in the cache; the page's replication section is replaced.
 */
async function replicationOnly (o: { dataSet: DataSet, tool: Tool, repoRoot: string, repeat: number, json: boolean, log: (line: string) => void }): Promise<number> {
  const { dataSet, tool, log } = o
  const home = join(dataSet.root, 'runs', 'replication-source')
  const ws = { repo: join(home, 'repo'), cache: join(home, 'cache'), logs: join(home, 'logs') }
  const done = join(home, 'repo.done')
  if (!existsSync(done)) {
    log(`building the store to replicate: cairn backup of day 1 into ${ws.repo} (once, not timed)`)
    rmSync(home, { recursive: true, force: true })
    mkdirSync(ws.cache, { recursive: true })
    mkdirSync(ws.logs, { recursive: true })
    for (const [name, spec] of [['init', tool.init(ws)], ['backup', tool.backup(ws, dataSet.day1, 'day1')]] as const) {
      const m = await measure(spec, join(ws.logs, name))
      if (m.code !== 0) throw new CommandFailedError(spec.argv, m.code, m.stderrTail)
    }
    writeFileSync(done, new Date().toISOString() + '\n')
  }
  const results = await replicationRuns(dataSet, ws.repo, o.repeat, log)
  const text = replicationLines(results)
  if (o.json) {
    console.error(text.join('\n'))
    console.log(JSON.stringify({ date: new Date().toISOString(), machine: describeMachine(), dataSet: { kind: dataSet.kind, files: dataSet.files, bytes: dataSet.bytes }, replication: results }, null, 2))
  } else {
    console.log(['', ...text, ''].join('\n'))
  }
  const page = dataSet.kind === 'full' ? join(o.repoRoot, 'docs', 'bench.md') : join(dataSet.root, 'bench.md')
  const before = existsSync(page) ? readFileSync(page, 'utf8') : '# Cairn benchmark\n'
  const section = `${replicationMarkdown(results).trimEnd()}\n- (measured on ${new Date().toISOString()} with \`npm run bench -- --replication\`, ${dataSet.kind} data set)\n`
  writeFileSync(page, withSections(before, section))
  log(`wrote the replication section of ${page}`)
  return results.length === o.repeat ? 0 : 1
}
