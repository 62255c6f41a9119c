// Manifest pages (doc/design.md "Manifest page, manifest head, release"; doc/mesh.md "Retention
// at replicas"): which blocks a snapshot reaches — its record, every tree node, every chunk —
// with their sealed sizes, as plain blocks a replica can read without any key. Written here at
// backup time, while the keys and the tree are at hand; the mesh node signs a head naming them.
import { CID } from 'multiformats/cid'
import { BLOCK_CID_LENGTH } from './block-store.ts'
import { cidOf } from './codec.ts'
import { StoreCorruptError } from './errors.ts'
import { bytesOf, keyOf, type Key } from './index-layout.ts'
import type { LocalBlockStore } from './local-block-store.ts'
import type { TreeNode } from './tree-node.ts'

const MAGIC = Buffer.from('CMP1')
const ENTRY = BLOCK_CID_LENGTH + 4
/** Entries per page at most; a page is cut earlier after an entry whose digest ends below CUT_BELOW (u16be). */
export const PAGE_ENTRIES = 4096
const CUT_BELOW = 64
/** The binary prefix of every block CID: v1, raw, sha2-256, 32 bytes. */
const CID_PREFIX = Buffer.from([0x01, 0x55, 0x12, 0x20])

export interface ManifestEntry { cid: Uint8Array, size: number }

/** Sorts and de-duplicates `entries` by CID bytes and cuts them into pages at content-defined points. */
export function encodeManifestPages (entries: Iterable<ManifestEntry>): Uint8Array[] {
  const sizes = new Map<Key, number>()
  for (const e of entries) {
    if (e.cid.length !== BLOCK_CID_LENGTH) throw new RangeError('a manifest lists block CIDs (CIDv1, raw, sha2-256) only')
    sizes.set(keyOf(e.cid), e.size)
  }
  return cutPages([...sizes.keys()].sort(), sizes)
}

/**
 * Pages of `sorted` (block CIDs as keys, sorted). Keys are latin1 strings of the bytes, so
 * string order is byte order, and sorting them is far cheaper than Buffer.compare.
 */
function cutPages (sorted: Key[], sizes: Map<Key, number>): Uint8Array[] {
  const pages: Uint8Array[] = []
  let from = 0
  for (let i = 0; i < sorted.length; i++) {
    const k = sorted[i]
    const cut = ((k.charCodeAt(k.length - 2) << 8) | k.charCodeAt(k.length - 1)) < CUT_BELOW
    if (cut || i - from + 1 === PAGE_ENTRIES || i === sorted.length - 1) {
      pages.push(encodePage(sorted, from, i + 1, sizes))
      from = i + 1
    }
  }
  return pages
}

function encodePage (sorted: Key[], from: number, to: number, sizes: Map<Key, number>): Uint8Array {
  const out = Buffer.alloc(8 + (to - from) * ENTRY)
  MAGIC.copy(out, 0)
  out.writeUInt32BE(to - from, 4)
  for (let i = from, at = 8; i < to; i++, at += ENTRY) {
    out.write(sorted[i], at, 'latin1')
    out.writeUInt32BE(sizes.get(sorted[i])!, at + BLOCK_CID_LENGTH)
  }
  return out
}

/** Decodes a page; anything but the exact format (sorted, unique block CIDs, 1–4096 entries) is a StoreCorruptError. */
export function decodeManifestPage (bytes: Uint8Array): ManifestEntry[] {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const bad = (why: string): never => { throw new StoreCorruptError(`not a manifest page: ${why}`) }
  if (b.length < 8 || !b.subarray(0, 4).equals(MAGIC)) bad('no CMP1 magic')
  const n = b.readUInt32BE(4)
  if (n < 1 || n > PAGE_ENTRIES) bad(`${n} entries`)
  if (b.length !== 8 + n * ENTRY) bad(`${b.length} bytes for ${n} entries`)
  const out: ManifestEntry[] = []
  for (let i = 0; i < n; i++) {
    const at = 8 + i * ENTRY
    const cid = b.subarray(at, at + BLOCK_CID_LENGTH)
    if (!cid.subarray(0, 4).equals(CID_PREFIX)) bad(`entry ${i} is not a block CID`)
    if (i > 0 && Buffer.compare(out[i - 1].cid, cid) >= 0) bad('entries are not sorted and unique')
    out.push({ cid: new Uint8Array(cid), size: b.readUInt32BE(at + BLOCK_CID_LENGTH) })
  }
  return out
}

/**
 * Every block a snapshot reaches — its record block, the tree nodes below its root, every
 * chunk — with the sizes the store holds them at. Reads tree nodes only (through `loadNode`,
 * which needs the keys); a block the store lacks is an error (the snapshot is not whole).
 */
export async function snapshotBlocks (store: LocalBlockStore, record: CID, root: { cid: CID, id: Uint8Array }, loadNode: (ref: { cid: CID, id: Uint8Array }) => Promise<TreeNode>): Promise<ManifestEntry[]> {
  const seen = new Map<Key, Uint8Array>()
  const note = (c: CID): void => { seen.set(keyOf(c.bytes), c.bytes) }
  note(record)
  const stack = [root]
  const walked = new Set<Key>()
  while (stack.length > 0) {
    const ref = stack.pop()!
    const k = keyOf(ref.cid.bytes)
    if (walked.has(k)) continue
    walked.add(k)
    note(ref.cid)
    const node = await loadNode(ref)
    if (node.kind === 'dir') {
      for (const e of node.entries) if (e.inline !== undefined) note(e.cid); else stack.push(e)
    } else if (node.kind === 'file') for (const c of node.chunks) note(c.cid)
  }
  const cids = [...seen.values()]
  const sizes = await store.sizes(cids.map(c => CID.decode(c)))
  return cids.map((cid, i) => {
    const size = sizes[i]
    if (size === undefined) throw new StoreCorruptError(`block ${CID.decode(cid).toString()} of snapshot ${record.toString()} is not stored`)
    return { cid, size }
  })
}

