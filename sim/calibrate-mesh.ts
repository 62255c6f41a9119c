// `cairn sim calibrate --mesh`: what replication costs between two real node processes on this
// machine — two `cairn mesh run` daemons started through the package's bin on 127.0.0.1, a store
// of large blocks and then of many small ones, and runs that find nothing to send. From the runs'
// own timings (the sender's "replicated" events and its links' last results):
//   no-change runs:  t = run + offered × perOffer            → perOffer, run
//   sending runs:    t = run + offered × perOffer + sent × perBlock + bytes / throughput
// The processes are ended by their pid, whatever happens.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cidOf, LocalBlockStore, prepareReplicaFolder } from '../chunkstore/index.ts'
import { callControl, projectRoot } from '../node/index.ts'
import { CalibrationFailedError } from './errors.ts'
import type { MeshMeasure } from './profile.ts'

export interface MeshOptions {
  /** MiB of 1 MiB blocks replicated first. Default 256. */
  largeMiB?: number
  /** Blocks of 4 KiB added next. Default 20,000. */
  smallBlocks?: number
  onStep?: (step: string) => void
}

interface NodeProc { child: ChildProcess, log: () => string, stop: () => Promise<void> }

const LISTEN = '/ip4/127.0.0.1/tcp/0'

async function cairn (args: string[]): Promise<string> {
  const child = spawn(process.execPath, [join(projectRoot(), 'node', 'bin', 'cairn.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout!.on('data', d => { out += String(d) })
  child.stderr!.on('data', d => { err += String(d) })
  const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
  if (code !== 0) throw new CalibrationFailedError(`cairn ${args.slice(0, 2).join(' ')}`, err.trim().split('\n').slice(-3).join(' '))
  return out
}

async function startNode (meshDir: string, store: string): Promise<NodeProc> {
  const child = spawn(process.execPath, [join(projectRoot(), 'node', 'bin', 'cairn.js'), 'mesh', 'run', '--mesh-dir', meshDir, '--store', store, '--replicate-every', '3600'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  child.stderr!.on('data', d => { log += String(d) })
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', d => { out += String(d); if (out.includes('{"ready"')) resolve() })
    child.once('exit', code => { reject(new CalibrationFailedError('start a node', `cairn mesh run exited ${String(code)}: ${log.trim().split('\n').slice(-3).join(' ')}`)) })
  })
  return {
    child,
    log: () => log,
    stop: async () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM'); await exited }
  }
}

async function fillStore (dir: string, count: number, size: number, seed: number): Promise<number> {
  prepareReplicaFolder(dir)
  const store = await LocalBlockStore.open(join(dir, 'index'), join(dir, 'segments'))
  let bytes = 0
  try {
    const noise = new Uint8Array(randomBytes(size + 4096))
    for (let i = 0; i < count; i++) {
      // Distinct blocks from one random buffer: a sliding window, stamped with the index.
      const b = noise.slice(i % 4096, (i % 4096) + size)
      new DataView(b.buffer).setUint32(0, i)
      new DataView(b.buffer).setUint32(4, seed)
      await store.put(cidOf(b), b)
      bytes += size
    }
    await store.flush()
  } finally {
    await store.close()
  }
  return bytes
}

interface Runs { seconds: number, bytes: number, blocks: number, offered: number }

/** The sender's runs that moved data, from its "replicated" events since `from` in its log. */
function sent (log: string, from: number): Runs {
  const r: Runs = { seconds: 0, bytes: 0, blocks: 0, offered: 0 }
  for (const line of log.slice(from).split('\n')) {
    if (!line.includes('"event":"replicated"')) continue
    const e = JSON.parse(line) as { durationMs: number, bytesSent: number, blocksSent: number, blocksOffered: number }
    r.seconds += e.durationMs / 1000
    r.bytes += e.bytesSent
    r.blocks += e.blocksSent
    r.offered += e.blocksOffered
  }
  return r
}

async function replicateNow (meshDir: string): Promise<{ seconds: number, offered: number, wire: number }> {
  const links = await callControl(meshDir, 'replicate') as Array<{ lastResult?: { durationMs: number, blocksOffered: number, wireBytes: number }, lastError?: { message: string } }>
  const last = links[0]?.lastResult
  if (links[0]?.lastError !== undefined || last === undefined) throw new CalibrationFailedError('replicate', links[0]?.lastError?.message ?? 'no link ran')
  return { seconds: last.durationMs / 1000, offered: last.blocksOffered, wire: last.wireBytes }
}

/** Waits until the node of `meshDir` is connected to every member (a minute at most). */
async function connected (meshDir: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const status = await callControl(meshDir, 'status') as { members: Array<{ connected: boolean }> }
    if (status.members.every(m => m.connected)) return
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new CalibrationFailedError('connect', 'the two nodes did not connect within a minute')
}

export async function measureMesh (options: MeshOptions = {}): Promise<MeshMeasure> {
  const large = Math.max(1, Math.round(options.largeMiB ?? 256))
  const small = Math.max(1, Math.round(options.smallBlocks ?? 20_000))
  const step = options.onStep ?? (() => {})
  const work = await mkdtemp(join(tmpdir(), 'cairn-calibrate-mesh-'))
  const a = { mesh: join(work, 'a', 'mesh'), store: join(work, 'a', 'store') }
  const b = { mesh: join(work, 'b', 'mesh'), store: join(work, 'b', 'store') }
  const nodes: NodeProc[] = []
  try {
    step(`${large} MiB of 1 MiB blocks`)
    const bytes1 = await fillStore(a.store, large, 1 << 20, 1)
    await cairn(['mesh', 'init', '--mesh-dir', a.mesh, '--site', 'calibrate-a', '--role', 'head', '--listen', LISTEN])
    await cairn(['mesh', 'policy', '--mesh-dir', a.mesh, '--copies', '2'])
    let A = await startNode(a.mesh, a.store); nodes.push(A)
    const invitation = (await callControl(a.mesh, 'invite') as { invitation: string }).invitation
    await cairn(['mesh', 'join', invitation, '--mesh-dir', b.mesh, '--site', 'calibrate-b', '--role', 'dr', '--listen', LISTEN])
    const B = await startNode(b.mesh, b.store); nodes.push(B)
    step('replicating them')
    await connected(a.mesh)
    await replicateNow(a.mesh)
    const first = sent(A.log(), 0)
    if (first.bytes < bytes1) throw new CalibrationFailedError('replicate', `${first.bytes} of ${bytes1} bytes arrived`)
    const idle1 = await replicateNow(a.mesh)

    step(`${small} blocks of 4 KiB`)
    await A.stop(); nodes.splice(nodes.indexOf(A), 1)
    const bytes2 = await fillStore(a.store, small, 4096, 2)
    A = await startNode(a.mesh, a.store); nodes.push(A)
    await connected(a.mesh)
    await replicateNow(a.mesh)
    const second = sent(A.log(), 0)
    if (second.bytes < bytes2) throw new CalibrationFailedError('replicate', `${second.bytes} of ${bytes2} bytes arrived`)
    const idle2 = await replicateNow(a.mesh)

    // Offers: two runs that send nothing, over `large` and `large + small` blocks.
    const perOffer = Math.max(0, (idle2.seconds - idle1.seconds) / Math.max(1, idle2.offered - idle1.offered))
    const perRun = Math.max(0, idle1.seconds - idle1.offered * perOffer)
    // Sending: the two runs' times beyond their offers, over their blocks and bytes.
    const t1 = Math.max(1e-6, first.seconds - perRun - first.offered * perOffer)
    const t2 = Math.max(1e-6, second.seconds - perRun - second.offered * perOffer)
    const det = first.blocks * second.bytes - second.blocks * first.bytes
    let perBlock = det !== 0 ? (t1 * second.bytes - t2 * first.bytes) / det : 0
    let perByte = det !== 0 ? (first.blocks * t2 - second.blocks * t1) / det : t1 / first.bytes
    if (!(perBlock >= 0) || !(perByte > 0)) { perBlock = Math.max(0, (t2 - second.bytes * t1 / first.bytes) / second.blocks); perByte = t1 / first.bytes }
    return {
      bytesPerSecond: 1 / perByte,
      secondsPerBlockSent: perBlock,
      secondsPerBlockOffered: perOffer,
      secondsPerRun: perRun,
      offerBytesPerBlock: idle2.offered > 0 ? idle2.wire / idle2.offered : 37,
      blocks: first.blocks + second.blocks,
      bytes: first.bytes + second.bytes
    }
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
    await rm(work, { recursive: true, force: true })
  }
}
