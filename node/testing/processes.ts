// Node processes for tests and the benchmark, started exactly as users start them: through the
// package's bin (node/bin/cairn.js, its launcher and bundle included). Runs `cairn mesh …`,
// `cairn mesh run` and `cairn serve`, waits for their ready lines, and ends exactly the
// processes it started, by pid.
import { spawn, type ChildProcess } from 'node:child_process'
import { callControl } from '../control/index.ts'
import type { ApiClient } from './daemon.ts'
import { projectRoot } from '../project-root.ts'
import { CAIRN_BIN, runCairn } from '../../chunkstore/testing/index.ts'

const root = projectRoot()
export { CAIRN_BIN }

/** Runs `cairn ARGS` through the bin with `env` over this process's environment (undefined removes a variable). */
export async function cairn (args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number, stdout: string, stderr: string }> {
  const r = await runCairn(args, { env })
  return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr }
}

export async function cli (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return await cairn(['mesh', ...args])
}

export async function cliOk (args: string[]): Promise<string> {
  const r = await cli(args)
  if (r.code !== 0) throw new Error(`cairn mesh ${args[0]} exited ${r.code}: ${r.stderr}`)
  return r.stdout
}

export interface NodeProcess {
  child: ChildProcess
  peer: string
  addrs: string[]
  /** What the store folder is to the node: this site's store, a replica, or a replica made at this start. */
  storeKind: 'store' | 'replica' | 'created'
  meshDir: string
  /** The daemon's stderr so far: one JSON event per line. */
  log: () => string
  control: (op: string, args?: Record<string, unknown>) => Promise<any>
  /** SIGTERM and wait. */
  stop: () => Promise<void>
  /** SIGKILL and wait: a crash. */
  kill: () => Promise<void>
}

/** `cairn mesh run` over `store`; `args` are further options (e.g. `--passphrase-file FILE`), `env` further variables. */
export async function startNode (opts: { meshDir: string, store: string, replicateEverySeconds?: number, args?: string[], env?: Record<string, string> }): Promise<NodeProcess> {
  const child = spawn(process.execPath, [CAIRN_BIN, 'mesh', 'run', '--mesh-dir', opts.meshDir, '--store', opts.store,
    '--replicate-every', String(opts.replicateEverySeconds ?? 3600), ...opts.args ?? []], { cwd: root, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  child.stderr!.on('data', (d) => { log += String(d) })
  const end = ender(child)
  const ready = await new Promise<{ peer: string, addrs: string[], storeKind: NodeProcess['storeKind'] }>((resolve, reject) => {
    let out = ''
    const onData = (d: Buffer): void => {
      out += String(d)
      const line = out.split('\n').find(l => l.startsWith('{"ready"'))
      if (line !== undefined) { child.stdout!.off('data', onData); resolve(JSON.parse(line)) }
    }
    child.stdout!.on('data', onData)
    child.once('exit', (code) => { reject(new Error(`mesh node exited ${String(code)} before it was ready:\n${log}`)) })
  })
  return {
    child,
    ...ready,
    meshDir: opts.meshDir,
    log: () => log,
    control: async (op, args) => await callControl(opts.meshDir, op, args),
    stop: async () => { await end('SIGTERM') },
    kill: async () => { await end('SIGKILL') }
  }
}

/**
 * A head office and a DR site as two `cairn mesh run` processes on 127.0.0.1: `hq` makes the
 * mesh with a policy of two copies, one at role dr (and `policy`, further `cairn mesh policy`
 * options), `dr` joins it; resolves once the head office has replicated everything to the DR
 * site. The caller stops both.
 */
export async function startHeadAndDr (hq: { mesh: string, store: string }, dr: { mesh: string, store: string }, policy: string[] = []): Promise<{ A: NodeProcess, C: NodeProcess }> {
  const listen = '/ip4/127.0.0.1/tcp/0'
  await cliOk(['init', '--mesh-dir', hq.mesh, '--site', 'hq', '--role', 'head', '--listen', listen])
  await cliOk(['policy', '--mesh-dir', hq.mesh, '--copies', '2', '--role', 'dr', ...policy])
  const started: NodeProcess[] = []
  try {
    const A = await startNode({ meshDir: hq.mesh, store: hq.store }); started.push(A)
    await cliOk(['join', (await A.control('invite')).invitation, '--mesh-dir', dr.mesh, '--site', 'dr', '--role', 'dr', '--listen', listen])
    const C = await startNode({ meshDir: dr.mesh, store: dr.store }); started.push(C)
    await until('the head office reaches the DR site', async () => (await A.control('status')).links[0]?.connected === true)
    await until('the DR site holds every snapshot', async () => (await A.control('replicate'))[0]?.snapshotsBehind === 0)
    return { A, C }
  } catch (err) {
    await Promise.all(started.map(async n => { await n.stop() }))
    throw err
  }
}

/** Sends a signal to a child started here (unless it has exited) and waits for its exit; made at spawn, so no exit is missed. */
function ender (child: ChildProcess): (signal: NodeJS.Signals) => Promise<void> {
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  return async (signal) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    await exited
  }
}

export async function until (what: string, fn: () => boolean | Promise<boolean>, tries = 300, everyMs = 100): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await fn()) return
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
  throw new Error(`gave up waiting until ${what}`)
}

