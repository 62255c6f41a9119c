// `npm run bench -- --scale` (SPEC N4, issue 21): memory bounded whatever the store's size.
// A synthetic store of millions of blocks and a source tree of millions of small files are
// generated (no real data needed), then backup, no-change backup, check, prune and
// replication run through the package's bin, each under GNU time for its peak RSS.
// A measurement, never a test: it prints figures and fails only when a command fails.
//
// The synthetic blocks are real sealed blocks (tiny plaintexts sealed with the store's keys,
// appended to segments and indexed), reachable from synthetic snapshots (file nodes of
// SYNTH_CHUNKS chunks each, one directory node per snapshot, a real snapshot record with its
// manifest pages), so check, prune and replication treat them like any other.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statfsSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { projectRoot } from '../project-root.ts'
import type { CID } from 'multiformats/cid'
import { BlockSealer, decodeNode, encodeNode, openRepository, writeSnapshotRecord, type DirEntry, type RecordBody, type TreeNode } from '../../chunkstore/index.ts'
import { measure, type Measurement } from './command.ts'
import { PhaseFailedError } from './errors.ts'
import { measureReplication } from './replication.ts'

/** Chunks per synthetic file node. */
const SYNTH_CHUNKS = 2000
/** Synthetic blocks per synthetic snapshot (a store of many snapshots, none of them huge). */
const SYNTH_PER_SNAPSHOT = 500_000
/** Files per folder of the source tree, folders per part; one part is the smaller tree. */
const FILES_PER_DIR = 1000
const PASSPHRASE = 'bench'

export interface ScaleOptions {
  /** Scratch folder (emptied first, removed at the end unless `keep`). */
  dir: string
  /** Synthetic blocks in the store at the large step. */
  blocks: number
  /** Files in the large source tree (the small one is a tenth of it). */
  files: number
  /** Synthetic blocks at the small step (the no-change comparison): default a tenth of `blocks`. */
  smallBlocks?: number
  /** Also time `check --read-data` and replication to an empty peer. */
  readData?: boolean
  replication?: boolean
  keep?: boolean
  log: (line: string) => void
}

/**
 * `peakRssMiB` is GNU time's (the kernel's high-water mark of resident pages), which counts
 * pages of files the process maps too: LevelDB maps its table files, so a scan of a large
 * index shows up there although the kernel can drop those pages at any time.
 * `peakAnonMiB` is the process's own memory (RssAnon, sampled every 100 ms).
 */
export interface ScaleStep { what: string, blocks: number, files: number, seconds: number, peakRssMiB: number | null, peakAnonMiB?: number | null, error?: string }

export interface ScaleResult { steps: ScaleStep[], generation: Array<{ what: string, seconds: number }> }

