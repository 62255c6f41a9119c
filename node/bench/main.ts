// `npm run bench`: Cairn against restic and borg, measured in the same run on the same data.
// A benchmark, not a test: it prints figures and ratios and never fails on speed.
// Exit code 1 only when a tool fails a phase or restores something different.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { prepareDataSet } from './dataset.ts'
import { UsageError } from './errors.ts'
import { describeMachine, ensurePackages } from './machine.ts'
import { type BenchResult, computeRatios, markdown, METHOD, notes, ratioLines, textTable } from './report.ts'
import { runTool, type ToolRun } from './runner.ts'
import { cipherLines, cipherMarkdown, measureCiphers } from './ciphers.ts'
import { measureReplication } from './replication.ts'
import type { ReplicationBenchResult } from './replication.ts'
import { createTools, TOOL_NAMES, type ToolName } from './tools.ts'

const USAGE = `usage: npm run bench -- [options]
  --quick          small data set (~150 MB) for a smoke run instead of the ~2.2 GB reference set
  --only a,b       tools to run, from: ${TOOL_NAMES.join(', ')} (default: all)
  --keep           keep each tool's repository and cache after the run
  --json           print the results as JSON on stdout (the table goes to stderr)
  --prepare        only install the tools and build the data set, then stop
env: CAIRN_BENCH_DIR  cache folder for data sets and repositories (default ~/.cache/cairn-bench)`

interface Options {
  quick: boolean
  only: ToolName[]
  keep: boolean
  json: boolean
  prepare: boolean
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
      help: { type: 'boolean', short: 'h', default: false }
    },
    strict: true
  })
  if (values.help === true) return null
  const only = values.only === undefined ? [...TOOL_NAMES] : values.only.split(',').map(s => s.trim()).filter(s => s !== '')
  for (const name of only) {
    if (!(TOOL_NAMES as readonly string[]).includes(name)) throw new UsageError(`unknown tool "${name}" in --only; choose from ${TOOL_NAMES.join(', ')}`)
  }
  return {
    quick: values.quick === true,
    // always the same order, whatever order --only lists them in
    only: TOOL_NAMES.filter(n => only.includes(n)),
    keep: values.keep === true,
    json: values.json === true,
    prepare: values.prepare === true
  }
}

export async function main (argv: string[]): Promise<number> {
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
  const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
  const dir = process.env.CAIRN_BENCH_DIR ?? join(homedir(), '.cache', 'cairn-bench')
  mkdirSync(dir, { recursive: true })
  const tools = createTools({ repoRoot })
  const selected = options.only.map(n => tools[n])

  try {
    // Tools first: the reference data set copies /usr, so installing afterwards would make
    // a data set built on a machine without the tools differ from one built with them.
    await ensurePackages(['time', 'rsync', ...selected.flatMap(t => t.packages)], log)
    const dataSet = await prepareDataSet({ dir, scriptsDir: join(repoRoot, '..', 'shared', 'bench'), quick: options.quick, log })
    for (const tool of selected) log(`version: ${(await tool.version()).split('\n')[0]}`)
    if (options.prepare) return 0

    for (const line of METHOD) log(line)
    const runs: ToolRun[] = []
    // Cairn's store is kept until its blocks have been replicated for the mesh figures.
    for (const tool of selected) runs.push(await runTool(tool, { dataSet, keep: options.keep || tool.name === 'cairn', log }))
    rmSync(join(dataSet.root, 'work'), { recursive: true, force: true })
    log('measuring cipher suites')
    const ciphers = measureCiphers(options.quick)
    let replication: ReplicationBenchResult | undefined
    const cairnRepo = join(dataSet.root, 'runs', 'cairn', 'repo')
    if (selected.some(t => t.name === 'cairn')) {
      log('measuring replication of the Cairn store between two node processes, and a raw libp2p stream')
      const workDir = join(dataSet.root, 'runs', 'replication')
      rmSync(workDir, { recursive: true, force: true })
      try {
        replication = await measureReplication({ workDir, sourceStore: cairnRepo })
      } catch (err) {
        log(`replication: FAILED — ${err instanceof Error ? err.message : String(err)}`)
      } finally {
        rmSync(workDir, { recursive: true, force: true })
        if (!options.keep) rmSync(cairnRepo, { recursive: true, force: true })
      }
    }
    const replicationText = replication === undefined
      ? []
      : [`replication of the store, one node process to another on 127.0.0.1: ${replication.replicationMiBps.toFixed(1)} MiB/s ` +
          `(${(replication.bytes / 2 ** 20).toFixed(0)} MiB, ${replication.blocks} blocks); raw libp2p stream ${replication.rawMiBps.toFixed(1)} MiB/s`,
        `ratio replication/raw libp2p = ${replication.ratio.toFixed(2)} (target >= 0.8)${replication.ratio >= 0.8 ? '' : '  MISS'}; ` +
          `replication ${replication.replicationMiBps.toFixed(0)} MiB/s (target >= 150)${replication.replicationMiBps >= 150 ? '' : '  MISS'}`,
        `peak RSS: sender ${replication.senderPeakRssMiB?.toFixed(0) ?? '?'} MiB, receiver ${replication.receiverPeakRssMiB?.toFixed(0) ?? '?'} MiB`]

    const result: BenchResult = {
      date: new Date().toISOString(),
      machine: describeMachine(),
      dataSet: { kind: dataSet.kind, files: dataSet.files, bytes: dataSet.bytes },
      method: METHOD,
      runs,
      ratios: computeRatios(runs)
    }
    const text = [
      '',
      `Cairn benchmark — ${dataSet.kind} data set, ${dataSet.files} files; phases run in the same order for every tool, page cache not dropped`,
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
    writeFileSync(page, markdown(result) + '\n' + cipherMarkdown(ciphers) +
      (replicationText.length === 0 ? '' : '\n## Replication (mesh)\n\n' + replicationText.map(l => `- ${l}`).join('\n') + '\n'))
    log(`wrote ${page}`)
    return runs.every(r => r.error === undefined && r.restore?.identical === true) ? 0 : 1
  } catch (err) {
    log(`failed: ${err instanceof Error ? err.message : String(err)}`)
    return 1
  }
}
