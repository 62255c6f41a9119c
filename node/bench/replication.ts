// Replication throughput for `npm run bench` (issue 4): one mesh node process replicates a
// store's blocks to another on 127.0.0.1, next to the raw libp2p stream throughput of an
// idle sender/receiver pair measured in the same run, as a ratio. Also the peak memory of
// both node processes, to show it stays bounded, and the CPU time each side spent per GiB
// (user + system, all threads), which a machine shared with other work changes far less
// than it changes MiB/s. A measurement, never a test.
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { projectRoot } from '../project-root.ts'
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { createMeshGater, createMeshHost, sendWithBackpressure } from '../../bootstrap/index.ts'
import { cliOk, makeRandomStore, startNode, startWanLink, until, type WanLink, type WanLinkInit } from '../testing/index.ts'
import { PhaseFailedError } from './errors.ts'

const MIB = 1024 * 1024

export interface ReplicationBenchOptions {
  /** Scratch folder for the two nodes' state (emptied by the caller). */
  workDir: string
  /** A store whose blocks to replicate (e.g. the bench's Cairn repository); else random blocks are made. */
  sourceStore?: string
  /** Size of the made-up data when no source store is given. Default 256 MiB. */
  totalMiB?: number
  /** Block size of the made-up data. Default 512 KiB. */
  blockKiB?: number
  /** Bytes for the raw stream baseline. Default: the same as replicated. */
  rawMiB?: number
}

export interface ReplicationBenchResult {
  blocks: number
  bytes: number
  replicationSeconds: number
  replicationMiBps: number
  rawBytes: number
  rawSeconds: number
  rawMiBps: number
  /** replication / raw */
  ratio: number
  senderPeakRssMiB: number | null
  receiverPeakRssMiB: number | null
  /** Each process's own memory at its highest (RssAnon, sampled every 200 ms): RSS less the file pages it maps. */
  senderPeakAnonMiB: number | null
  receiverPeakAnonMiB: number | null
  /** CPU seconds per GiB moved, each process, all threads (null where /proc is not readable). */
  cpuPerGiB: { sender: number | null, receiver: number | null, rawSender: number | null, rawReceiver: number | null }
}

/** CPU time (user + system, every thread) a process has used so far, from /proc; null when unreadable. */
export function cpuSecondsOf (pid: number | undefined): number | null {
  if (pid === undefined) return null
  try {
    // After the command name in parentheses: state is field 3, utime and stime are 14 and 15 (clock ticks, 100/s on Linux).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return null
  }
}

/** CPU seconds of some processes sampled every few milliseconds, so a span timed elsewhere can be looked up afterwards. */
class CpuTimeline {
  private readonly samples: Array<{ at: number, cpu: Array<number | null> }> = []
  private readonly timer: NodeJS.Timeout
  constructor (private readonly pids: () => Array<number | undefined>, everyMs = 20) {
    this.timer = setInterval(() => { this.sample() }, everyMs)
    this.sample()
  }

  sample (): void { this.samples.push({ at: performance.now(), cpu: this.pids().map(cpuSecondsOf) }) }
  stop (): void { clearInterval(this.timer); this.sample() }

  /** CPU seconds process `i` used between two moments (nearest samples); null when not sampled then. */
  between (i: number, from: number, to: number): number | null {
    const near = (t: number): number | null => {
      let best: { at: number, cpu: Array<number | null> } | undefined
      for (const s of this.samples) if (best === undefined || Math.abs(s.at - t) < Math.abs(best.at - t)) best = s
      return best?.cpu[i] ?? null
    }
    const a = near(from)
    const b = near(to)
    return a === null || b === null ? null : b - a
  }
}

const perGiB = (cpu: number | null, bytes: number): number | null => cpu === null || bytes === 0 ? null : cpu / (bytes / 2 ** 30)

/** A figure of /proc/PID/status in MiB (VmHWM: the peak RSS; RssAnon: memory of its own now), null when unreadable. */
function statusMiB (pid: number | undefined, field: 'VmHWM' | 'RssAnon'): number | null {
  if (pid === undefined) return null
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? null : Number(m[1]) / 1024
  } catch {
    return null
  }
}
const peakRssMiB = (pid: number | undefined): number | null => statusMiB(pid, 'VmHWM')