export interface ServeProcess {
  child: ChildProcess
  url: string
  dataDir: string
  meshDir: string
  /** stderr so far: operator lines and one JSON mesh event per line. */
  log: () => string
  control: (op: string, args?: Record<string, unknown>) => Promise<any>
  /** SIGTERM and wait. */
  stop: () => Promise<void>
  /** SIGKILL and wait: the site is lost. */
  kill: () => Promise<void>
}

/** `cairn serve` on 127.0.0.1 (plain HTTP, a random port) over `dataDir`, whose mesh is `<dataDir>/mesh`; `args`: further options (e.g. `--test-clock TIME`). */
export async function startServe (opts: { dataDir: string, adminPassword: string, args?: string[] }): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CAIRN_BIN, 'serve', '--listen', '127.0.0.1:0', '--data', opts.dataDir, '--insecure-http', '--replicate-every', '3600', ...opts.args ?? []],
    { cwd: root, env: { ...process.env, CAIRN_ADMIN_PASSWORD: opts.adminPassword }, stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  const end = ender(child)
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      log += String(d)
      const m = /listening on (http:\/\/[\d.:]+)/.exec(log)
      if (m !== null) resolve(m[1])
    })
    child.once('exit', (code) => { reject(new Error(`cairn serve exited ${String(code)} before it listened:\n${log}`)) })
  })
  const meshDir = `${opts.dataDir}/mesh`
  return {
    child,
    url,
    dataDir: opts.dataDir,
    meshDir,
    log: () => log,
    control: async (op, args) => await callControl(meshDir, op, args),
    stop: async () => { await end('SIGTERM') },
    kill: async () => { await end('SIGKILL') }
  }
}

/** Logs a client of a `cairn serve` process in as its admin. */
export async function loginAdmin (c: ApiClient, password: string): Promise<ApiClient> {
  const r = await c.login('admin', password)
  if (r.status !== 200) throw new Error(`admin login at ${c.base}: ${r.status} ${r.text}`)
  return c
}

/**
 * Waits until a job of a `cairn serve` process has recorded its end (endedAt: its after-job step,
 * such as a backup's retention, is done and its task is free again) and returns it as the API shows it.
 */
export async function jobEnd (c: ApiClient, jobId: string): Promise<any> {
  let job: any
  await until(`job ${jobId} ends`, async () => { job = (await c.get(`/api/jobs/${jobId}`)).body; return job.status !== 'running' && job.endedAt !== undefined })
  return job
}
