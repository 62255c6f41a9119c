// Copies blocks and snapshot roots from one BlockStore to another: archiving (the store to a
// device) and restoring from an archive (a device to a fresh store) are the same operation
// in opposite directions, and both see only sealed bytes — never a key or plaintext.
import { LocatedList, locatedBlocks, readLocatedBlocks, storeBlocks, BLOCK_CID_LENGTH, type BlockStore } from '../../chunkstore/index.ts'
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

export type BlockCopyProgressEvent = ProgressEvent<'archive:copy', BlockCopyResult & { blocksSeen: number }>

const BATCH = 4096
const GROUP_BYTES = 8 << 20

/**
 * Every block of `from` that `to` lacks, then every snapshot root, then `to.flush()`: when it
 * resolves, the copy is durable on `to`. Roots go last so a root is never listed on `to`
 * before the blocks of its tree are durable there. Stopped (signal) or failed midway, what
 * `to` flushed stays; a rerun writes only what is still missing.
 */
export async function copyBlocks (from: BlockStore, to: BlockStore, options: AbortOptions & ProgressOptions<BlockCopyProgressEvent> = {}): Promise<BlockCopyResult> {
  const result: BlockCopyResult = { blocksWritten: 0, bytesWritten: 0, blocksPresent: 0, rootsAdded: 0 }
  let blocksSeen = 0
  for await (const batch of locatedBlocks(from, BATCH, options)) {
    throwIfAborted(options.signal, 'The copy of blocks')
    const cids = Array.from({ length: batch.count }, (_, i) => CID.decode(batch.cids.subarray(i * BLOCK_CID_LENGTH, (i + 1) * BLOCK_CID_LENGTH)))
    const held = await to.hasMany(cids, options)
    const missing = new LocatedList()
    held.forEach((h, i) => { if (h) result.blocksPresent++; else missing.push(batch, i) })
    blocksSeen += batch.count
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
    options.onProgress?.({ type: 'archive:copy', detail: { ...result, blocksSeen } })
  }
  // Blocks first, durable, then the roots that name them.
  await to.flush(options)
  const have = new Set((await to.snapshotRoots(options)).map(c => c.toString()))
  const roots = from.snapshotRootOrigins !== undefined ? await from.snapshotRootOrigins(options) : (await from.snapshotRoots(options)).map(cid => ({ cid, origin: undefined }))
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
export async function verifyBlocks (store: BlockStore, options: AbortOptions = {}): Promise<ArchiveVerifyResult> {
  const out: ArchiveVerifyResult = { blocks: 0, bytes: 0, bad: [] }
  for await (const cid of store.cids(options)) {
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
