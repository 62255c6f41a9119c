// The blocks an archive of some snapshots needs, from their manifests (chunkstore/manifest.ts:
// every block a snapshot reaches, with its size): what an archive run copies, and what its
// archive set on the device claims (pack-block-store.ts, expiry counts these references).
import { CID } from 'multiformats/cid'
import { decodeManifestPage, LocalBlockStore, type Repository, type SnapshotRecord } from '../../chunkstore/index.ts'
import type { BlockSelection } from './block-copy.ts'

/**
 * The blocks of these snapshots plus their manifest pages, and their bytes. Undefined when one
 * of them has no manifest (made before manifests) or the store is not a local one: then the
 * whole store is copied.
 */
export async function snapshotSelection (repo: Repository, snaps: SnapshotRecord[]): Promise<(BlockSelection & { blocks: CID[], bytes: number }) | undefined> {
  if (!(repo.blocks instanceof LocalBlockStore)) return undefined
  const seen = new Map<string, CID>()
  let bytes = 0
  for (const s of snaps) {
    const root = CID.parse(s.id)
    const pages = await repo.blocks.manifestPages(root)
    if (pages === undefined) return undefined
    for (const p of pages) {
      const page = await repo.blocks.get(p)
      if (!seen.has(p.toString())) { seen.set(p.toString(), p); bytes += page.length }
      for (const e of decodeManifestPage(page)) {
        const cid = CID.decode(e.cid)
        const k = cid.toString()
        if (!seen.has(k)) { seen.set(k, cid); bytes += e.size }
      }
    }
  }
  return { blocks: [...seen.values()], roots: snaps.map(s => CID.parse(s.id)), bytes }
}
