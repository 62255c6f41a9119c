// What a store folder holds, read with the store closed to every other process: each block's
// CID, and a replica's retention entries (manifest heads, lock records, releases).
import { openStore } from '../mesh/index.ts'

export interface StoreState { blocks: Set<string>, heads: string[], records: string[], releases: string[] }

export async function storeState (dir: string): Promise<StoreState> {
  const s = await openStore(dir)
  try {
    const blocks = new Set<string>()
    for await (const cid of s.blocks.cids()) blocks.add(cid.toString())
    const locks = await s.blocks.retentions()
    return { blocks, heads: locks.map(r => r.retention.head), records: locks.flatMap(r => r.retention.record ?? []), releases: (await s.blocks.releases()).map(r => r.release.toString()) }
  } finally {
    await s.close()
  }
}
