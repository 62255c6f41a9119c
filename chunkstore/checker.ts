import { CID } from 'multiformats/cid'
import { throwIfAborted } from '../crypto/index.ts'
import type { BlockLocation } from './block-store.ts'
import { matchesCid } from './codec.ts'
import type { BlockSealer } from './codec.ts'
import { CidSet } from './cid-set.ts'
import type { LocalBlockStore } from './local-block-store.ts'
import { decodeNode } from './tree-node.ts'
import type { TreeNode } from './tree-node.ts'
import { displayName } from './file-name.ts'
import type { WorkerPool } from './worker-pool.ts'
import type { FromWorker, VerifyJob } from './worker-protocol.ts'
import type { CheckOptions, CheckResult } from './types.ts'

export interface Root { name: string, cid: CID, id: Uint8Array }

const JOB_BYTES = 32 << 20
/** Blocks in one verify job at most: small blocks would put ~500,000 in 32 MiB. */
const JOB_BLOCKS = 4096
/**
 * Verify jobs sent and not yet done at most: the walk waits for one to finish before it sends
 * another, so what waits in the workers' queues does not grow with the store (SPEC N4).
 */
export const JOBS_AHEAD = 4
/** Data blocks located in one index read. */
const LOCATE_BATCH = 4096
/** Tree nodes located in one index read (a folder's subfolders, files of many chunks and symlinks, and their cousins). */
const NODE_BATCH = 256

/**
 * The node a block was found in: the snapshot and the node's path. A block's place in an
 * error message is this and, for a folder's entry, the entry's name; the text is made only
 * for an error (making it for every block was a tenth of the main thread's time).
 */
interface Place { snapshot: string, path: string }
const placeText = (p: Place, name: string | undefined): string =>
  `snapshot ${p.snapshot}: ${name !== undefined ? `${p.path}/${displayName(name)}` : p.path === '' ? '/' : p.path}`

/** Blocks in parallel arrays (an object per block was the main thread's largest cost in garbage). */
class Blocks {
  cids: Uint8Array[] = []
  ids: Uint8Array[] = []
  sizes: number[] = []
  places: Place[] = []
  names: Array<string | undefined> = []
  get length (): number { return this.cids.length }
  push (cid: Uint8Array, id: Uint8Array, size: number, place: Place, name: string | undefined): void {
    this.cids.push(cid); this.ids.push(id); this.sizes.push(size); this.places.push(place); this.names.push(name)
  }
}

/** A verify job being filled: the message's arrays, and beside them what names each block in an error. */
class JobBuilder {
  count = 0
  bytes = 0
  readonly segments: Uint32Array
  readonly lengths: Uint32Array
  readonly offsets: Float64Array
  readonly sizes: Float64Array
  readonly cidEnds: Uint32Array
  readonly idEnds: Uint32Array
  /** CIDs and chunk ids, one after the other: 36 + 32 bytes a block, grown if a block's are longer. */
  keys: Uint8Array
  readonly cids: Uint8Array[] = []
  readonly places: Place[] = []
  readonly names: Array<string | undefined> = []

  constructor (capacity: number) {
    this.segments = new Uint32Array(capacity); this.lengths = new Uint32Array(capacity); this.cidEnds = new Uint32Array(capacity); this.idEnds = new Uint32Array(capacity)
    this.offsets = new Float64Array(capacity); this.sizes = new Float64Array(capacity)
    this.keys = new Uint8Array(capacity * 68)
  }

  add (loc: BlockLocation, cid: Uint8Array, id: Uint8Array, size: number, place: Place, name: string | undefined): void {
    const i = this.count++
    const at = i === 0 ? 0 : this.idEnds[i - 1]
    if (at + cid.length + id.length > this.keys.length) {
      const grown = new Uint8Array(Math.max(this.keys.length * 2, at + cid.length + id.length))
      grown.set(this.keys.subarray(0, at))
      this.keys = grown
    }
    this.keys.set(cid, at); this.keys.set(id, at + cid.length)
    this.cidEnds[i] = at + cid.length; this.idEnds[i] = at + cid.length + id.length
    this.segments[i] = loc.segment; this.offsets[i] = loc.offset; this.lengths[i] = loc.length; this.sizes[i] = size
    this.bytes += loc.length
    this.cids.push(cid); this.places.push(place); this.names.push(name)
  }

