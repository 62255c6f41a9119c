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
 * Every block of `from` that `to` lacks, then every snapshot root, then `to.flush()`: when it
 * resolves, the copy is durable on `to`. Roots go last so a root is never listed on `to`
 * before the blocks of its tree are durable there. Stopped (signal) or failed midway, what
 * `to` flushed stays; a rerun writes only what is still missing.
 */
export async function copyBlocks (from: BlockStore, to: BlockStore, options: AbortOptions & ProgressOptions<BlockCopyProgressEvent> & { only?: BlockSelection } = {}): Promise<BlockCopyResult> {
  const result: BlockCopyResult = { blocksWritten: 0, bytesWritten: 0, blocksPresent: 0, rootsAdded: 0 }
  let blocksSeen = 0
  let bytesSeen = 0
  if (options.only?.blocks !== undefined) {
    const { blocks } = options.only
    for (let at = 0; at < blocks.length; at += BATCH) {
      throwIfAborted(options.signal, 'The copy of blocks')
      const batch = blocks.slice(at, at + BATCH)
      const held = await to.hasMany(batch, options)
      const missing = batch.filter((_, i) => !held[i])
      result.blocksPresent += batch.length - missing.length
      bytesSeen += (await from.sizes(batch.filter((_, i) => held[i]), options)).reduce<number>((n, s) => n + (s ?? 0), 0)
      for await (const { index, bytes } of readBlocks(from, missing, { signal: options.signal, transient: false })) {
        await to.put(missing[index], bytes, options)
        result.blocksWritten++
        result.bytesWritten += bytes.length
        bytesSeen += bytes.length
      }
      blocksSeen += batch.length
      options.onProgress?.({ type: 'archive:copy', detail: { ...result, blocksSeen, bytesSeen } })
    }
    return await copyRoots(from, to, result, options.only.roots, options)
  }
  for await (const batch of locatedBlocks(from, BATCH, options)) {
    throwIfAborted(options.signal, 'The copy of blocks')
    const cids = Array.from({ length: batch.count }, (_, i) => CID.decode(batch.cids.subarray(i * BLOCK_CID_LENGTH, (i + 1) * BLOCK_CID_LENGTH)))
    const held = await to.hasMany(cids, options)
    const missing = new LocatedList()
    held.forEach((h, i) => { if (h) result.blocksPresent++; else missing.push(batch, i) })
    blocksSeen += batch.count
    for (let i = 0; i < batch.count; i++) bytesSeen += batch.lengths[i]
    if (missing.count > 0) {
      // A target with putMany (a local store) takes blocks in batches, one index lookup each;
      // the source's bytes are transient, so a batch holds copies.
      let group: Array<{ cid: CID, bytes: Uint8Array }> = []
      let groupBytes = 0
      const store = async (): Promise<void> => {
        const refused = (await storeBlocks(to, group, options)).find(e => e !== undefined)
        if (refused !== undefined) throw refused
        group = []
        groupBytes = 0
      }
      for await (const { index, bytes } of readLocatedBlocks(from, missing, options)) {
        const cid = CID.decode(missing.cid(index))
        if (to.putMany === undefined) await to.put(cid, bytes, options)
        else {
          group.push({ cid, bytes: new Uint8Array(bytes) })
          groupBytes += bytes.length
          if (groupBytes >= GROUP_BYTES) await store()
        }
        result.blocksWritten++
        result.bytesWritten += bytes.length
      }
      if (group.length > 0) await store()
    }
    options.onProgress?.({ type: 'archive:copy', detail: { ...result, blocksSeen, bytesSeen } })
  }
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