export async function measureReplication (opts: ReplicationBenchOptions): Promise<ReplicationBenchResult> {
  const a = { mesh: join(opts.workDir, 'a', 'mesh'), store: opts.sourceStore ?? join(opts.workDir, 'a', 'store') }
  const b = { mesh: join(opts.workDir, 'b', 'mesh'), store: join(opts.workDir, 'b', 'store') }
  mkdirSync(opts.workDir, { recursive: true })
  if (opts.sourceStore === undefined) await makeRandomStore(a.store, opts.totalMiB ?? 256, opts.blockKiB ?? 512)
  await cliOk(['init', '--mesh-dir', a.mesh, '--site', 'bench-a', '--role', 'head', '--listen', '/ip4/127.0.0.1/tcp/0'])
  await cliOk(['policy', '--mesh-dir', a.mesh, '--copies', '2'])
  const A = await startNode({ meshDir: a.mesh, store: a.store })
  let B: Awaited<ReturnType<typeof startNode>> | undefined
  // When each "replicated" event reached us: with its durationMs it places the run on the CPU timeline.
  const runs: Array<{ endedAt: number, durationMs: number, bytesSent: number }> = []
  A.child.stderr!.on('data', (d) => {
    for (const line of String(d).split('\n')) {
      if (!line.includes('"event":"replicated"')) continue
      const e = JSON.parse(line)
      runs.push({ endedAt: performance.now(), durationMs: e.durationMs, bytesSent: e.bytesSent })
    }
  })
  const cpu = new CpuTimeline(() => [A.child.pid, B?.child.pid])
  const anon: Array<number | null> = [null, null]
  const anonTimer = setInterval(() => {
    [A.child.pid, B?.child.pid].forEach((pid, i) => { const v = statusMiB(pid, 'RssAnon'); if (v !== null) anon[i] = Math.max(anon[i] ?? 0, v) })
  }, 200)
  try {
    // Join, then start B: A's link starts on connect; the timed run is the one that moves the data.
    await cliOk(['join', (await A.control('invite')).invitation, '--mesh-dir', b.mesh, '--site', 'bench-b', '--role', 'dr', '--listen', '/ip4/127.0.0.1/tcp/0'])
    B = await startNode({ meshDir: b.mesh, store: b.store })
    await until('B has dialled A', async () => (await A.control('status')).members.every((m: { connected: boolean }) => m.connected))
    const links = await A.control('replicate')
    cpu.stop()
    // The runs that moved data (the first starts when B connects), timed inside the sender.
    const events = A.log().split('\n').filter(l => l.includes('"event":"replicated"')).map(l => JSON.parse(l))
    const seconds = events.reduce((n, e) => n + e.durationMs, 0) / 1000
    const bytes = events.reduce((n, e) => n + e.bytesSent, 0)
    const blocks = events.reduce((n, e) => n + e.blocksSent, 0)
    if (links[0]?.lastError !== undefined) throw new PhaseFailedError(`replication failed: ${links[0].lastError.message}`)
    const senderPeakRssMiB = peakRssMiB(A.child.pid)
    const receiverPeakRssMiB = peakRssMiB(B.child.pid)
    const raw = await measureRawStream(opts.rawMiB ?? Math.max(64, Math.round(bytes / MIB)))
    const replicationMiBps = bytes / MIB / seconds
    const cpuOf = (i: number): number | null => runs.reduce<number | null>((n, r) => {
      const c = cpu.between(i, r.endedAt - r.durationMs, r.endedAt)
      return n === null || c === null ? null : n + c
    }, 0)
    return {
      blocks, bytes, replicationSeconds: seconds, replicationMiBps,
      rawBytes: raw.bytes, rawSeconds: raw.seconds, rawMiBps: raw.mibps,
      ratio: replicationMiBps / raw.mibps,
      senderPeakRssMiB, receiverPeakRssMiB, senderPeakAnonMiB: anon[0], receiverPeakAnonMiB: anon[1],
      cpuPerGiB: { sender: perGiB(cpuOf(0), bytes), receiver: perGiB(cpuOf(1), bytes), rawSender: perGiB(raw.senderCpu, raw.bytes), rawReceiver: perGiB(raw.receiverCpu, raw.bytes) }
    }
  } finally {
    cpu.stop()
    clearInterval(anonTimer)
    await B?.stop()
    await A.stop()
  }
}

/**
 * Raw libp2p stream throughput: this process sends `mib` MiB to an idle sink process over one
 * stream — directly, or `through` a WAN link (wan.ts's baseline).
 */
