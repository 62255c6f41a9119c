// Replication throughput for `npm run bench` (issue 4): one mesh node process replicates a
// store's blocks to another on 127.0.0.1, next to the raw libp2p stream throughput of an
// idle sender/receiver pair measured in the same run, as a ratio. Also the peak memory of
// both node processes, to show it stays bounded. A measurement, never a test.
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { blockCid, createMeshGater, createMeshHost, sendWithBackpressure } from '../../bootstrap/index.ts'
import { cliOk, startNode, until } from '../mesh/process-harness.ts'
import { openStore } from '../mesh/open-store.ts'

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
}

function peakRssMiB (pid: number | undefined): number | null {
  if (pid === undefined) return null
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? null : Number(m[1]) / 1024
  } catch {
    return null
  }
}

export async function measureReplication (opts: ReplicationBenchOptions): Promise<ReplicationBenchResult> {
  const a = { mesh: join(opts.workDir, 'a', 'mesh'), store: opts.sourceStore ?? join(opts.workDir, 'a', 'store') }
  const b = { mesh: join(opts.workDir, 'b', 'mesh'), store: join(opts.workDir, 'b', 'store') }
  mkdirSync(opts.workDir, { recursive: true })
  if (opts.sourceStore === undefined) {
    const s = await openStore(a.store)
    const size = (opts.blockKiB ?? 512) * 1024
    const count = Math.ceil((opts.totalMiB ?? 256) * MIB / size)
    const noise = new Uint8Array(randomBytes(size + 4096))
    for (let i = 0; i < count; i++) {
      // Distinct blocks from one random buffer: a sliding window, then the index.
      const bytes = noise.slice(i % 4096, (i % 4096) + size)
      new DataView(bytes.buffer).setUint32(0, i)
      await s.blocks.put(await blockCid(bytes), bytes)
    }
    await s.blocks.flush()
    await s.close()
  }
  await cliOk(['init', '--mesh-dir', a.mesh, '--site', 'bench-a', '--role', 'head', '--listen', '/ip4/127.0.0.1/tcp/0'])
  await cliOk(['policy', '--mesh-dir', a.mesh, '--copies', '2'])
  const A = await startNode({ meshDir: a.mesh, store: a.store })
  let B: Awaited<ReturnType<typeof startNode>> | undefined
  try {
    // Join, then start B: A's link starts on connect; the timed run is the one that moves the data.
    await cliOk(['join', (await A.control('invite')).invitation, '--mesh-dir', b.mesh, '--site', 'bench-b', '--role', 'dr', '--listen', '/ip4/127.0.0.1/tcp/0'])
    B = await startNode({ meshDir: b.mesh, store: b.store })
    await until('B has dialled A', async () => (await A.control('status')).members.every((m: { connected: boolean }) => m.connected))
    const links = await A.control('replicate')
    // The runs that moved data (the first starts when B connects), timed inside the sender.
    const events = A.log().split('\n').filter(l => l.includes('"event":"replicated"')).map(l => JSON.parse(l))
    const seconds = events.reduce((n, e) => n + e.durationMs, 0) / 1000
    const bytes = events.reduce((n, e) => n + e.bytesSent, 0)
    const blocks = events.reduce((n, e) => n + e.blocksSent, 0)
    if (links[0]?.lastError !== undefined) throw new Error(`replication failed: ${links[0].lastError.message}`)
    const senderPeakRssMiB = peakRssMiB(A.child.pid)
    const receiverPeakRssMiB = peakRssMiB(B.child.pid)
    const raw = await measureRawStream(opts.rawMiB ?? Math.max(64, Math.round(bytes / MIB)))
    const replicationMiBps = bytes / MIB / seconds
    return {
      blocks, bytes, replicationSeconds: seconds, replicationMiBps,
      rawBytes: raw.bytes, rawSeconds: raw.seconds, rawMiBps: raw.mibps,
      ratio: replicationMiBps / raw.mibps,
      senderPeakRssMiB, receiverPeakRssMiB
    }
  } finally {
    await B?.stop()
    await A.stop()
  }
}

/** Raw libp2p stream throughput: this process sends `mib` MiB to an idle sink process over one stream. */
export async function measureRawStream (mib: number): Promise<{ bytes: number, seconds: number, mibps: number }> {
  const sinkEntry = fileURLToPath(new URL('./stream-sink.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', sinkEntry], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  const host = await createMeshHost({ privateKey: await generateKeyPair('Ed25519'), listen: [], dht: false, connectionGater: createMeshGater({ isAdmissible: () => true }) })
  try {
    const ready = await new Promise<{ addrs: string[] }>((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (d) => {
        out += String(d)
        const line = out.split('\n').find(l => l.startsWith('{"ready"'))
        if (line !== undefined) resolve(JSON.parse(line))
      })
      child.once('exit', () => reject(new Error('the stream sink exited before it was ready')))
    })
    const stream = await host.dialProtocol(multiaddr(ready.addrs[0]), '/cairn/bench/sink/1.0.0')
    const chunk = new Uint8Array(randomBytes(MIB))
    const ack = new Promise<number>(resolve => {
      stream.addEventListener('message', (evt) => { resolve(Number(new DataView(evt.data.subarray().buffer, evt.data.subarray().byteOffset).getBigUint64(0))) })
    })
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < mib; i++) await sendWithBackpressure(stream, chunk)
    await stream.close()
    const bytes = await ack
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9
    return { bytes, seconds, mibps: bytes / MIB / seconds }
  } finally {
    await host.stop()
    child.kill('SIGTERM')
    await exited
  }
}
