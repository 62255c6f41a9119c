// Running external commands for the benchmark: plain runs for setup steps (copies, apt,
// du) and measured runs for the phases being compared, timed and sized the same way for
// every tool.
import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { CommandFailedError } from './errors.ts'

export interface CommandSpec {
  argv: string[]
  cwd?: string
  env?: Record<string, string>
}

export interface RunOptions {
  /** Pass the child's stdout and stderr through to our stderr instead of capturing them. */
  echo?: boolean
}

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs a command to completion; rejects with CommandFailedError on a non-zero exit. */
export async function run (spec: CommandSpec, options: RunOptions = {}): Promise<RunResult> {
  const r = await runRaw(spec, options)
  if (r.code !== 0) throw new CommandFailedError(spec.argv, r.code, tail(r.stderr))
  return r
}

/** Runs a command to completion and reports its exit code instead of throwing. */
export async function runRaw (spec: CommandSpec, options: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = spec.argv
  return await new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', options.echo === true ? process.stderr : 'pipe', options.echo === true ? process.stderr : 'pipe']
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout?.on('data', (b: Buffer) => out.push(b))
    child.stderr?.on('data', (b: Buffer) => err.push(b))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      resolve({
        code: code ?? (signal === null ? 1 : 128),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8')
      })
    })
  })
}

export interface Measurement {
  code: number
  /** Wall-clock seconds, measured around the child. */
  seconds: number
  /** Peak resident set size of the child in KiB, as reported by GNU time (rusage ru_maxrss). */
  maxRssKiB: number | null
  /** User plus system CPU seconds of the child and its threads (GNU time); a busy machine changes it less than wall time. */
  cpuSeconds: number | null
  stdout: string
  stderrTail: string
}

/**
 * Runs one benchmarked command under GNU time, with stdout and stderr written to
 * `logBase.out` / `logBase.err` so that a chatty tool pays no more for its output than a
 * quiet one.
 */
export async function measure (spec: CommandSpec, logBase: string, onSpawn?: (timePid: number | undefined) => void): Promise<Measurement> {
  const timeFile = `${logBase}.time`
  const outPath = `${logBase}.out`
  const errPath = `${logBase}.err`
  rmSync(timeFile, { force: true })
  const outFd = openSync(outPath, 'w')
  const errFd = openSync(errPath, 'w')
  const argv = ['/usr/bin/time', '-f', '%e %M %U %S', '-o', timeFile, '--', ...spec.argv]
  const started = process.hrtime.bigint()
  let code: number
  try {
    code = await new Promise<number>((resolve, reject) => {
      const child = spawn(argv[0], argv.slice(1), {
        cwd: spec.cwd,
        env: { ...process.env, ...spec.env },
        stdio: ['ignore', outFd, errFd]
      })
      child.on('error', reject)
      child.on('close', (c, signal) => resolve(c ?? (signal === null ? 1 : 128)))
      onSpawn?.(child.pid)
    })
  } finally {
    closeSync(outFd)
    closeSync(errFd)
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return {
    code,
    seconds,
    ...readTimeFile(timeFile),
    stdout: readFileSync(outPath, 'utf8'),
    stderrTail: tail(readFileSync(errPath, 'utf8'))
  }
}

// GNU time writes "Command exited with non-zero status N" before the format line on failure.
function readTimeFile (timeFile: string): { maxRssKiB: number | null, cpuSeconds: number | null } {
  let text: string
  try {
    text = readFileSync(timeFile, 'utf8')
  } catch {
    return { maxRssKiB: null, cpuSeconds: null }
  }
  const last = text.trim().split('\n').pop() ?? ''
  const m = /^([\d.]+) (\d+) ([\d.]+) ([\d.]+)$/.exec(last.trim())
  return m === null ? { maxRssKiB: null, cpuSeconds: null } : { maxRssKiB: Number(m[2]), cpuSeconds: Number(m[3]) + Number(m[4]) }
}

/** Bytes under a folder, as `du -sb` counts them (apparent sizes, hard links once). */
export async function diskUsage (dir: string): Promise<number> {
  const r = await run({ argv: ['du', '-sb', dir] })
  return Number(r.stdout.split('\t')[0])
}

export function tail (text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n')
}

/**
 * Writes every dirty page of every file system to disk (`sync`) and returns the seconds it took.
 * Called before each timed command, so that no command pays for the write-back of what an
 * earlier step wrote (a copy, an rsync, another tool's repository or restore).
 */
export async function flushAll (): Promise<number> {
  const started = process.hrtime.bigint()
  await run({ argv: ['sync'] })
  return Number(process.hrtime.bigint() - started) / 1e9
}

/** Empties the page cache, dentries and inodes (`echo 3 > /proc/sys/vm/drop_caches`, root only), after a sync. */
export async function dropCaches (): Promise<void> {
  await flushAll()
  writeFileSync('/proc/sys/vm/drop_caches', '3\n')
}