export async function measureScale (opts: ScaleOptions): Promise<ScaleResult> {
  const { dir, log } = opts
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const store = join(dir, 'store')
  const src = join(dir, 'src')
  const smallTree = join(src, 'part0')
  const small = Math.round(opts.files / 10)
  const result: ScaleResult = { steps: [], generation: [] }
  const timed = async (what: string, fn: () => Promise<void>): Promise<void> => {
    const t0 = performance.now()
    await fn()
    const seconds = (performance.now() - t0) / 1000
    result.generation.push({ what, seconds })
    log(`${what}: ${seconds.toFixed(1)} s`)
  }
  let blocksNow = 0
  const bin = join(projectRoot(), 'node', 'bin', 'cairn.js')
  const cairn = async (what: string, args: string[], files: number): Promise<void> => {
    const m = await runCairn(dir, what, args)
    const step = { what, blocks: blocksNow, files, ...m }
    result.steps.push(step)
    log(`${what} (${blocksNow} synthetic blocks, ${files} files): ${step.seconds.toFixed(1)} s, peak RSS ${step.peakRssMiB?.toFixed(0) ?? '?'} MiB (anonymous ${step.peakAnonMiB?.toFixed(0) ?? '?'} MiB)`)
  }
  try {
    log(`free: ${freeSpace(dir)}`)
    const first = await measure({ argv: [process.execPath, bin, 'init', '--store', store], env: { CAIRN_PASSPHRASE: PASSPHRASE } }, join(dir, 'init'))
    if (first.code !== 0) throw new PhaseFailedError(`init failed: ${first.stderrTail}`)
    await timed(`source tree of ${opts.files} files`, async () => { makeTree(src, opts.files) })
    const smallBlocks = opts.smallBlocks ?? Math.round(opts.blocks / 10)
    await timed(`${smallBlocks} synthetic blocks`, async () => { blocksNow = await addSyntheticBlocks(store, 0, smallBlocks, log) })
    await cairn('backup, small tree', ['backup', smallTree, '--store', store, '--task', 'small', '--json'], small)
    await cairn('no-change backup, small tree', ['backup', smallTree, '--store', store, '--task', 'small', '--json'], small)
    await timed(`${opts.blocks - smallBlocks} more synthetic blocks`, async () => { blocksNow = await addSyntheticBlocks(store, blocksNow, opts.blocks, log) })
    log(`free: ${freeSpace(dir)}`)
    await cairn('no-change backup, small tree', ['backup', smallTree, '--store', store, '--task', 'small', '--json'], small)
    await cairn('backup', ['backup', src, '--store', store, '--task', 'large', '--json'], opts.files)
    await cairn('no-change backup', ['backup', src, '--store', store, '--task', 'large', '--json'], opts.files)
    await cairn('check', ['check', '--store', store, '--json'], opts.files)
    if (opts.readData === true) await cairn('check --read-data', ['check', '--read-data', '--store', store, '--json'], opts.files)
    await cairn('prune', ['prune', '--store', store, '--json'], opts.files)
    if (opts.replication === true) {
      log('replicating the store to an empty peer')
      try {
        const r = await measureReplication({ workDir: join(dir, 'mesh'), sourceStore: store, rawMiB: 64 })
        result.steps.push({ what: 'replication (sender)', blocks: blocksNow, files: opts.files, seconds: r.replicationSeconds, peakRssMiB: r.senderPeakRssMiB, peakAnonMiB: r.senderPeakAnonMiB })
        result.steps.push({ what: 'replication (receiver)', blocks: blocksNow, files: opts.files, seconds: r.replicationSeconds, peakRssMiB: r.receiverPeakRssMiB, peakAnonMiB: r.receiverPeakAnonMiB })
        log(`replication: ${r.blocks} blocks in ${r.replicationSeconds.toFixed(1)} s, peak RSS sender ${r.senderPeakRssMiB?.toFixed(0)} MiB (anonymous ${r.senderPeakAnonMiB?.toFixed(0)}), receiver ${r.receiverPeakRssMiB?.toFixed(0)} MiB (anonymous ${r.receiverPeakAnonMiB?.toFixed(0)})`)
      } catch (err) {
        // A figure, not a test: the failure is reported with the rest (docs/bench.md, "Scale").
        const error = err instanceof Error ? err.message : String(err)
        result.steps.push({ what: 'replication', blocks: blocksNow, files: opts.files, seconds: NaN, peakRssMiB: null, error })
        log(`replication failed: ${error}`)
      }
    }
    return result
  } finally {
    if (opts.keep !== true) rmSync(dir, { recursive: true, force: true })
  }
}

/** The highest RssAnon of the process GNU time runs (its child), sampled from /proc. */
class AnonPeak {
  private timer: NodeJS.Timeout | undefined
  private peakKiB: number | null = null

  follow (timePid: number | undefined): void {
    if (timePid === undefined) return
    this.timer = setInterval(() => {
      try {
        for (const pid of readFileSync(`/proc/${timePid}/task/${timePid}/children`, 'utf8').trim().split(/\s+/).filter(p => p !== '')) {
          const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
          if (m !== null) this.peakKiB = Math.max(this.peakKiB ?? 0, Number(m[1]))
        }
      } catch {} // the process has ended
    }, 100)
  }

  stop (): void { clearInterval(this.timer) }
  get peakMiB (): number | null { return this.peakKiB === null ? null : this.peakKiB / 1024 }
}

/** Runs `cairn args…` through the bin under GNU time, with its anonymous RSS sampled; throws if it fails. */
export async function runCairn (dir: string, what: string, args: string[]): Promise<{ seconds: number, peakRssMiB: number | null, peakAnonMiB: number | null }> {
  const bin = join(projectRoot(), 'node', 'bin', 'cairn.js')
  const anon = new AnonPeak()
  let m: Measurement
  try {
    m = await measure({ argv: [process.execPath, bin, ...args], env: { CAIRN_PASSPHRASE: PASSPHRASE, XDG_CACHE_HOME: join(dir, 'cache') } }, join(dir, what.replace(/\W+/g, '-')), pid => anon.follow(pid))
  } finally {
    anon.stop()
  }
  if (m.code !== 0) throw new PhaseFailedError(`${what} failed (exit ${m.code}): ${m.stderrTail}`)
  return { seconds: m.seconds, peakRssMiB: m.maxRssKiB === null ? null : m.maxRssKiB / 1024, peakAnonMiB: anon.peakMiB }
}

function freeSpace (dir: string): string {
  const s = statfsSync(dir)
  return `${(s.bavail * s.bsize / 2 ** 30).toFixed(1)} GiB, ${s.ffree} inodes`
}

/**
 * `files` small files in folders of FILES_PER_DIR, in ten parts (part0 is the small tree). One
 * file in four holds a few bytes of its own (one block each); the rest are empty, which costs
 * an inode but no data block.
 */