/**
 * The blocks a snapshot being written reaches, noted as the backup writes or reuses them, so
 * that its manifest needs no second walk of its tree. A block written but never linked (a file
 * that failed after its chunks were stored) is left out. Sizes not noted are taken from the
 * parent snapshot's pages, then from the index.
 */
export class ReachedBlocks {
  /** > 0: reached, sealed size known; 0: reached, size unknown; < 0: written (size −v), not reached (yet). */
  private readonly blocks = new Map<Key, number>()

  /** A block this backup stored, whether or not the snapshot ends up linking it. */
  wrote (cid: Uint8Array, size: number): void {
    const k = keyOf(cid)
    const v = this.blocks.get(k)
    if (v === undefined) this.blocks.set(k, -size)
    else if (v === 0) this.blocks.set(k, size)
  }

  /** A block the snapshot links (a tree node, a chunk, the record). */
  reached (cid: Uint8Array, size = 0): void {
    if (cid.length !== BLOCK_CID_LENGTH) throw new RangeError('a manifest lists block CIDs (CIDv1, raw, sha2-256) only')
    const k = keyOf(cid)
    const v = this.blocks.get(k)
    if (v === undefined || v === 0) this.blocks.set(k, size)
    else if (v < 0) this.blocks.set(k, -v)
  }

  /**
   * The snapshot's manifest pages. `parentPages`: the parent snapshot's, which hold the size of
   * every block reused from it; a page that cannot be read only costs index lookups. A block
   * the store lacks is a StoreCorruptError (the snapshot is not whole).
   */
  async pages (store: LocalBlockStore, parentPages: CID[] = []): Promise<Uint8Array[]> {
    const { blocks } = this
    let unknown = 0
    for (const [k, v] of blocks) if (v < 0) blocks.delete(k); else if (v === 0) unknown++
    for (const page of parentPages) {
      if (unknown === 0) break
      let listed: ManifestEntry[]
      try { listed = decodeManifestPage(await store.get(page)) } catch { continue }
      for (const e of listed) {
        const k = keyOf(e.cid)
        if (blocks.get(k) === 0) { blocks.set(k, e.size); unknown-- }
      }
    }
    if (unknown > 0) {
      const keys = [...blocks].filter(([, v]) => v === 0).map(([k]) => k)
      for (let i = 0; i < keys.length; i += SIZE_BATCH) {
        const batch = keys.slice(i, i + SIZE_BATCH)
        const sizes = await store.sizes(batch.map(k => CID.decode(bytesOf(k))))
        batch.forEach((k, j) => {
          const size = sizes[j]
          if (size === undefined) throw new StoreCorruptError(`block ${CID.decode(bytesOf(k)).toString()} of the snapshot being written is not stored`)
          blocks.set(k, size)
        })
      }
    }
    return cutPages([...blocks.keys()].sort(), blocks)
  }
}

const SIZE_BATCH = 8192

/**
 * Stores a snapshot's manifest pages (each a plain block; pages the store holds already are
 * not written again) and lists them under the snapshot's root (`'p'`). Durable once it resolves.
 */
export async function writeManifest (store: LocalBlockStore, record: CID, pages: Uint8Array[], options: { late?: boolean } = {}): Promise<CID[]> {
  const cids: CID[] = []
  for (const page of pages) {
    const cid = cidOf(page)
    await store.put(cid, page)
    cids.push(cid)
  }
  await store.setManifestPages(record, cids, options)
  return cids
}

/** What `snapshotsStoredBytes` counted: each block once, however many of the snapshots reach it. */
export interface StoredBytes { bytes: number, blocks: number }

/**
 * The bytes the blocks of `snapshots` occupy in the store, each block counted once however many
 * of them reach it (restic's `stats --mode raw-data`): every block a snapshot's manifest lists
 * (its record, tree nodes, chunks) and the manifest pages themselves, at the sizes the store
 * holds them. A snapshot without a manifest (made before manifests, or received) is walked with
 * `walk` instead. What this figure does not count: the index, segment headers, dead blocks a
 * prune has not reclaimed yet, and forget records.
 */
export async function snapshotsStoredBytes (store: LocalBlockStore, snapshots: Array<{ record: CID, walk: () => Promise<ManifestEntry[]> }>): Promise<StoredBytes> {
  const sizes = new Map<Key, number>()
  for (const s of snapshots) {
    const pages = await store.manifestPages(s.record)
    if (pages === undefined) {
      for (const e of await s.walk()) sizes.set(keyOf(e.cid), e.size)
      continue
    }
    const pageSizes = await store.sizes(pages)
    for (let i = 0; i < pages.length; i++) {
      const k = keyOf(pages[i].bytes)
      if (sizes.has(k)) continue // an identical page another snapshot listed: its entries are counted
      const size = pageSizes[i]
      if (size === undefined) throw new StoreCorruptError(`manifest page ${pages[i].toString()} of snapshot ${s.record.toString()} is not stored`)
      sizes.set(k, size)
      for (const e of decodeManifestPage(await store.get(pages[i]))) sizes.set(keyOf(e.cid), e.size)
    }
  }
  let bytes = 0
  for (const size of sizes.values()) bytes += size
  return { bytes, blocks: sizes.size }
}