export async function measureRawStream (mib: number, through?: Omit<WanLinkInit, 'target'>): Promise<{ bytes: number, seconds: number, mibps: number, senderCpu: number | null, receiverCpu: number | null }> {
  // The sink is a bench-only process, not a `cairn` command: it runs from source through tsx.
  const sinkEntry = join(projectRoot(), 'node', 'bench', 'stream-sink.ts')
  const child = spawn(process.execPath, ['--import', 'tsx', sinkEntry], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  const host = await createMeshHost({ privateKey: await generateKeyPair('Ed25519'), listen: [], dht: false, connectionGater: createMeshGater({ isAdmissible: () => true }) })
  let link: WanLink | undefined
  try {
    const ready = await new Promise<{ addrs: string[] }>((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (d) => {
        out += String(d)
        const line = out.split('\n').find(l => l.startsWith('{"ready"'))
        if (line !== undefined) resolve(JSON.parse(line))
      })
      child.once('exit', () => reject(new PhaseFailedError('the stream sink exited before it was ready')))
    })
    let dial = multiaddr(ready.addrs[0])
    if (through !== undefined) {
      const port = Number(dial.getComponents().find(c => c.name === 'tcp')?.value)
      link = await startWanLink({ ...through, target: { host: '127.0.0.1', port } })
      dial = multiaddr(`${link.multiaddr}/p2p/${dial.getComponents().findLast(c => c.name === 'p2p')?.value ?? ''}`)
    }
    const stream = await host.dialProtocol(dial, '/cairn/bench/sink/1.0.0')
    const POOL = 1 // MiB of random bytes, sent over and over
    const pool = new Uint8Array(randomBytes(POOL * MIB))
    const ack = new Promise<number>(resolve => {
      stream.addEventListener('message', (evt) => { resolve(Number(new DataView(evt.data.subarray().buffer, evt.data.subarray().byteOffset).getBigUint64(0))) })
    })
    const sinkCpu0 = cpuSecondsOf(child.pid)
    const cpu0 = process.cpuUsage()
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < mib; i++) await sendWithBackpressure(stream, pool.subarray((i % POOL) * MIB, (i % POOL + 1) * MIB))
    await stream.close()
    const bytes = await ack
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9
    const used = process.cpuUsage(cpu0)
    const sinkCpu = cpuSecondsOf(child.pid)
    return {
      bytes, seconds, mibps: bytes / MIB / seconds,
      senderCpu: (used.user + used.system) / 1e6,
      receiverCpu: sinkCpu === null || sinkCpu0 === null ? null : sinkCpu - sinkCpu0
    }
  } finally {
    // The sink first (SIGKILL if it has not exited within a few seconds: it must not outlive
    // the bench), then this host, which then has no open connection to wait for.
    child.kill('SIGTERM')
    const late = setTimeout(() => { child.kill('SIGKILL') }, 3000)
    await exited
    clearTimeout(late)
    await host.stop()
    await link?.close()
  }
}

const fmt = (n: number | null, digits = 1): string => n === null ? '?' : n.toFixed(digits)

/** What the bench prints and writes for one or more replication runs (each run: replication, then the raw stream). */
export function replicationLines (results: ReplicationBenchResult[]): string[] {
  if (results.length === 0) return []
  const lines = results.map((r, i) =>
    `run ${i + 1}: replication ${fmt(r.replicationMiBps)} MiB/s (${(r.bytes / MIB).toFixed(0)} MiB, ${r.blocks} blocks), raw libp2p stream ${fmt(r.rawMiBps)} MiB/s, ` +
    `ratio ${fmt(r.ratio, 2)}; peak RSS sender ${fmt(r.senderPeakRssMiB, 0)} MiB, receiver ${fmt(r.receiverPeakRssMiB, 0)} MiB; ` +
    `CPU s/GiB sender ${fmt(r.cpuPerGiB.sender)} (raw ${fmt(r.cpuPerGiB.rawSender)}), receiver ${fmt(r.cpuPerGiB.receiver)} (raw ${fmt(r.cpuPerGiB.rawReceiver)})`)
  const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)] }
  const mibps = median(results.map(r => r.replicationMiBps))
  const ratio = median(results.map(r => r.ratio))
  const peak = Math.max(...results.flatMap(r => [r.senderPeakRssMiB ?? 0, r.receiverPeakRssMiB ?? 0]))
  // issue 21: the CPU both nodes spend per GiB replicated, against what a raw libp2p stream's two ends spend
  const cpuRatios = results.flatMap(r => {
    const { sender, receiver, rawSender, rawReceiver } = r.cpuPerGiB
    return sender === null || receiver === null || rawSender === null || rawReceiver === null ? [] : [(sender + receiver) / (rawSender + rawReceiver)]
  })
  const cpu = cpuRatios.length === 0 ? null : median(cpuRatios)
  return [
    `replication of the store, one node process to another on 127.0.0.1, each run next to a raw libp2p stream (same stack: TCP, noise, yamux) right after it:`,
    ...lines,
    `median of ${results.length}: ratio replication/raw libp2p = ${ratio.toFixed(2)} (target >= 0.8)${ratio >= 0.8 ? '' : '  MISS'}; ` +
      `replication ${mibps.toFixed(0)} MiB/s (target >= 150)${mibps >= 150 ? '' : '  MISS'}; ` +
      `CPU per GiB of both nodes / a raw stream's = ${fmt(cpu, 2)} (target <= 1.5)${cpu !== null && cpu <= 1.5 ? '' : '  MISS'}; highest peak RSS of a node ${peak.toFixed(0)} MiB`
  ]
}

export const REPLICATION_HEADING = '## Replication (mesh)'

/** The page's replication section, as Markdown. */
export function replicationMarkdown (results: ReplicationBenchResult[]): string {
  return `${REPLICATION_HEADING}\n\n${replicationLines(results).map(l => `- ${l}`).join('\n')}\n`
}
