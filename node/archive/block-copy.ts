// Copies blocks and snapshot roots from one BlockStore to another: archiving (the store to a
// device) and restoring from an archive (a device to a fresh store) are the same operation
// in opposite directions, and both see only sealed bytes — never a key or plaintext.
import { LocatedList, locatedBlocks, readBlocks, readLocatedBlocks, storeBlocks, BLOCK_CID_LENGTH, type BlockStore } from '../../chunkstore/index.ts'
import { throwIfAborted, type AbortOptions, type ProgressEvent, type ProgressOptions } from '../../crypto/index.ts'
import { CID } from 'multiformats/cid'

export interface BlockCopyResult {
  /** Blocks written to the target, and their bytes. */
  blocksWritten: number
  bytesWritten: number
  /** Blocks the target held already (dedup against its catalogue). */
  blocksPresent: number
  /** Snapshot roots listed on the target by this copy. */
  rootsAdded: number
}

export type BlockCopyProgressEvent = ProgressEvent<'archive:copy', BlockCopyResult & { blocksSeen: number, bytesSeen: number }>

/**
 * A part of the source to copy instead of all of it (an archive task's chosen snapshots): these
 * snapshot roots, and these blocks, each of which `from` must hold — or, without `blocks`,
 * every block `to` lacks (a restore from a device, which has no manifest of a root's blocks).
 */
export interface BlockSelection { blocks?: CID[], roots: CID[] }

const BATCH = 4096
const GROUP_BYTES = 8 << 20
/**
 * Blocks the target lacks are gathered over many lookup batches and read in one pass of up to
 * this many: a local store then reads them in disk order in large spans. Read batch by batch,
 * the 4,096 blocks of a batch (in CID order) lie scattered over every segment, each its own
 * small read (issue 16: 0.08× of `cp -r`). About 60 bytes a block while gathered.
 */
const ROUND = 1 << 18

/**
 * Every block of `from` that `to` lacks, then every snapshot root, then `to.flush()`: when it
 * resolves, the copy is durable on `to`. Roots go last so a root is never listed on `to`
 * before the blocks of its tree are durable there. Stopped (signal) or failed midway, what
 * `to` flushed stays; a rerun writes only what is still missing.
 */