function makeTree (root: string, files: number): void {
  const perPart = Math.ceil(files / 10)
  for (let i = 0; i < files; i++) {
    const part = Math.floor(i / perPart)
    const j = i % perPart
    const folder = join(root, `part${part}`, `d${String(Math.floor(j / FILES_PER_DIR)).padStart(4, '0')}`)
    if (j % FILES_PER_DIR === 0) mkdirSync(folder, { recursive: true })
    const fd = openSync(join(folder, `f${String(j % FILES_PER_DIR).padStart(4, '0')}`), 'w')
    if (i % 4 === 0) writeSync(fd, `file ${i}\n`)
    closeSync(fd)
  }
}

/**
 * Seals and stores synthetic blocks `from`..`to` (counting across calls) as snapshots of
 * SYNTH_PER_SNAPSHOT blocks, each a directory of file nodes of SYNTH_CHUNKS tiny chunks.
 */
export async function addSyntheticBlocks (storeDir: string, from: number, to: number, log: (line: string) => void): Promise<number> {
  const repo = await openRepository(storeDir, { passphrase: PASSPHRASE })
  try {
    const sealer = new BlockSealer(repo.keys, repo.suite, repo.config.compression)
    const blocks = repo.blocks
    const loadNode = async (ref: { cid: CID, id: Uint8Array }): Promise<TreeNode> => decodeNode(sealer.open(await blocks.get(ref.cid), ref.id, ref.cid))
    const plain = Buffer.alloc(16)
    let n = from
    while (n < to) {
      const snap = Math.floor(n / SYNTH_PER_SNAPSHOT)
      const end = Math.min(to, (snap + 1) * SYNTH_PER_SNAPSHOT)
      const entries: DirEntry[] = []
      let file = 0
      while (n < end) {
        const chunks = []
        const count = Math.min(SYNTH_CHUNKS, end - n)
        for (let j = 0; j < count; j++, n++) {
          plain.writeUInt32LE(0x5ca1e, 0)
          plain.writeDoubleLE(n, 4)
          const b = sealer.seal(plain)
          blocks.append(b.cid.bytes, b.id, b.bytes)
          chunks.push({ cid: b.cid, id: b.id, size: plain.length })
        }
        const node = sealer.seal(encodeNode({ kind: 'file', mode: 0o100644, mtimeNs: 0n, uid: 0, gid: 0, size: count * plain.length, chunks, sparse: false }))
        blocks.append(node.cid.bytes, node.id, node.bytes)
        const size = count * plain.length
        entries.push({ name: `f${String(file).padStart(6, '0')}`, kind: 'file', cid: node.cid, id: node.id, tsize: node.bytes.length, size, mtimeNs: 0n, ctimeNs: 0n, ino: BigInt(file + 1), dev: 1n, nlink: 1 })
        file++
        if (file % 50 === 0) await blocks.flush()
      }
      const root = sealer.seal(encodeNode({ kind: 'dir', mode: 0o40755, mtimeNs: 0n, uid: 0, gid: 0, entries, xattrsRead: true }))
      blocks.append(root.cid.bytes, root.id, root.bytes)
      await blocks.flush()
      const body: RecordBody = {
        v: 1, root: root.cid.toString(), rootId: Buffer.from(root.id).toString('base64'), time: new Date().toISOString(), host: 'scale', task: `synthetic-${snap}`,
        paths: [`/synthetic/${snap}`], level: 'full',
        stats: { files: entries.length, dirs: 1, symlinks: 0, filesUnchanged: 0, bytesTotal: entries.reduce((s, e) => s + e.size, 0), bytesRead: 0, chunksNew: 0, bytesNew: 0, bytesStored: 0, durationMs: 0, warnings: [] }
      }
      await writeSnapshotRecord(repo.keys, blocks, body, { loadNode })
      log(`  synthetic snapshot ${snap}: ${n} blocks so far`)
    }
    return n
  } finally {
    await repo.close()
  }
}

export function scaleLines (r: ScaleResult): string[] {
  return [
    ...r.generation.map(g => `generated ${g.what} in ${g.seconds.toFixed(0)} s`),
    ...r.steps.map(s => s.error !== undefined ? `${s.what.padEnd(32)} FAILED: ${s.error}` : `${s.what.padEnd(32)} ${String(s.blocks).padStart(10)} synthetic blocks ${String(s.files).padStart(9)} files ${s.seconds.toFixed(1).padStart(8)} s ${s.peakRssMiB === null ? '?' : s.peakRssMiB.toFixed(0)} MiB RSS, ${s.peakAnonMiB == null ? '?' : s.peakAnonMiB.toFixed(0)} MiB anonymous`)
  ]
}
