// The machine the benchmark runs on: installing the Debian packages it needs, and
// describing the hardware for the report.
import { availableParallelism, cpus, release, totalmem } from 'node:os'
import { run, runRaw } from './command.ts'

export interface MachineInfo {
  nproc: number
  cpu: string
  memoryBytes: number
  kernel: string
  node: string
}

export function describeMachine (): MachineInfo {
  return {
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    memoryBytes: totalmem(),
    kernel: release(),
    node: process.version
  }
}

/** Installs the Debian packages that are missing, running `apt-get update` once first. */
export async function ensurePackages (packages: string[], log: (line: string) => void): Promise<void> {
  const missing: string[] = []
  for (const p of new Set(packages)) {
    const r = await runRaw({ argv: ['dpkg-query', '-W', '-f', '${Status}', p] })
    if (!r.stdout.includes('install ok installed')) missing.push(p)
  }
  if (missing.length === 0) return
  log(`installing from Debian: ${missing.join(' ')}`)
  const env = { DEBIAN_FRONTEND: 'noninteractive' }
  await run({ argv: ['apt-get', 'update'], env }, { echo: true })
  await run({ argv: ['apt-get', 'install', '-y', '--no-install-recommends', ...missing], env }, { echo: true })
}
