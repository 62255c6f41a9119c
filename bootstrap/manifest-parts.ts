// A root's manifest as a replica reads it (doc/mesh.md "Retention at replicas"): part by part,
// so that no step holds more than one page of it, whatever the snapshot's size (SPEC N4).
import { CID } from 'multiformats/cid'
import { BlockNotFoundError, decodeManifestPage, keyOf, type Key, type LocalBlockStore } from '../chunkstore/index.ts'
import type { ManifestHead } from './snapshot-manifest.ts'

/** A block a manifest names, with its size. */
export interface Listed { key: Key, size: number, cid: Uint8Array }

/**
 * Part 0: the head and its pages (as stored); part i > 0: the entries of page i - 1. With
 * `distinct`, a page's entries less any block part 0 names (so that every part names a block
 * at most once). Throws BlockNotFoundError for a page the store lacks and StoreCorruptError
 * for one that is not a manifest page.
 */
export interface ManifestParts {
  head: ManifestHead
  count: number
  part: (i: number, options?: { distinct?: boolean }) => Promise<Listed[]>
}

export async function manifestParts (store: LocalBlockStore, head: CID, h: ManifestHead): Promise<ManifestParts> {
  const pages = h.pages.map(p => CID.parse(p))
  const sizes = await store.sizes([head, ...pages])
  const first: Listed[] = [head, ...pages].map((c, i) => {
    const size = sizes[i]
    if (size === undefined) throw new BlockNotFoundError(c.toString())
    return { key: keyOf(c.bytes), size, cid: c.bytes }
  })
  const inFirst = new Set(first.map(b => b.key))
  return {
    head: h,
    count: pages.length + 1,
    async part (i, options) {
      if (i === 0) return first
      const out: Listed[] = []
      for (const e of decodeManifestPage(await store.get(pages[i - 1]))) {
        const key = keyOf(e.cid)
        if (options?.distinct !== true || !inFirst.has(key)) out.push({ key, size: e.size, cid: e.cid })
      }
      return out
    }
  }
}