export async function copyBlocks (from: BlockStore, to: BlockStore, options: AbortOptions & ProgressOptions<BlockCopyProgressEvent> & { only?: BlockSelection } = {}): Promise<BlockCopyResult> {
  const result: BlockCopyResult = { blocksWritten: 0, bytesWritten: 0, blocksPresent: 0, rootsAdded: 0 }
  let blocksSeen = 0
  let bytesSeen = 0
  const progress = (): void => { options.onProgress?.({ type: 'archive:copy', detail: { ...result, blocksSeen, bytesSeen } }) }
  // The target takes blocks in groups (one index lookup, one hash pass each, for a store with
  // putMany); the source's bytes are transient, so a group holds copies.
  let group: Array<{ cid: CID, bytes: Uint8Array }> = []
  let groupBytes = 0
  const store = async (): Promise<void> => {
    if (group.length > 0) {
      const refused = (await storeBlocks(to, group, options)).find(e => e !== undefined)
      if (refused !== undefined) throw refused
      group = []
      groupBytes = 0
    }
    progress()
  }
  const take = async (cid: CID, bytes: Uint8Array): Promise<void> => {
    if (to.putMany === undefined) await to.put(cid, bytes, options)
    else {
      group.push({ cid, bytes: new Uint8Array(bytes) })
      groupBytes += bytes.length
    }
    result.blocksWritten++
    result.bytesWritten += bytes.length
    blocksSeen++
    bytesSeen += bytes.length
    if (to.putMany === undefined ? result.blocksWritten % 256 === 0 : groupBytes >= GROUP_BYTES) await store()
  }

  if (options.only?.blocks !== undefined) {
    const { blocks } = options.only
    let missing: CID[] = []
    const copy = async (): Promise<void> => {
      for await (const { index, bytes } of readBlocks(from, missing, { signal: options.signal, transient: true })) await take(missing[index], bytes)
      await store()
      missing = []
    }
    for (let at = 0; at < blocks.length; at += BATCH) {
      throwIfAborted(options.signal, 'The copy of blocks')
      const batch = blocks.slice(at, at + BATCH)
      const held = await to.hasMany(batch, options)
      const present = batch.filter((_, i) => held[i])
      result.blocksPresent += present.length
      blocksSeen += present.length
      bytesSeen += (await from.sizes(present, options)).reduce<number>((n, s) => n + (s ?? 0), 0)
      batch.forEach((c, i) => { if (!held[i]) missing.push(c) })
      if (missing.length >= ROUND) await copy()
      else progress()
    }
    await copy()
    return await copyRoots(from, to, result, options.only.roots, options)
  }
  let missing = new LocatedList()
  const copy = async (): Promise<void> => {
    const round = missing
    missing = new LocatedList()
    if (round.count === 0) return
    for await (const { index, bytes } of readLocatedBlocks(from, round, options)) await take(CID.decode(round.cid(index)), bytes)
    await store()
  }
  for await (const batch of locatedBlocks(from, BATCH, options)) {
    throwIfAborted(options.signal, 'The copy of blocks')
    const cids = Array.from({ length: batch.count }, (_, i) => CID.decode(batch.cids.subarray(i * BLOCK_CID_LENGTH, (i + 1) * BLOCK_CID_LENGTH)))
    const held = await to.hasMany(cids, options)
    held.forEach((h, i) => {
      if (!h) { missing.push(batch, i); return }
      result.blocksPresent++
      blocksSeen++
      bytesSeen += batch.lengths[i]
    })
    if (missing.count >= ROUND) await copy()
    else progress()
  }
  await copy()
  return await copyRoots(from, to, result, options.only?.roots, options)
}

/** Blocks first, durable, then the roots that name them (all of `from`'s, or `only` those). */
async function copyRoots (from: BlockStore, to: BlockStore, result: BlockCopyResult, only: CID[] | undefined, options: AbortOptions): Promise<BlockCopyResult> {
  await to.flush(options)
  const have = new Set((await to.snapshotRoots(options)).map(c => c.toString()))
  const all = from.snapshotRootOrigins !== undefined ? await from.snapshotRootOrigins(options) : (await from.snapshotRoots(options)).map(cid => ({ cid, origin: undefined }))
  const wanted = only === undefined ? undefined : new Set(only.map(c => c.toString()))
  const roots = wanted === undefined ? all : all.filter(r => wanted.has(r.cid.toString()))
  for (const { cid, origin } of roots) {
    if (have.has(cid.toString())) continue
    await to.addSnapshotRoot(cid, origin, options)
    result.rootsAdded++
  }
  await to.flush(options)
  return result
}

export interface ArchiveVerifyResult { blocks: number, bytes: number, bad: Array<{ cid: string, error: string }> }

/** Reads back every block of `store` and checks it against its CID (an archive's verify job). */
export type ArchiveVerifyProgressEvent = ProgressEvent<'archive:verify', { blocks: number, bytes: number, bad: number }>

export async function verifyBlocks (store: BlockStore, options: AbortOptions & ProgressOptions<ArchiveVerifyProgressEvent> = {}): Promise<ArchiveVerifyResult> {
  const out: ArchiveVerifyResult = { blocks: 0, bytes: 0, bad: [] }
  for await (const cid of store.cids(options)) {
    if (out.blocks % 256 === 0) options.onProgress?.({ type: 'archive:verify', detail: { blocks: out.blocks, bytes: out.bytes, bad: out.bad.length } })
    try {
      out.bytes += (await store.get(cid, { ...options, verify: true })).length
    } catch (err) {
      if (options.signal?.aborted === true) throw err
      out.bad.push({ cid: cid.toString(), error: (err as Error).message })
    }
    out.blocks++
  }
  return out
}
