import { join, resolve } from 'node:path'
import { readFile } from 'node:fs/promises'
import { Option, type Command } from 'commander'
import { initRepository, InvalidOptionError, openRepository, openRepositoryOver } from '../../chunkstore/index.ts'
import { dataHome } from './store-options.ts'
import { ANNOUNCE_HELP, parseAnnounce } from './announce-option.ts'
import { eventLines } from './event-lines.ts'
import type { RepositoryOpener } from '../jobs/index.ts'
import { startWatchdog, stopWithin } from './watchdog.ts'
import { manualClock } from '../clock/index.ts'
import type { CapacityPlanner } from '../api/index.ts'

/** The data path the daemon's jobs use: chunkstore's stores, one per user space. */
export function chunkstoreOpener (): RepositoryOpener {
  return { open: openRepository, init: initRepository, over: openRepositoryOver }
}

export function parseListen (s: string): { host: string, port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s)
  if (m === null || Number(m[3]) > 65535) throw new InvalidOptionError(`--listen ${s}: use HOST:PORT, e.g. 127.0.0.1:8443 or [::1]:8443`)
  return { host: m[1] ?? m[2], port: Number(m[3]) }
}

/** How long a stop may take before the process ends anyway, and how long the event loop may stall. */
export const STOP_GRACE_MS = 30_000
export const STALL_LIMIT_MS = 60_000

/**
 * Waits for SIGTERM or SIGINT, then stops the daemon (a failed stop sets exit code 1). A stop
 * that has not finished after `graceMs` (a job ignoring its abort) ends the process with exit
 * code 1, and so does a second signal.
 */
export async function untilSignalled (daemon: { stop: () => Promise<void>, runner?: { running: () => Array<{ name: string }> } }, announce: (signal: string) => void, graceMs = STOP_GRACE_MS): Promise<void> {
  await new Promise<void>(done => {
    const stop = (signal: string): void => {
      announce(signal)
      process.once(signal === 'SIGTERM' ? 'SIGINT' : 'SIGTERM', () => { process.stderr.write('cairn: second signal: exiting without waiting\n'); process.exit(1) })
      stopWithin(async () => { await daemon.stop() }, graceMs, () => daemon.runner?.running().map(j => j.name) ?? [])
        .then(done, (err: unknown) => { process.stderr.write(`cairn: stop failed: ${String(err)}\n`); process.exitCode = 1; done() })
    }
    process.once('SIGTERM', () => { stop('SIGTERM') })
    process.once('SIGINT', () => { stop('SIGINT') })
  })
}

/** `cairn serve`: runs the node daemon until SIGTERM/SIGINT. */
export function registerServeCommand (program: Command, parts: { planner?: () => Promise<CapacityPlanner> } = {}): void {
  program.command('serve')
    .description('run the node daemon: state, scheduler, jobs, the HTTPS API and web console and, with mesh state, the mesh node; events on stderr: sentences on a terminal, JSON lines with --json or in a pipe')
    .option('--listen <host:port>', 'address of the API', '127.0.0.1:8443')
    .option('--data <dir>', 'node data directory (state, stores, TLS certificate); default $CAIRN_DATA or <data home>/node', process.env.CAIRN_DATA ?? join(dataHome(), 'node'))
    .option('--insecure-http', 'serve plain HTTP instead of HTTPS (loopback addresses only)', false)
    .option('--admin-password-file <file>', 'password of the first admin, on first start (else a random one is written to <data>/initial-admin-password)')
    .option('--mesh-dir <dir>', 'mesh state folder (cairn mesh init|join); default <data>/mesh, used when it holds mesh state')
    .option('--replicate-every <seconds>', 'replicate to the mesh at least this often', '30')
    .option('--announce <multiaddr>', `mesh: ${ANNOUNCE_HELP}; for this run, in place of those given at cairn mesh init or join`, (v: string, prev: string[] = []) => [...prev, v])
    .option('--audit-key-file <file>', 'the audit trail\'s HMAC key, made at first start; default <data>/audit.key (keep it apart from the data)')
    .option('--json', 'print events as JSON lines (the default when stderr is not a terminal)')
    // Tests and the capacity-planning accuracy check (sim/) run several daemons on one stepped
    // time: the clock starts here and moves only when the control socket's `clock-set` says so.
    .addOption(new Option('--test-clock <iso-time>', 'a manual clock starting at this time, stepped over the control socket').hideHelp())
    .action(async (opts: { listen: string, data: string, insecureHttp: boolean, adminPasswordFile?: string, meshDir?: string, replicateEvery: string, announce?: string[], auditKeyFile?: string, json?: boolean, testClock?: string }) => {
      const lines = eventLines({ json: opts.json })
      const { host, port } = parseListen(opts.listen)
      const announce = await parseAnnounce(opts.announce)
      const replicateEvery = Number(opts.replicateEvery)
      if (!(replicateEvery >= 1)) throw new InvalidOptionError(`--replicate-every ${opts.replicateEvery}: give a number of seconds, at least 1`)
      const adminPassword = opts.adminPasswordFile !== undefined ? (await readFile(opts.adminPasswordFile, 'utf8')).trim() : process.env.CAIRN_ADMIN_PASSWORD
      // The daemon's modules (fastify, mail, spreadsheets) load only for `serve`.
      const { startDaemon } = await import('../daemon/index.ts')
      const testClock = opts.testClock === undefined ? undefined : new Date(opts.testClock)
      if (testClock !== undefined && Number.isNaN(testClock.getTime())) throw new InvalidOptionError(`--test-clock ${opts.testClock}: give an ISO time`)
      const daemon = await startDaemon({
        ...(testClock !== undefined ? { clock: manualClock(testClock), clockControl: true } : {}),
        dataDir: resolve(opts.data), host, port, insecureHttp: opts.insecureHttp, adminPassword,
        auditKeyFile: opts.auditKeyFile === undefined ? undefined : resolve(opts.auditKeyFile),
        repositories: chunkstoreOpener(),
        planner: await parts.planner?.(),
        mesh: {
          dir: opts.meshDir === undefined ? undefined : resolve(opts.meshDir),
          replicateEveryMs: replicateEvery * 1000,
          announce,
          log: lines.event
        },
        say: lines.say
      })
      // The event loop must never stall; if it does anyway, SIGTERM cannot be seen, so a thread ends the node.
      const watchdog = startWatchdog({ stallMs: STALL_LIMIT_MS })
      await untilSignalled(daemon, signal => { lines.say(`${signal}: stopping (running jobs record their end)`) })
      await watchdog.stop()
    })
}
