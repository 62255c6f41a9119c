// `cairn sim …`: the capacity planner on the command line (F28).
//   cairn sim run SCENARIO [--html FILE] [--json]      simulate; summary, HTML report or JSON
//   cairn sim calibrate --sample DIR [--mesh] [--out F] measure this machine into a profile
//   cairn sim from-mesh [--mesh-dir DIR] [--out F]       a scenario from a running node's mesh
//   cairn sim schema                                     the scenario file's JSON Schema
import { readFile, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { cpus, hostname } from 'node:os'
import { join } from 'node:path'
import { InvalidArgumentError, type Command } from 'commander'
import type { MeshFacts } from '../node/index.ts'
import { InvalidOptionError } from '../chunkstore/index.ts'
import { readProfile, type Profile } from './profile.ts'

const out = (s: string): void => { process.stdout.write(s.endsWith('\n') ? s : s + '\n') }
const say = (s: string): void => { process.stderr.write(`cairn: ${s}\n`) }

function level (s: string): number {
  if (s === 'off') return 0
  const n = Number(s)
  if (!Number.isInteger(n) || n < -7 || n > 19) throw new InvalidArgumentError('use off, 1…19, or a fast level -7…-1')
  return n
}

function positive (s: string): number {
  const n = Number(s)
  if (!(n > 0)) throw new InvalidArgumentError('must be a number above 0')
  return n
}

function dataHome (): string {
  return process.env.XDG_DATA_HOME ?? join(process.env.HOME ?? '.', '.local', 'share')
}

export function registerSimCommand (program: Command): void {
  const sim = program.command('sim').description('capacity planning (F28): simulate sites, data, schedules, retention and links over days to years')

  sim.command('run')
    .description('simulate a scenario (YAML or JSON): a summary on the terminal, --html for a report with charts, --json for scripts')
    .argument('<scenario>', 'scenario file (cairn sim schema describes it; sim/examples has one)')
    .option('--html <file>', 'also write a self-contained HTML report with charts (opens without a server)')
    .option('--json', 'print the whole report as JSON instead of the summary')
    .action(async (file: string, o: { html?: string, json?: boolean }) => {
      const text = await readFile(file, 'utf8')
      const { runScenario } = await import('./run.ts')
      const { measureSample } = await import('./calibrate-sample.ts')
      const report = await runScenario(text, { file, allowFiles: true, measureSample: async folder => { say(`measuring sample ${folder}`); return await measureSample(folder) } })
      if (o.html !== undefined) {
        const { htmlReport } = await import('./html-report.ts')
        await writeFile(o.html, htmlReport(report))
      }
      if (o.json === true) out(JSON.stringify(report, null, 2))
      else {
        const { summarise } = await import('./summary.ts')
        out(summarise(report))
        if (o.html !== undefined) out(`report with charts: ${o.html}`)
      }
    })

  sim.command('calibrate')
    .description('measure this machine into a profile a scenario names: the real chunker, dedup, compression and sealing on a sample folder, and replication between two node processes')
    .option('--sample <dir>', 'a folder of data like the data set\'s (only read)')
    .option('--compression <level>', 'zstd level to measure with: off, 1…19, -7…-1 (a task\'s default is off)', level)
    .option('--mesh', 'also measure replication: two `cairn mesh run` processes on 127.0.0.1')
    .option('--mesh-mib <n>', 'MiB of large blocks the mesh calibration moves', positive, 256)
    .option('--mesh-small-blocks <n>', 'small (4 KiB) blocks it moves', positive, 20_000)
    .option('--out <file>', 'profile to write (parts not measured now are kept from it)', 'cairn-profile.json')
    .option('--json', 'print the profile as JSON')
    .action(async (o: { sample?: string, compression?: number, mesh?: boolean, meshMib: number, meshSmallBlocks: number, out: string, json?: boolean }) => {
      if (o.sample === undefined && o.mesh !== true) throw new InvalidOptionError('Say what to measure: --sample DIR and/or --mesh')
      const base: Profile = existsSync(o.out)
        ? readProfile(o.out)
        : { format: 'cairn-sim-profile', version: 1, measuredAt: '', host: { name: '', cpus: 0, cpuModel: '', node: '' } }
      const profile: Profile = { ...base, measuredAt: new Date().toISOString(), host: { name: hostname(), cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', node: process.version } }
      if (o.sample !== undefined) {
        say(`measuring ${o.sample} with the real data path (three backups into a throwaway store)`)
        const { measureSample } = await import('./calibrate-sample.ts')
        profile.sample = await measureSample(o.sample, { compression: o.compression })
      }
      if (o.mesh === true) {
        say('measuring replication between two node processes on 127.0.0.1')
        const { measureMesh } = await import('./calibrate-mesh.ts')
        profile.mesh = await measureMesh({ largeMiB: o.meshMib, smallBlocks: o.meshSmallBlocks, onStep: s => { say(`  ${s}`) } })
      }
      await writeFile(o.out, JSON.stringify(profile, null, 2) + '\n')
      if (o.json === true) out(JSON.stringify(profile, null, 2))
      else {
        const { formatBytes } = await import('./units.ts')
        if (profile.sample !== undefined) {
          const s = profile.sample
          out(`sample ${s.folder}: ${formatBytes(s.bytes)} in ${s.files} files; dedup removes ${(s.duplication * 100).toFixed(1)} %, stored at ${(s.compressibility * 100).toFixed(1)} % of the unique bytes (zstd ${s.compression}); ${s.blocks} blocks of ${formatBytes(s.avgBlockBytes)} on average`)
          out(`  new data ${formatBytes(s.newBytesPerSecond)}/s, re-read ${formatBytes(s.rereadBytesPerSecond)}/s, unchanged files ${Math.round(s.statFilesPerSecond)}/s`)
        }
        if (profile.mesh !== undefined) {
          const m = profile.mesh
          out(`replication: ${formatBytes(m.bytesPerSecond)}/s, ${(m.secondsPerBlockSent * 1e6).toFixed(1)} µs per block sent, ${(m.secondsPerBlockOffered * 1e6).toFixed(2)} µs per block offered, ${(m.secondsPerRun * 1000).toFixed(0)} ms per run`)
        }
        out(`profile written to ${o.out}; name it in a scenario: profile: ${o.out}`)
      }
    })

  sim.command('from-mesh')
    .description('write a scenario from a running node (cairn serve) and its mesh: sites, roles, spaces, tasks and their history, policies, bandwidth; estimates marked')
    .option('--mesh-dir <dir>', 'the node\'s mesh folder (its control socket); default <data>/mesh of cairn serve', join(process.env.CAIRN_DATA ?? join(dataHome(), 'cairn', 'node'), 'mesh'))
    .option('--facts <file>', 'read the facts from a file (GET /api/planning/scenario gives the scenario itself)')
    .option('--horizon <span>', 'horizon of the scenario: 90d, 1y, 5y', '1y')
    .option('--out <file>', 'write the scenario here instead of stdout')
    .action(async (o: { meshDir: string, facts?: string, horizon: string, out?: string }) => {
      const facts = o.facts !== undefined ? JSON.parse(await readFile(o.facts, 'utf8')) as MeshFacts : await (await import('../node/index.ts')).callControl(o.meshDir, 'planning-facts') as MeshFacts
      const { scenarioFromFacts } = await import('./from-mesh.ts')
      const text = scenarioFromFacts(facts, { horizon: o.horizon })
      if (o.out !== undefined) { await writeFile(o.out, text); out(`scenario written to ${o.out}; edit it, then: cairn sim run ${o.out}`) } else out(text)
    })

  sim.command('schema')
    .description('print the JSON Schema of a scenario file')
    .action(async () => {
      const { SCENARIO_SCHEMA } = await import('./scenario-schema.ts')
      out(JSON.stringify(SCENARIO_SCHEMA, null, 2))
    })
}
