import type { BlockLocation, RootOrigin } from './block-store.ts'

/**
 * The store's index (LevelDB), layout v1 (doc/design.md, "Index"): its keys and values, the one
 * place they are spelled. LocalBlockStore reads and writes it; `repair index`
 * (index-rebuild.ts) writes a whole index anew with `indexEntries`.
 *
 *   'b' cid      → u32le segment | u32le length | u64le offset   block location
 *   'i' id       → cid                                          dedup index (chunk id → CID)
 *   's' cid      → '' | JSON RootOrigin                         snapshot record roots ('' = backed up here)
 *   't' cid      → ''                                           forget records (snapshots forgotten; kept by prune)
 *   'p' cid      → page CID × n (36 bytes each)                 manifest pages of a snapshot backed up here (manifest.ts)
 *   'm' cid      → ''                                           its manifest was written after the snapshot (made before manifests existed)
 *   'r' cid      → ISO time                                     release intent: a snapshot backed up here was forgotten
 *   'l' cid      → JSON RootRetention                           at a replica: a root's manifest head and lock
 *   'q' cid      → release CID                                  at a replica: the release received for a root (kept after it is dropped)
 *   'u' n origin cid → u32le count                              at a replica: how many counted roots of the origin name the block (root-use.ts)
 *   'h' origin   → JSON { blocks, bytes }                        at a replica: the distinct blocks the origin's counted roots name
 *   'c' cid      → JSON { origin, blocks, bytes }                at a replica: the root is counted in 'u' and 'h' (its own totals)
 *   'g' u32be n  → u64le length                                 committed length of segment n
 *   'F'          → id filter (IdFilter format)                  written at a clean close
 *   'D'          → ''                                           present while open: the filter may be stale
 */
export const PREFIX = { block: 0x62, chunkId: 0x69, snapshot: 0x73, segment: 0x67, forget: 0x74, pages: 0x70, late: 0x6d, intent: 0x72, retention: 0x6c, release: 0x71, use: 0x75, held: 0x68, counted: 0x63 } as const
export const FILTER_KEY = Buffer.from('F')
export const DIRTY_KEY = Buffer.from('D')

/** A CID or chunk id as a map key: the latin1 string of its raw bytes (far fewer heap objects than typed arrays). */
export type Key = string
export const keyOf = (b: Uint8Array): Key => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1')
export const bytesOf = (k: Key): Buffer => Buffer.from(k, 'latin1')
export const prefixed = (p: number, b: Uint8Array): Buffer => { const k = Buffer.allocUnsafe(b.length + 1); k[0] = p; k.set(b, 1); return k }

export function encodeLoc (l: BlockLocation): Buffer {
  const v = Buffer.allocUnsafe(16)
  v.writeUInt32LE(l.segment, 0); v.writeUInt32LE(l.length, 4); v.writeBigUInt64LE(BigInt(l.offset), 8)
  return v
}

export function decodeLoc (v: Buffer): BlockLocation {
  return { segment: v.readUInt32LE(0), length: v.readUInt32LE(4), offset: Number(v.readBigUInt64LE(8)) }
}

export function segKey (n: number): Buffer { const k = Buffer.allocUnsafe(5); k[0] = PREFIX.segment; k.writeUInt32BE(n, 1); return k }

/** The index's entries, key and value, as written. */
export const indexEntries = {
  block: (cid: Uint8Array, loc: BlockLocation) => ({ key: prefixed(PREFIX.block, cid), value: encodeLoc(loc) }),
  chunkId: (id: Uint8Array, cid: Uint8Array) => ({ key: prefixed(PREFIX.chunkId, id), value: Buffer.from(cid) }),
  snapshot: (cid: Uint8Array) => ({ key: prefixed(PREFIX.snapshot, cid), value: Buffer.alloc(0) }),
  forget: (cid: Uint8Array) => ({ key: prefixed(PREFIX.forget, cid), value: Buffer.alloc(0) }),
  intent: (cid: Uint8Array, time: string) => ({ key: prefixed(PREFIX.intent, cid), value: Buffer.from(time) }),
  segment: (n: number, length: number) => { const value = Buffer.alloc(8); value.writeBigUInt64LE(BigInt(length)); return { key: segKey(n), value } }
}

/** A root's origin as stored; a value that does not parse is shown as an unknown site rather than failing the listing. */
export function parseOrigin (value: Uint8Array): RootOrigin {
  try {
    const o = JSON.parse(Buffer.from(value).toString('utf8'))
    if (typeof o?.site === 'string' && typeof o?.received === 'string') return { site: o.site, received: o.received }
  } catch {}
  return { site: 'unknown', received: '' }
}
