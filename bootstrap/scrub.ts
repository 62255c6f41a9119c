// Scrub (F14): every block a store holds is read back and hashed against its CID, without
// any key, so a replica can scrub what it cannot read. What is unreadable or no longer
// matches is listed for repair from other members (repair.ts).
import { BlockNotFoundError, CorruptBlockError, type BlockStore } from '../chunkstore/index.ts'
import { throwIfAborted, type AbortOptions, type ProgressEvent, type ProgressOptions } from '../crypto/index.ts'
import type { CID } from 'multiformats/cid'

export interface ScrubProgress {
  blocksChecked: number
  bytesChecked: number
}

/** How far a scrub is: every 256 blocks. */
export type ScrubProgressEvent = ProgressEvent<'scrub:progress', ScrubProgress>

export interface StoreScrub {
  blocksChecked: number
  bytesChecked: number
  /** Blocks indexed but unreadable, or whose bytes no longer match their CID. */
  bad: CID[]
}


export async function scrubStore (store: BlockStore, options: AbortOptions & ProgressOptions<ScrubProgressEvent> = {}): Promise<StoreScrub> {
  const out: StoreScrub = { blocksChecked: 0, bytesChecked: 0, bad: [] }
  for await (const cid of store.cids({ signal: options.signal })) {
    throwIfAborted(options.signal, 'The scrub')
    try {
      out.bytesChecked += (await store.get(cid, { verify: true, signal: options.signal })).byteLength
    } catch (err) {
      // The store's own errors for a block it cannot give back intact; anything else is a real failure.
      if (!(err instanceof CorruptBlockError || err instanceof BlockNotFoundError)) throw err
      out.bad.push(cid)
    }
    out.blocksChecked++
    if (out.blocksChecked % 256 === 0) options.onProgress?.({ type: 'scrub:progress', detail: { blocksChecked: out.blocksChecked, bytesChecked: out.bytesChecked } })
  }
  return out
}
