// Copies blocks and snapshot roots from one BlockStore to another: archiving (the store to a
// device) and restoring from an archive (a device to a fresh store) are the same operation
// in opposite directions, and both see only sealed bytes — never a key or plaintext.
import { keyOf, LocatedList, locatedBlocks, readBlocks, readLocatedBlocks, storeBlocks, BLOCK_CID_LENGTH, SEGMENT_MAGIC, type BlockStore, type LocatedBlocks } from '../../chunkstore/index.ts'
import { throwIfAborted, type AbortOptions, type ProgressEvent, type ProgressOptions } from '../../crypto/index.ts'
import { CID } from 'multiformats/cid'
import { stat } from 'node:fs/promises'
import type { PackBlockStore } from './pack-block-store.ts'
import type { CatalogueEntry } from './pack-format.ts'

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

  const counted = (blocks: number, bytes: number): void => {
    result.blocksWritten += blocks
    result.bytesWritten += bytes
    blocksSeen += blocks
    bytesSeen += bytes
    progress()
  }
  const taken = await takeSegments(from, to, options.only?.blocks, counted, options)
  const whole = await copySegments(from, to, options.only?.blocks, counted, options)
  // Every block wanted went whole: what is left is the roots.
  if (whole === 'all') return await copyRoots(from, to, result, options.only?.roots, options)
  const copied = taken.size === 0 ? whole : new Set([...whole, ...taken])
  /** Blocks a segment copy wrote: counted there, so neither present nor seen again below. */
  const wasCopied = (cid: Uint8Array): boolean => copied.size > 0 && copied.has(keyOf(cid))

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
      const present = batch.filter((c, i) => held[i] && !wasCopied(c.bytes))
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
      if (wasCopied(cids[i].bytes)) return
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

/**
 * The reverse of copySegments (a restore from an archive device, issue 16): each whole segment
 * `from` holds (a segment pack) whose blocks are all wanted and none on `to` becomes a segment
 * of `to` as it lies — the order the backup wrote it, so a restore from the rebuilt store reads
 * as it would from the original — with `to` checking every block against its CID
 * (BlockStore.takeSegment). Returns the keys of the blocks taken; a block refused goes block by
 * block below, where `put` refuses it again and the copy fails naming it.
 */
async function takeSegments (from: BlockStore, to: BlockStore, only: CID[] | undefined, copied: (blocks: number, bytes: number) => void, options: AbortOptions): Promise<Set<string>> {
  const done = new Set<string>()
  if (from.wholeSegments === undefined || to.takeSegment === undefined) return done
  const take = to.takeSegment.bind(to)
  const wanted = only === undefined ? undefined : new Set(only.map(c => keyOf(c.bytes)))
  /** Segments being taken: one copied (libuv's pool) while the one before is checked (this thread). */
  const running: Array<Promise<void>> = []
  try {
    for await (const segment of from.wholeSegments(options)) {
      const keys = segment.entries.map(e => keyOf(e.cid))
      if (wanted !== undefined && !keys.every(k => wanted.has(k))) continue
      if ((await to.hasMany(segment.entries.map(e => CID.decode(e.cid)), options)).some(Boolean)) continue
      if (running.length >= TAKING) await running.shift()
      const taking = take(segment, options).then(refused => {
        let blocks = 0
        let bytes = 0
        segment.entries.forEach((e, i) => {
          if (refused[i] !== undefined) return
          done.add(keys[i])
          blocks++
          bytes += e.length
        })
        copied(blocks, bytes)
      })
      taking.catch(() => {}) // awaited below; until then a failure must not count as unhandled
      running.push(taking)
    }
    while (running.length > 0) await running.shift()
  } finally {
    // Stopped or failed: what is under way ends before the copy reports (its error is the first one's).
    await Promise.allSettled(running)
  }
  return done
}
/** Segments taken at once by a restore from a device (takeSegments). */
const TAKING = 2

/** A target that takes a store's segments whole (the pack store of an archive device). */
type SegmentTarget = BlockStore & Pick<PackBlockStore, 'putSegment' | 'segmentLimit' | 'holds'>
const takesSegments = (to: BlockStore): to is SegmentTarget => typeof (to as Partial<SegmentTarget>).putSegment === 'function'
/**
 * A segment is copied whole only when its blocks' records are at least this share of the bytes
 * copied: the rest (blocks a prune has not reclaimed, forget records) rides along. A record's
 * header is counted at its largest (a 32-byte chunk id): doc/design.md "Segment, version 1".
 */
const LIVE_SHARE = 0.9
const RECORD_HEADER_MAX = 4 + 1 + BLOCK_CID_LENGTH + 1 + 32
/** Whole-segment copies offered to the target at once. */
const SEGMENT_COPIES = 2
/** Blocks gathered for whole-segment copies in one run (about 90 bytes each); segments past it go block by block. */
const SEGMENT_BLOCKS = 1 << 20

