import { CID } from 'multiformats/cid'
import { throwIfAborted } from '../crypto/index.ts'
import type { BlockLocation } from './block-store.ts'
import { matchesCid } from './codec.ts'
import type { BlockSealer } from './codec.ts'
import { CidSet } from './cid-set.ts'
import type { LocalBlockStore } from './local-block-store.ts'
import { decodeNode } from './tree-node.ts'
import { displayName } from './file-name.ts'
import type { TreeNode } from './tree-node.ts'
import type { WorkerPool } from './worker-pool.ts'
import type { FromWorker, VerifyBlock } from './worker-protocol.ts'
import type { CheckOptions, CheckResult } from './types.ts'

export interface Root { name: string, cid: CID, id: Uint8Array }

const JOB_BYTES = 32 << 20
/** Blocks in one verify job at most: small blocks would put ~500,000 in 32 MiB, each a message object. */
const JOB_BLOCKS = 4096
/**
 * Verify jobs sent and not yet done at most: the walk waits for one to finish before it sends
 * another, so what waits in the workers' queues does not grow with the store (SPEC N4).
 */
export const JOBS_AHEAD = 4

/**
 * Checks snapshots (F8): every tree node is read, authenticated and decoded (that is how the
 * tree is walked), every data block is present in the index and inside its segment; with
 * `readData`, every data block is also read, hashed against its CID and opened, in the workers.
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
  let pool: WorkerPool | undefined
  let job: VerifyBlock[] = []
  let jobBytes = 0
  let jobs = 0
  let jobSeq = 0
  let allDone: (() => void) | undefined
  let failed: Error | undefined
  let slotFree: (() => void) | undefined
  const send = async (): Promise<void> => {
    if (job.length === 0) return
    if (pool === undefined) {
      pool = deps.makePool(m => {
        if (m.t === 'verified') {
          result.errors.push(...m.errors); result.badBlocks.push(...m.bad); result.bytesChecked += m.bytes; result.blocksChecked += m.blocks
          report()
        } else if (m.t === 'done') {
          jobs--
          slotFree?.()
          if (jobs === 0) allDone?.()
        }
      })
      pool.onFailure(err => { failed = err; slotFree?.() })
    }
    jobs++
    pool.dispatch({ t: 'verify', job: ++jobSeq, blocks: job }, jobBytes)
    job = []; jobBytes = 0
    while (jobs >= JOBS_AHEAD && failed === undefined) await new Promise<void>(resolve => { slotFree = resolve })
    slotFree = undefined
    if (failed !== undefined) throw failed
  }

  /** The block's location when it has one inside its segment; else the error is noted. */
  function placed (cid: CID, loc: BlockLocation | undefined, where: string): BlockLocation | undefined {
    const why = loc === undefined ? 'is missing' : sizeOf(loc.segment) < loc.offset + loc.length ? `lies beyond the end of segment ${loc.segment}` : undefined
    if (why === undefined) return loc
    result.errors.push(`${where}: block ${cid.toString()} ${why}`); result.badBlocks.push(cid.toString())
    return undefined
  }

  // Data blocks wait here and are located in batches: one index read for many blocks, not one each.
  let located: Array<{ cid: CID, id: Uint8Array, where: string, size: number }> = []
  const LOCATE_BATCH = 4096
  async function locateData (): Promise<void> {
    if (located.length === 0) return
    const batch = located
    located = []
    const locs = await store.locations(batch.map(b => b.cid.bytes))
    for (const [i, b] of batch.entries()) {
      const loc = placed(b.cid, locs[i], b.where)
      if (loc === undefined) continue
      if (readData) {
        job.push({ ...loc, cid: b.cid.bytes, id: b.id, size: b.size, where: b.where }); jobBytes += loc.length
        if (jobBytes >= (deps.jobBytes ?? JOB_BYTES) || job.length >= (deps.jobBlocks ?? JOB_BLOCKS)) await send()
      } else result.blocksChecked++
    }
  }

  /** A data block (with its `size`): queued to be located and read. A tree node: read, authenticated and decoded here. */
  async function visit (cid: CID, id: Uint8Array, where: string, size?: number): Promise<TreeNode | undefined> {
    if (!seen.add(cid.bytes) && size !== undefined) return undefined
    if (size !== undefined) {
      located.push({ cid, id, where, size })
      if (located.length >= LOCATE_BATCH) await locateData()
      return undefined
    }
    const loc = placed(cid, await store.location(cid), where)
    if (loc === undefined) return undefined
    const bad = (why: string): undefined => {
      result.errors.push(`${where}: tree node ${cid.toString()}: ${why}`)
      result.badBlocks.push(cid.toString())
      return undefined
    }
    let bytes: Uint8Array
    try {
      bytes = store.read(cid, loc, false)
    } catch (err) {
      return bad((err as Error).message)
    }
    if (!matchesCid(cid, bytes)) return bad('bytes do not match its address')
    try {
      result.blocksChecked++; result.bytesChecked += bytes.length
      return decodeNode(sealer.open(bytes, id, cid))
    } catch (err) {
      result.errors.push(`${where}: tree node ${cid.toString()}: ${(err as Error).message}`)
      return undefined
    }
  }

  // Errors name the snapshot and the path inside it: "snapshot bafk…: /etc/hosts: block … is missing".
  let snapshot = ''
  const where = (path: string): string => `snapshot ${snapshot}: ${path === '' ? '/' : path}`
  async function walk (cid: CID, id: Uint8Array, path: string): Promise<void> {
    throwIfAborted(signal, 'The check')
    report()
    const node = await visit(cid, id, where(path))
    if (node === undefined) return
    if (node.kind === 'dir') {
      for (const e of node.entries) {
        if (seen.has(e.cid.bytes)) continue
        if (e.inline !== undefined) await visit(e.cid, e.id, where(`${path}/${displayName(e.name)}`), e.size)
        else await walk(e.cid, e.id, `${path}/${displayName(e.name)}`)
      }
    } else if (node.kind === 'file') {
      for (const c of node.chunks) await visit(c.cid, c.id, where(path), c.size)
    }
  }

  try {
    for (const r of roots) { snapshot = r.name; await walk(r.cid, r.id, ''); await locateData() }
    await send()
    if (jobs > 0) await new Promise<void>((resolve, reject) => { allDone = resolve; pool!.onFailure(reject) })
  } finally {
    await pool?.close()
  }
  return result
}

