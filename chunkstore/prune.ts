import { CID } from 'multiformats/cid'
import { throwIfAborted } from '../crypto/index.ts'
import type { AbortOptions } from '../crypto/index.ts'
import { SharedReplicaError, SnapshotDamagedError } from './errors.ts'
import { keyOf } from './index-layout.ts'
import type { Key } from './index-layout.ts'
import type { LocalBlockStore } from './local-block-store.ts'
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
 * index; segments mostly dead are rewritten, those wholly dead deleted. Blocks that a backup
 * running meanwhile reads or writes are recorded in `blocks.protected` and kept, so a backup
 * never waits for a prune. Refuses (removing nothing) when a record is another store's or
 * damaged: the blocks it needs cannot be told.
 */
export async function pruneStore (components: PruneComponents, options: AbortOptions = {}): Promise<PruneResult> {
  const store = components.blocks
  const result: PruneResult = { blocksRemoved: 0, bytesFreed: 0, segmentsRewritten: 0, segmentsDeleted: 0 }
  // Protection starts before the snapshots are read: a backup that ends meanwhile keeps its blocks.
  store.protected = new Set()
  try {
    const { own, foreign, damaged } = await components.records()
    if (foreign.length > 0) throw new SharedReplicaError({ foreign: foreign.length })
    // A damaged record's tree cannot be walked: its blocks would look dead. Nothing is removed.
    if (damaged.length > 0) throw new SnapshotDamagedError(damaged[0].id, `${damaged[0].reason}, so prune cannot tell which blocks it needs and removed nothing`)
    const live = new Set<Key>()
    for (const f of await store.forgetRecords()) live.add(keyOf(f.bytes))
    for (const s of own) {
      live.add(keyOf(CID.parse(s.id).bytes))
      const stack = [rootOf(s)]
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
    await store.flush()
    const current = store.log.tail?.segment
    const perSeg = new Map<number, { live: number, dead: number }>()
    const dead = new Set<Key>()
    for await (const { cid, loc } of store.entries()) {
      const k = keyOf(cid)
      const s = perSeg.get(loc.segment) ?? { live: 0, dead: 0 }
      perSeg.set(loc.segment, s)
      if (live.has(k) || store.protected.has(k)) s.live += loc.length
      else { s.dead += loc.length; dead.add(k); result.blocksRemoved++; result.bytesFreed += loc.length }
    }
    const rewrite = [...perSeg].filter(([seg, s]) => seg !== current && s.dead > 0 && s.live > 0 && s.dead / (s.live + s.dead) > 0.1).map(([seg]) => seg)
    const drop = [...perSeg].filter(([seg, s]) => seg !== current && s.live === 0).map(([seg]) => seg)
    // Segments no index entry points into (left by a crash). While a backup runs, its threads
    // may be filling segments they have not reported yet: leave every unindexed one alone then.
    if (store.writers === 0) for (const seg of store.log.segments()) if (!perSeg.has(seg) && seg !== current) drop.push(seg)
    if (rewrite.length > 0) {
      store.log.seal()
      for (const seg of rewrite) {
        for (const r of store.log.scan(seg, 0).records) {
          const k = keyOf(r.cid)
          if (dead.has(k)) continue
          const loc = await store.location(CID.decode(r.cid))
          if (loc === undefined || loc.segment !== seg) continue
          store.move(r.cid, r.id, store.log.read(r.location))
        }
        result.segmentsRewritten++
      }
      await store.flush()
    }
    await store.forgetBlocks(dead)
    for (const seg of [...rewrite, ...drop]) {
      await store.dropSegment(seg)
      if (drop.includes(seg)) result.segmentsDeleted++
    }
    return result
  } finally {
    store.protected = undefined
  }
}
