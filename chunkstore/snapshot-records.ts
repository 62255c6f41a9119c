import { CID } from 'multiformats/cid'
import { OperationAbortedError, openRecord, sealRecord } from '../crypto/index.ts'
import type { AbortOptions, SpaceKeys } from '../crypto/index.ts'
import { cidOf } from './codec.ts'
import { BlockNotFoundError } from './errors.ts'
import type { LocalBlockStore } from './local-block-store.ts'
import type { SnapshotRecord } from './types.ts'
import { encodeManifestPages, snapshotBlocks, writeManifest } from './manifest.ts'
import type { ReachedBlocks } from './manifest.ts'
import type { TreeNode } from './tree-node.ts'

// Snapshot and forget records (doc/design.md, "Snapshots" and "Forget records"): small JSON
// documents sealed with the store's record key, each a block of its own that the index lists
// (snapshot roots, forget records). The one place their format is read and written.

/** A snapshot record's sealed body, version 1. */
export interface RecordBody {
  v: 1
  root: string
  rootId: string
  time: string
  host: string
  task: string
  paths: string[]
  level: SnapshotRecord['level']
  parent?: string
  stats: SnapshotRecord['stats']
  repaired?: SnapshotRecord['repaired']
}

/** A snapshot of this store with its root's chunk id (what it takes to open the root). */
export type OwnSnapshot = SnapshotRecord & { rootId?: string }

/** A snapshot listed in the index whose record cannot be read. */
export interface DamagedSnapshot { id: string, reason: string }

/** The snapshot records the index lists, sorted out by whether this store's keys read them. */
export interface SnapshotRecords { own: OwnSnapshot[], foreign: CID[], damaged: DamagedSnapshot[] }

export function parseRecordBody (plain: Uint8Array): RecordBody | undefined {
  try {
    const b = JSON.parse(Buffer.from(plain).toString()) as RecordBody
    if (b.v !== 1 || typeof b.root !== 'string' || typeof b.rootId !== 'string' || typeof b.time !== 'string') return undefined
    CID.parse(b.root)
    return b
  } catch {
    return undefined
  }
}

export function toRecord (cid: CID, b: RecordBody): SnapshotRecord {
  return { id: cid.toString(), root: b.root, time: b.time, host: b.host, task: b.task, paths: b.paths, level: b.level, ...(b.parent !== undefined ? { parent: b.parent } : {}), stats: b.stats, ...(b.repaired !== undefined ? { repaired: b.repaired } : {}) }
}

/** A snapshot's root tree node, by CID and chunk id. */
export function rootOf (r: OwnSnapshot): { cid: CID, id: Uint8Array } {
  return { cid: CID.parse(r.root), id: new Uint8Array(Buffer.from(r.rootId!, 'base64')) }
}

/**
 * What a sealed block is, if it is a record of this store (`repair index` finds them so):
 * a snapshot record, or a forget record with the ids it forgets.
 */
export function recordKind (keys: SpaceKeys, block: Uint8Array): { kind: 'snapshot' } | { kind: 'forget', ids: string[], time?: string } | undefined {
  const plain = openRecord(keys, block)
  if (plain === null) return undefined
  let body: { v?: number, root?: unknown, forget?: unknown, time?: unknown }
  try { body = JSON.parse(Buffer.from(plain).toString()) } catch { return undefined }
  if (body.v !== 1) return undefined
  if (typeof body.root === 'string') return { kind: 'snapshot' }
  if (Array.isArray(body.forget)) return { kind: 'forget', ids: body.forget.map(String), ...(typeof body.time === 'string' ? { time: body.time } : {}) }
  return undefined
}

/**
 * The snapshot records the index lists, opened, and the CIDs of those of other stores: a mesh
 * replica (F13) holds several sites' blocks, so a DR site opens it with one site's keys and
 * sees that site's snapshots. A record is another store's only if its bytes match its CID and
 * still do not open. A record that is missing or whose bytes no longer match is `damaged`:
 * reported for itself, while the others keep working.
 */
export async function readSnapshotRecords (keys: SpaceKeys, blocks: LocalBlockStore, options: AbortOptions = {}): Promise<SnapshotRecords> {
  const own: OwnSnapshot[] = []
  const foreign: CID[] = []
  const damaged: DamagedSnapshot[] = []
  for (const cid of await blocks.snapshotRoots(options)) {
    let plain: Uint8Array | null
    try {
      plain = openRecord(keys, await blocks.get(cid, { verify: true, signal: options.signal }))
    } catch (err) {
      if (err instanceof OperationAbortedError) throw err
      damaged.push({ id: cid.toString(), reason: err instanceof BlockNotFoundError ? 'its record block is missing' : 'its record block no longer matches its id' })
      continue
    }
    if (plain === null) { foreign.push(cid); continue }
    const body = parseRecordBody(plain)
    if (body === undefined) { damaged.push({ id: cid.toString(), reason: 'its record does not decode' }); continue }
    own.push({ ...toRecord(cid, body), rootId: body.rootId })
  }
  return { own, foreign, damaged }
}

/**
 * Where a snapshot's manifest comes from: the blocks its backup noted as it went (with the
 * parent snapshot's pages for the sizes of what it reused), or a walk of its tree (`loadNode`
 * opens its nodes) for a snapshot written without such a list.
 */
export type ManifestSource = { reached: ReachedBlocks, parentPages?: CID[] } | { loadNode: (ref: { cid: CID, id: Uint8Array }) => Promise<TreeNode> }

/**
 * Seals a snapshot record, stores it, writes the snapshot's manifest pages (manifest.ts: every
 * block it reaches, for the replicas that hold it) and lists it as a snapshot root (durable
 * when this resolves). The pages are listed before the root, so a listed root made here always
 * has its manifest.
 */
export async function writeSnapshotRecord (keys: SpaceKeys, blocks: LocalBlockStore, body: RecordBody, manifest: ManifestSource): Promise<CID> {
  const sealed = sealRecord(keys, Buffer.from(JSON.stringify(body)))
  const cid = cidOf(sealed)
  blocks.append(cid.bytes, undefined, sealed)
  let pages: Uint8Array[]
  if ('reached' in manifest) {
    manifest.reached.reached(cid.bytes, sealed.length)
    pages = await manifest.reached.pages(blocks, manifest.parentPages)
  } else {
    const root = { cid: CID.parse(body.root), id: new Uint8Array(Buffer.from(body.rootId, 'base64')) }
    pages = encodeManifestPages(await snapshotBlocks(blocks, cid, root, manifest.loadNode))
  }
  await writeManifest(blocks, cid, pages)
  await blocks.addSnapshotRoot(cid)
  return cid
}

/**
 * Writes a forget record naming `ids` (so that "repair index" never brings them back), then
 * drops their roots. A crash between the two leaves them listed; the forget record wins at
 * the next "repair index".
 */
export async function writeForgetRecord (keys: SpaceKeys, blocks: LocalBlockStore, ids: string[]): Promise<void> {
  if (ids.length === 0) return
  const time = new Date().toISOString()
  const sealed = sealRecord(keys, Buffer.from(JSON.stringify({ v: 1, forget: ids, time })))
  const cid = cidOf(sealed)
  blocks.append(cid.bytes, undefined, sealed)
  await blocks.addForgetRecord(cid)
  // The release intents carry the forget record's time: `repair index` writes them again from it.
  for (const id of ids) await blocks.removeSnapshotRoot(CID.parse(id), time)
}
