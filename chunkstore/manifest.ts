// Manifest pages (doc/design.md "Manifest page, manifest head, release"; doc/mesh.md "Retention
// at replicas"): which blocks a snapshot reaches — its record, every tree node, every chunk —
// with their sealed sizes, as plain blocks a replica can read without any key. Written here at
// backup time, while the keys and the tree are at hand; the mesh node signs a head naming them.
import { CID } from 'multiformats/cid'
import { BLOCK_CID_LENGTH } from './block-store.ts'
import { cidOf } from './codec.ts'
import { StoreCorruptError } from './errors.ts'
import { keyOf, type Key } from './index-layout.ts'
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
  const byKey = new Map<Key, ManifestEntry>()
  for (const e of entries) {
    if (e.cid.length !== BLOCK_CID_LENGTH) throw new RangeError('a manifest lists block CIDs (CIDv1, raw, sha2-256) only')
    byKey.set(keyOf(e.cid), e)
  }
  const sorted = [...byKey.values()].sort((a, b) => Buffer.compare(a.cid, b.cid))
  const pages: Uint8Array[] = []
  let from = 0
  for (let i = 0; i < sorted.length; i++) {
    const c = sorted[i].cid
    const cut = ((c[c.length - 2] << 8) | c[c.length - 1]) < CUT_BELOW
    if (cut || i - from + 1 === PAGE_ENTRIES || i === sorted.length - 1) {
      pages.push(encodePage(sorted.slice(from, i + 1)))
      from = i + 1
    }
  }
  return pages
}

function encodePage (entries: ManifestEntry[]): Uint8Array {
  const out = Buffer.alloc(8 + entries.length * ENTRY)
  MAGIC.copy(out, 0)
  out.writeUInt32BE(entries.length, 4)
  entries.forEach((e, i) => { out.set(e.cid, 8 + i * ENTRY); out.writeUInt32BE(e.size, 8 + i * ENTRY + BLOCK_CID_LENGTH) })
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
 * Stores a snapshot's manifest pages (each a plain block; pages the store holds already are
 * not written again) and lists them under the snapshot's root (`'p'`). Durable once it resolves.
 */
export async function writeManifest (store: LocalBlockStore, record: CID, entries: ManifestEntry[]): Promise<CID[]> {
  const pages = encodeManifestPages(entries)
  const cids: CID[] = []
  for (const page of pages) {
    const cid = cidOf(page)
    await store.put(cid, page)
    cids.push(cid)
  }
  await store.setManifestPages(record, cids)
  return cids
}
