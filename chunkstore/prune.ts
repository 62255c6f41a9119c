import { statSync } from 'node:fs'
import { CID } from 'multiformats/cid'
import { throwIfAborted } from '../crypto/index.ts'
import type { AbortOptions } from '../crypto/index.ts'
import { SharedReplicaError, SnapshotDamagedError } from './errors.ts'
import { keyOf } from './index-layout.ts'
import type { Key } from './index-layout.ts'
import type { LocalBlockStore } from './local-block-store.ts'
import { segmentsToReclaim } from './retention.ts'
import { SEGMENT_MAGIC } from './value-log.ts'
import { rootOf } from './snapshot-records.ts'
import type { SnapshotRecords } from './snapshot-records.ts'
import type { TreeNode } from './tree-node.ts'
import type { PruneResult } from './types.ts'

export interface PruneComponents {
  blocks: LocalBlockStore
  /** The store's snapshot records (snapshot-records.ts), read with its keys. */
  records: () => Promise<SnapshotRecords>
  loadNode: (ref: { cid: CID, id: Uint8Array }) => Promise<TreeNode>
}

/**
 * Mark and sweep (F19): every block no snapshot (and no forget record) reaches leaves the
 * index; segments mostly dead are rewritten, those wholly dead deleted. It runs beside any
 * number of backups, restores and checks in this process, and none of them ever waits for it.
 * What it may free follows the epoch rule (epochs.ts, doc/design.md "Epochs: what a prune may
 * free"): blocks that operations touch while it runs are kept, it waits for backups that
 * began before it, and it deletes a segment file only once every operation that could still
 * hold a location in it has ended. The caller runs one prune at a time (LocalBlockStore.onePrune).
 * Refuses, removing nothing, when a record is another store's or damaged: the blocks it
 * needs cannot be told.
 */
export async function pruneStore (components: PruneComponents, options: AbortOptions = {}): Promise<PruneResult> {
  const store = components.blocks
  const result: PruneResult = { blocksRemoved: 0, bytesFreed: 0, segmentsRewritten: 0, segmentsDeleted: 0 }
  // Protection starts before the epoch advances and before the snapshots are read: whatever a
  // backup that enters from now on references, and every backup that ends meanwhile, is kept.
  store.protected = new Set()
  store.protectedTrees = []
  const started = store.epochs.advance()
  try {
    const live = new Set<Key>()
    const marked = new Set<string>()
    const markTree = async (root: { cid: CID, id: Uint8Array }): Promise<void> => {
      const stack = [root]
      while (stack.length > 0) {
        throwIfAborted(options.signal, 'The prune')
        const ref = stack.pop()!
        const k = keyOf(ref.cid.bytes)
        if (live.has(k)) continue
        live.add(k)
        const node = await components.loadNode(ref)
        if (node.kind === 'dir') {
          for (const e of node.entries) if (e.inline !== undefined) live.add(keyOf(e.cid.bytes)); else stack.push(e)
        }
        else if (node.kind === 'file') for (const c of node.chunks) live.add(keyOf(c.cid.bytes))
      }
    }
    /** Marks every snapshot not marked yet (those written since the last call too). */
    const markSnapshots = async (): Promise<void> => {
      const { own, foreign, damaged } = await components.records()
      if (foreign.length > 0) throw new SharedReplicaError({ foreign: foreign.length })
      // A damaged record's tree cannot be walked: its blocks would look dead. Nothing is removed.
      if (damaged.length > 0) throw new SnapshotDamagedError(damaged[0].id, `${damaged[0].reason}, so prune cannot tell which blocks it needs and removed nothing`)
      for (const f of await store.forgetRecords()) live.add(keyOf(f.bytes))
      for (const s of own) {
        if (marked.has(s.id)) continue
        marked.add(s.id)
        live.add(keyOf(CID.parse(s.id).bytes))
        // Its manifest pages (manifest.ts) go to replicas with it and stay while it does.
        for (const page of await store.manifestPages(CID.parse(s.id)) ?? []) live.add(keyOf(page.bytes))
        await markTree(rootOf(s))
      }
    }
    /** Marks below the trees backups reused from their parents since the last call. */
    const markReused = async (): Promise<void> => {
      for (let ref = store.protectedTrees!.shift(); ref !== undefined; ref = store.protectedTrees!.shift()) {
        live.delete(keyOf(ref.cid.bytes)) // the root itself is protected; walk below it all the same
        await markTree(ref)
      }
    }
    await markSnapshots()
    // A backup that began before the epoch advanced may have deduplicated against a block
    // before protection began: wait for it to end, then mark the snapshot it wrote.
    if (store.epochs.count(started, ['write']) > 0) {
      await store.epochs.drained(started, ['write'], options.signal)
      await markSnapshots()
    }
    await markReused()
    await sweepDead(store, result, k => live.has(k), markReused)
    return result
  } finally {
    store.protected = undefined
    store.protectedTrees = undefined
  }
}

/** A record's bytes besides its CID and block: length, CID length, id length, and a 32-byte id. */
const RECORD_FRAMING = 4 + 1 + 1 + 32