  message (job: number): VerifyJob {
    const { count, segments, lengths, offsets, sizes, cidEnds, idEnds, keys } = this
    return { t: 'verify', job, count, segments, lengths, offsets, sizes, cidEnds, idEnds, keys }
  }
}

/** A tree node to read: a snapshot's root, or a folder's entry that has a node of its own. */
interface NodeRef { cid: CID, id: Uint8Array, place: Place, root: boolean }

/**
 * Checks snapshots (F8): every tree node is read, authenticated and decoded (that is how the
 * tree is walked), every data block is present in the index and inside its segment; with
 * `readData`, every data block is also read, hashed against its CID and opened, in the workers.
 * Tree nodes are located in batches, like data blocks: a `get` per node, awaited one after
 * the other, kept the main thread waiting while the workers starved.
 */
export async function checkSnapshots (
  deps: { store: LocalBlockStore, sealer: BlockSealer, makePool: (on: (m: FromWorker, w: number) => void) => WorkerPool, jobBytes?: number, jobBlocks?: number },
  roots: Root[], options: Pick<CheckOptions, 'readData' | 'signal' | 'onProgress'> = {}
): Promise<CheckResult> {
  const { store, sealer } = deps
  const { signal, onProgress } = options
  const readData = options.readData === true
  const result: CheckResult = { snapshots: roots.length, blocksChecked: 0, bytesChecked: 0, errors: [], badBlocks: [] }
  // Every block visited, in 16–32 bytes each (cid-set.ts): a store's worth stays far under N4's bound.
  const seen = new CidSet()
  let lastProgress = 0
  const report = (): void => {
    const now = Date.now()
    if (onProgress === undefined || now - lastProgress < 200) return
    lastProgress = now
    onProgress({ type: 'check:progress', detail: { blocksChecked: result.blocksChecked, bytesChecked: result.bytesChecked } })
  }
  const segSize = new Map<number, number>()
  const sizeOf = (seg: number): number => {
    let s = segSize.get(seg)
    if (s === undefined) { try { s = store.log.size(seg) } catch { s = -1 } segSize.set(seg, s) }
    return s
  }
  const jobLimit = deps.jobBlocks ?? JOB_BLOCKS
  const jobBytesLimit = deps.jobBytes ?? JOB_BYTES
  let pool: WorkerPool | undefined
  let job = new JobBuilder(jobLimit)
  // What names each block of a job sent, until the worker's answer.
  const sent = new Map<number, JobBuilder>()
  let jobSeq = 0
  let allDone: (() => void) | undefined
  let failed: Error | undefined
  let slotFree: (() => void) | undefined
  const send = async (): Promise<void> => {
    if (job.count === 0) return
    if (pool === undefined) {
      pool = deps.makePool(m => {
        if (m.t === 'verified') {
          const j = sent.get(m.job)!
          for (const f of m.failures) {
            const cid = CID.decode(j.cids[f.index]).toString()
            result.errors.push(`${placeText(j.places[f.index], j.names[f.index])}: block ${cid}: ${f.why}`)
            if (f.bad) result.badBlocks.push(cid)
          }
          result.bytesChecked += m.bytes; result.blocksChecked += m.blocks
          report()
        } else if (m.t === 'done') {
          sent.delete(m.job)
          slotFree?.()
          if (sent.size === 0) allDone?.()
        }
      })
      pool.onFailure(err => { failed = err; slotFree?.() })
    }
    const n = ++jobSeq
    sent.set(n, job)
    const msg = job.message(n)
    pool.dispatch(msg, job.bytes, [msg.segments.buffer, msg.lengths.buffer, msg.offsets.buffer, msg.sizes.buffer, msg.cidEnds.buffer, msg.idEnds.buffer, msg.keys.buffer] as ArrayBuffer[])
    job = new JobBuilder(jobLimit)
    while (sent.size >= JOBS_AHEAD && failed === undefined) await new Promise<void>(resolve => { slotFree = resolve })
    slotFree = undefined
    if (failed !== undefined) throw failed
  }

  /** The block's location when it has one inside its segment; else the error is noted. */
  function placed (cid: Uint8Array, loc: BlockLocation | undefined, where: () => string): BlockLocation | undefined {
    const why = loc === undefined ? 'is missing' : sizeOf(loc.segment) < loc.offset + loc.length ? `lies beyond the end of segment ${loc.segment}` : undefined
    if (why === undefined) return loc
    const text = CID.decode(cid).toString()
    result.errors.push(`${where()}: block ${text} ${why}`); result.badBlocks.push(text)
    return undefined
  }

  // Data blocks wait here and are located in batches: one index read for many blocks, not one each.
  let located = new Blocks()
  async function locateData (): Promise<void> {
    if (located.length === 0) return
    const b = located
    located = new Blocks()
    const locs = await store.locations(b.cids)
    for (let i = 0; i < b.length; i++) {
      const loc = placed(b.cids[i], locs[i], () => placeText(b.places[i], b.names[i]))
      if (loc === undefined) continue
      if (readData) {
        job.add(loc, b.cids[i], b.ids[i], b.sizes[i], b.places[i], b.names[i])
        if (job.bytes >= jobBytesLimit || job.count >= jobLimit) await send()
      } else result.blocksChecked++
    }
  }
  async function data (cid: CID, id: Uint8Array, size: number, place: Place, name?: string): Promise<void> {
    if (!seen.add(cid.bytes)) return
    located.push(cid.bytes, id, size, place, name)
    if (located.length >= LOCATE_BATCH) await locateData()
  }

  // Errors name the snapshot and the path inside it: "snapshot bafk…: /etc/hosts: block … is missing".
  // Tree nodes wait on a stack (the walk is depth first, so it holds a path's worth of folders'
  // entries) and are taken from its top a batch at a time.
  const stack: NodeRef[] = []
  async function walkNodes (): Promise<void> {
    while (stack.length > 0) {
      throwIfAborted(signal, 'The check')
      report()
      const batch = stack.splice(Math.max(0, stack.length - NODE_BATCH)).reverse()
      const locs = await store.locations(batch.map(r => r.cid.bytes))
      for (const [i, r] of batch.entries()) {
        // A node reached twice in one batch (two folders with the same contents) is walked once; a root always.
        if (!seen.add(r.cid.bytes) && !r.root) continue
        await node(r, locs[i])
      }
    }
  }

  /** Reads, authenticates and decodes a tree node, then queues its children. */
  async function node (r: NodeRef, at: BlockLocation | undefined): Promise<void> {
    const where = (): string => placeText(r.place, undefined)
    const loc = placed(r.cid.bytes, at, where)
    if (loc === undefined) return
    const bad = (why: string): void => {
      result.errors.push(`${where()}: tree node ${r.cid.toString()}: ${why}`)
      result.badBlocks.push(r.cid.toString())
    }
    let bytes: Uint8Array
    try {
      bytes = store.read(r.cid, loc, false)
    } catch (err) {
      return bad((err as Error).message)
    }
    if (!matchesCid(r.cid, bytes)) return bad('bytes do not match its address')
    result.blocksChecked++; result.bytesChecked += bytes.length
    let n: TreeNode
    try {
      n = decodeNode(sealer.open(bytes, r.id, r.cid))
    } catch (err) {
      result.errors.push(`${where()}: tree node ${r.cid.toString()}: ${(err as Error).message}`)
      return
    }
    if (n.kind === 'dir') {
      const children: NodeRef[] = []
      for (const e of n.entries) {
        if (seen.has(e.cid.bytes)) continue
        if (e.inline !== undefined) await data(e.cid, e.id, e.size, r.place, e.name)
        else children.push({ cid: e.cid, id: e.id, place: { snapshot: r.place.snapshot, path: `${r.place.path}/${displayName(e.name)}` }, root: false })
      }
      // Reversed, so the first entry is on top and the walk keeps the folder's order.
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i])
    } else if (n.kind === 'file') {
      for (const c of n.chunks) await data(c.cid, c.id, c.size, r.place)
    }
  }

  try {
    for (const r of roots) {
      stack.push({ cid: r.cid, id: r.id, place: { snapshot: r.name, path: '' }, root: true })
      await walkNodes()
      await locateData()
    }
    await send()
    if (sent.size > 0) await new Promise<void>((resolve, reject) => { allDone = resolve; pool!.onFailure(reject) })
  } finally {
    await pool?.close()
  }
  return result
}
