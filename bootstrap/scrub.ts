// Scrub (F14): every block a store holds is read back and hashed against its CID, without
// any key, so a replica can scrub what it cannot read. What is unreadable or no longer
// matches is listed for repair from other members (repair.ts).
import { BlockNotFoundError, CorruptBlockError, type BlockStore } from '../chunkstore/index.ts'
import type { CID } from 'multiformats/cid'

export interface StoreScrub {
  blocksChecked: number
  bytesChecked: number
  /** Blocks indexed but unreadable, or whose bytes no longer match their CID. */
  bad: CID[]
}


export async function scrubStore (store: BlockStore, options: { signal?: AbortSignal, onProgress?: (p: Omit<StoreScrub, 'bad'>) => void } = {}): Promise<StoreScrub> {
  const out: StoreScrub = { blocksChecked: 0, bytesChecked: 0, bad: [] }
  for await (const cid of store.cids()) {
    options.signal?.throwIfAborted()
    try {
      out.bytesChecked += (await store.get(cid, { verify: true })).byteLength
    } catch (err) {
      // The store's own errors for a block it cannot give back intact; anything else is a real failure.
      if (!(err instanceof CorruptBlockError || err instanceof BlockNotFoundError)) throw err
      out.bad.push(cid)
    }
    out.blocksChecked++
    if (out.blocksChecked % 256 === 0) options.onProgress?.({ blocksChecked: out.blocksChecked, bytesChecked: out.bytesChecked })
  }
  return out
}