function segmentFileSize (store: LocalBlockStore, seg: number): number | undefined {
  try { return statSync(store.log.path(seg)).size } catch { return undefined }
}

/**
 * Removes from the index every block `isLive` says no and nothing protected (store.protected)
 * holds, then rewrites segments mostly dead and deletes those wholly dead, once no operation can
 * still hold a location in them. `lastLook` runs with lookups and tree reuse held, just before
 * the index entries go (prune's last mark). The caller has set up protection and the epoch.
 */
async function sweepDead (store: LocalBlockStore, result: PruneResult, isLive: (k: Key) => boolean, lastLook?: () => Promise<void>): Promise<void> {
  await store.flush()
  const current = store.log.tail?.segment
  // Segments from the tail on may be filling with blocks not indexed yet (a replica receives
  // while it sweeps, a backup's threads write their own): only older ones are rewritten or
  // deleted — and, when no backup is writing, every segment there is now but the tail. Backups'
  // threads number their segments from the same counter as the tail, so a finished backup's
  // segments may come after it; left alone, they were freed only once the tail moved on (a 64 MiB
  // tail of tree nodes: months at a branch office).
  const sealed = store.writers === 0 ? new Set(store.log.segments().filter(seg => seg !== current)) : undefined
  const settled = (seg: number): boolean => current === undefined || seg < current || sealed?.has(seg) === true
  const perSeg = new Map<number, { live: number, dead: number }>()
  const dead = new Map<Key, number>()
  for await (const { cid, loc } of store.entries()) {
    const k = keyOf(cid)
    const s = perSeg.get(loc.segment) ?? { live: 0, dead: 0 }
    perSeg.set(loc.segment, s)
    // Live bytes are whole records (framing, CID, id as a sealed block has it): what a rewrite copies.
    if (isLive(k) || store.protected!.has(k)) s.live += loc.length + RECORD_FRAMING + cid.length
    else { s.dead += loc.length; dead.set(k, loc.length) }
  }
  // Dead is everything in the file that is not live: also the blocks earlier prunes took out of
  // the index but left in a segment under the threshold. Counting only this prune's dead, a
  // segment losing a twelfth a day was never rewritten (the planner's ten-day check: 22 % over).
  for (const [seg, s] of perSeg) {
    const size = segmentFileSize(store, seg)
    if (size !== undefined) s.dead = Math.max(s.dead, size - SEGMENT_MAGIC.length - s.live)
  }
  // Which segments go is chunkstore's reclaim rule (retention.ts), the one the simulation applies too.
  const { rewrite, drop } = segmentsToReclaim([...perSeg].filter(([seg]) => settled(seg)), current)
  // Segments no index entry points into (left by a crash). While a backup runs, its threads
  // may be filling segments they have not reported yet: leave every unindexed one alone then.
  if (store.writers === 0) for (const seg of store.log.segments()) if (!perSeg.has(seg) && settled(seg)) drop.push(seg)
  await lastLook?.()
  const gone = new Set([...dead.keys()].filter(k => !isLive(k)))
  // Lookups and reuse wait while the index entries go (the last mark runs with them held).
  await store.forgetBlocks(gone, async () => {
    await lastLook?.()
    for (const k of gone) if (isLive(k)) gone.delete(k)
  })
  for (const k of gone) { result.blocksRemoved++; result.bytesFreed += dead.get(k)! }
  // Every block still indexed in a segment about to go moves first: live ones, and dead
  // ones a backup took up again after the sweep decided.
  const leaving = [...rewrite, ...drop]
  if (leaving.length > 0) store.log.seal()
  for (const seg of leaving) {
    let moved = 0
    for (const r of store.log.scan(seg, 0).records) {
      const loc = await store.location(CID.decode(r.cid))
      if (loc === undefined || loc.segment !== seg || loc.offset !== r.location.offset) continue
      store.move(r.cid, r.id, store.log.read(r.location))
      moved++
    }
    if (rewrite.includes(seg) || moved > 0) result.segmentsRewritten++
  }
  await store.flush()
  // A reader or writer that entered before now may still hold a location in those segments.
  const unlinked = store.epochs.advance()
  await store.epochs.drained(unlinked)
  for (const seg of leaving) {
    await store.dropSegment(seg)
    if (drop.includes(seg)) result.segmentsDeleted++
  }
}

/**
 * Frees the blocks `dead` names at a replica (bootstrap's retention GC) with prune's sweep and
 * epoch rule: `dead` is computed after protection starts, so a block that a receiving session
 * writes or answers HAVE for meanwhile is kept. One at a time with prunes (onePrune).
 */
export async function sweepBlocks (store: LocalBlockStore, dead: () => Promise<Map<Key, number>>): Promise<PruneResult> {
  return await store.onePrune(async () => {
    const result: PruneResult = { blocksRemoved: 0, bytesFreed: 0, segmentsRewritten: 0, segmentsDeleted: 0 }
    store.protected = new Set()
    store.protectedTrees = []
    store.epochs.advance()
    try {
      const doomed = await dead()
      if (doomed.size > 0) await sweepDead(store, result, k => !doomed.has(k))
      return result
    } finally {
      store.protected = undefined
      store.protectedTrees = undefined
    }
  })
}