/**
 * Whole-segment copy (issue 16; restic's `copy` of packs is the model): each segment of `from`
 * whose every block is wanted (in `only`, or all) and absent from `to` becomes one pack on
 * `to` as its bytes lie, with a catalogue built from `from`'s index — no block read into this
 * process, none hashed (the archive's verify job checks them; doc/design.md says why). One
 * pass over the index finds such segments and gathers their blocks (a second gathers them when
 * there are more than SEGMENT_BLOCKS). Returns the keys of the blocks copied, or 'all' when
 * they were every block wanted; the block-by-block copy then takes what is left.
 */
async function copySegments (from: BlockStore, to: BlockStore, only: CID[] | undefined, copied: (blocks: number, bytes: number) => void, options: AbortOptions): Promise<Set<string> | 'all'> {
  if (from.segmentFile === undefined || from.located === undefined || !takesSegments(to)) return new Set()
  const wanted = only === undefined ? undefined : new Set(only.map(c => keyOf(c.bytes)))
  interface Segment { blocks: number, bytes: number, records: number, end: number, whole: boolean, entries?: CatalogueEntry[] }
  const segments = new Map<number, Segment>()
  let gathered = 0
  let located = 0
  const gather = (s: Segment, batch: LocatedBlocks, i: number): void => {
    s.entries?.push({ cid: batch.cids.slice(i * BLOCK_CID_LENGTH, (i + 1) * BLOCK_CID_LENGTH), offset: batch.offsets[i], length: batch.lengths[i] })
  }
  for await (const batch of from.located(BATCH, options)) {
    throwIfAborted(options.signal, 'The copy of blocks')
    located += batch.count
    for (let i = 0; i < batch.count; i++) {
      const cid = batch.cids.subarray(i * BLOCK_CID_LENGTH, (i + 1) * BLOCK_CID_LENGTH)
      const seg = batch.segments[i]
      let s = segments.get(seg)
      if (s === undefined) segments.set(seg, s = { blocks: 0, bytes: 0, records: 0, end: 0, whole: true, entries: gathered < SEGMENT_BLOCKS ? [] : undefined })
      s.blocks++
      s.bytes += batch.lengths[i]
      s.records += RECORD_HEADER_MAX + batch.lengths[i]
      s.end = Math.max(s.end, batch.offsets[i] + batch.lengths[i])
      if (s.whole && (to.holds(cid) || (wanted !== undefined && !wanted.has(keyOf(cid))))) s.whole = false
      if (!s.whole || gathered >= SEGMENT_BLOCKS) {
        gathered -= s.entries?.length ?? 0
        s.entries = undefined
        continue
      }
      gather(s, batch, i)
      gathered++
    }
  }
  let room = SEGMENT_BLOCKS
  const chosen = new Map<number, Segment>()
  for (const [seg, s] of [...segments].sort((a, b) => a[0] - b[0])) {
    if (!s.whole || s.end > to.segmentLimit || s.records < LIVE_SHARE * (s.end - SEGMENT_MAGIC.length) || s.blocks > room) continue
    room -= s.blocks
    chosen.set(seg, s)
  }
  if ([...chosen.values()].some(s => s.entries === undefined)) {
    for (const s of chosen.values()) s.entries = []
    for await (const batch of from.located(BATCH, options)) {
      throwIfAborted(options.signal, 'The copy of blocks')
      for (let i = 0; i < batch.count; i++) { const s = chosen.get(batch.segments[i]); if (s !== undefined) gather(s, batch, i) }
    }
  }
  let blocks = 0
  /** The catalogue entries of the segments copied. */
  const done: CatalogueEntry[][] = []
  const queue = [...chosen]
  let failed = false
  const copyNext = async (): Promise<void> => {
    for (let next = queue.shift(); next !== undefined && !failed; next = queue.shift()) {
      const [seg, s] = next
      const path = from.segmentFile!(seg)
      const entries = s.entries ?? []
      // A prune in this process may have dropped the segment since (its blocks moved): those go block by block.
      if (((await stat(path).catch(() => undefined))?.size ?? 0) < s.end) continue
      try {
        await to.putSegment({ path, length: s.end, entries }, options)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
        failed = true
        throw err
      }
      done.push(entries)
      blocks += entries.length
      copied(entries.length, s.bytes)
    }
  }
  // Offered SEGMENT_COPIES at a time; the target runs as many at once as its medium takes. A
  // failure stops the others after their copy in progress, and is told once none is running.
  const ends = await Promise.allSettled(Array.from({ length: SEGMENT_COPIES }, copyNext))
  for (const e of ends) if (e.status === 'rejected') throw e.reason
  if (blocks === (wanted?.size ?? located) && blocks > 0) return 'all'
  return new Set(done.flatMap(entries => entries.map(e => keyOf(e.cid))))
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
