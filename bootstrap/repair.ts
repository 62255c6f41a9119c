// Repair (F14) and fetching for DR restore (F13): blocks this node lacks, or holds corrupt,
// are fetched from peers that have them. Every fetched block is checked against its CID
// (ChunkSession.get) before the store sees it.
import type { ChunkSession } from './chunk-protocol.ts'
import type { BlockStore } from '../chunkstore/index.ts'
import { throwIfAborted, type AbortOptions } from '../crypto/index.ts'
import type { CID } from 'multiformats/cid'

export interface RepairResult {
  repaired: string[]
  /** CIDs no peer could supply, with the last reason. */
  failed: Array<{ cid: string, reason: string }>
}

/**
 * Fetches each CID from the first peer (in `peers` order) that says it has it and stores it.
 * A corrupt local copy must be replaceable by `put` for the repair to take effect.
 */
export async function repairBlocks (store: BlockStore, cids: CID[], peers: ChunkSession[], options: AbortOptions = {}): Promise<RepairResult> {
  const result: RepairResult = { repaired: [], failed: [] }
  const holders = await Promise.all(peers.map(async p => await p.have(cids, options).catch(() => cids.map(() => false))))
  for (let i = 0; i < cids.length; i++) {
    throwIfAborted(options.signal, 'The repair')
    let reason = 'no peer holds it'
    let done = false
    for (let j = 0; j < peers.length && !done; j++) {
      if (!holders[j][i]) continue
      try {
        const bytes = await peers[j].get(cids[i], options)
        await store.put(cids[i], bytes, options)
        done = true
      } catch (err: any) {
        reason = `${err?.name ?? 'Error'}: ${err?.message ?? String(err)}`
      }
    }
    if (done) result.repaired.push(cids[i].toString())
    else result.failed.push({ cid: cids[i].toString(), reason })
  }
  await store.flush()
  return result
}
