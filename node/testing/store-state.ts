// What a store folder holds, read with the store closed to every other process: each block's
// CID, and a replica's retention entries (manifest heads, lock records, releases).
import { CID } from 'multiformats/cid'
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

/**
 * Each block the store's index lists, with the bytes it occupies in its segment (read with the
 * store closed to every other process), and which of them are forget records: an account of a
 * store's space that does not go through any snapshot's tree or manifest.
 */
export async function storeBlockSizes (dir: string): Promise<{ sizes: Map<string, number>, forgetRecords: Set<string> }> {
  const s = await openStore(dir)
  try {
    const sizes = new Map<string, number>()
    for await (const { cid, loc } of s.blocks.entries()) sizes.set(CID.decode(cid).toString(), loc.length)
    return { sizes, forgetRecords: new Set((await s.blocks.forgetRecords()).map(c => c.toString())) }
  } finally {
    await s.close()
  }
}
