// Replication of one store to one peer (F11): offer every local block by CID in batches
// (several in flight), gather those the peer lacks, read them in the order they lie on disk
// and send them in PUT_BATCHes; flush, then list the snapshot roots the peer lacks.
// Idempotent (the peer ignores blocks it has) and resumable (a rerun offers again and sends
// only what is still missing); a root reaches the peer only after its blocks are durable there.
import { MAX_BATCH, PutBatchBuilder } from './chunk-wire.ts'
import type { ChunkSession } from './chunk-protocol.ts'
import type { RetentionSource } from './retention-source.ts'
import { Status } from './chunk-wire.ts'
import { RemoteRefusedError, ReplicaQuotaError } from './errors.ts'
import { CID } from 'multiformats/cid'
import { BLOCK_CID_LENGTH, LocatedList, locatedBlocks, readLocatedBlocks, type BandwidthLimiter, type BlockStore, type LocatedBlocks } from '../chunkstore/index.ts'
import { throwIfAborted, type AbortOptions, type ProgressEvent, type ProgressOptions } from '../crypto/index.ts'

/** Blocks in one PUT_BATCH at most (their bytes are bounded by `batchBytes`). */
const BATCH_BLOCKS = 1024
/** HAVE requests in flight at once: the peer looks up one batch while the next is on its way. */
const HAVE_AHEAD = 4
/**
 * Missing blocks gathered from the HAVE answers before they are read and sent: the store reads
 * them in the order they lie on disk, so the more of them at once, the longer its reads (a
 * first replication of a store of up to this many blocks reads it front to back).
 */
const ROUND_BLOCKS = 1 << 16

export interface ReplicationProgress {
  blocksOffered: number
  /** Blocks the peer lacked among those offered so far. */
  blocksMissing: number
  /** Their bytes (from the local index). */
  bytesMissing: number
  blocksSent: number
  /** Block bytes sent (payload only). */
  bytesSent: number
  rootsAdded: number
  /** Releases the peer accepted in this run. */
  releasesSent: number
}

export interface ReplicationResult extends ReplicationProgress {
  /** Every byte written to the chunk stream: payload plus HAVE/PUT framing. */
  wireBytes: number
  /** Snapshot roots the peer holds after the run. */
  rootsAtPeer: number
  /** How long the run took (for figures only). */
  durationMs: number
}

/** How far a replication run is: after every HAVE answer and every acknowledged batch. */
export type ReplicationProgressEvent = ProgressEvent<'replication:progress', ReplicationProgress>

export interface ReplicateOptions extends AbortOptions, ProgressOptions<ReplicationProgressEvent> {
  limiter?: BandwidthLimiter
  /** PUT_BATCHes unacknowledged at once (their bytes also count against the session's window). Default 64. */
  concurrency?: number
  /** Bytes of neighbouring blocks sent together in one PUT_BATCH (a larger block goes alone). Default 1 MiB. */
  batchBytes?: number
  /** This site's PeerId: the origin of the snapshots backed up into `store` (absent: the peer takes the sender as their origin). */
  self?: string
  /**
   * Manifests and releases (retention-source.ts): a root with a manifest head is listed with
   * ADD_ROOT_SIGNED, and releases of roots the peer lists are handed on (doc/mesh.md
   * "Retention at replicas").
   */
  retention?: RetentionSource
  /** The lock, in days (LOCK_FOREVER: forever), asked of the peer for the roots it lists. Default 0. */
  lockDays?: number
}

export async function replicate (store: BlockStore, session: ChunkSession, options: ReplicateOptions = {}): Promise<ReplicationResult> {
  const { signal, limiter, onProgress } = options
  const concurrency = options.concurrency ?? 64
  const batchBytes = options.batchBytes ?? 1 << 20
  const wireStart = session.bytesSent
  const started = performance.now()
  const p: ReplicationProgress = { blocksOffered: 0, blocksMissing: 0, bytesMissing: 0, blocksSent: 0, bytesSent: 0, rootsAdded: 0, releasesSent: 0 }
  let failure: unknown
  // Batches sent and not yet acknowledged; the session's window bounds their bytes, this their number.
  let unacked = 0
  let wake: (() => void) | undefined
  const settled = (): void => { unacked--; const w = wake; wake = undefined; w?.() }
  const waitUntil = async (ok: () => boolean): Promise<void> => { while (!ok()) await new Promise<void>(resolve => { wake = resolve }) }
  const check = (): void => {
    throwIfAborted(signal, 'Replication')
    if (failure !== undefined) throw failure
  }

  // Once a batch is acknowledged, every layer below is done with its frame: the next batch
  // reuses the buffer (a fresh megabyte per batch would mostly feed the garbage collector).
  const spare: Buffer[] = []
  let batch = new PutBatchBuilder(batchBytes, BATCH_BLOCKS)
  const sendBatch = async (): Promise<void> => {
    if (batch.count === 0) return
    const sent = batch
    batch = new PutBatchBuilder(batchBytes, BATCH_BLOCKS, spare.pop())
    await limiter?.take(sent.bytes, signal)
    await waitUntil(() => unacked < concurrency)
    const { acked } = await session.sendBatch(sent, { signal })
    unacked++
    acked.then(() => {
      const buffer = sent.buffer
      if (buffer !== undefined) spare.push(buffer)
      p.blocksSent += sent.count
      p.bytesSent += sent.bytes
      onProgress?.({ type: 'replication:progress', detail: { ...p } })
    }, (err) => { failure ??= err }).finally(settled)
  }

  // The blocks the peer lacks, read in the store's order; each is copied into its PUT_BATCH at
  // once, so the store may reuse its read buffers (transient reads).
  const send = async (missing: LocatedList): Promise<void> => {
    if (missing.count === 0) return
    for await (const { index, bytes } of readLocatedBlocks(store, missing, { signal })) {
      check()
      if (!batch.fits(bytes.length)) await sendBatch()
      batch.add(missing.cid(index), bytes)
    }
    await sendBatch()
  }

  let round = new LocatedList()
  const asked: Array<Promise<void>> = []
  const offer = (b: LocatedBlocks, from: number, to: number): void => {
    const answer = session.haveRaw(b.cids.subarray(from * BLOCK_CID_LENGTH, to * BLOCK_CID_LENGTH), to - from, { signal }).then(have => {
      p.blocksOffered += to - from
      for (let i = from; i < to; i++) if (!have[i - from]) { round.push(b, i); p.blocksMissing++; p.bytesMissing += b.lengths[i] }
      onProgress?.({ type: 'replication:progress', detail: { ...p } })
    })
    answer.catch(() => {}) // awaited in order below
    asked.push(answer)
  }
  const collect = async (): Promise<void> => {
    await asked.shift()
    if (round.count >= ROUND_BLOCKS) { const r = round; round = new LocatedList(); await send(r) }
  }

  // New roots with manifests are offered first, their heads and pages sent ahead: a replica
  // whose quota for their origin is full refuses them before any of their blocks travel.
  if (options.retention !== undefined) await offerNewRoots(store, session, options.retention, signal)

  try {
    for await (const b of locatedBlocks(store, MAX_BATCH, { signal })) {
      for (let from = 0; from < b.count; from += MAX_BATCH) {
        check()
        offer(b, from, Math.min(b.count, from + MAX_BATCH))
        if (asked.length >= HAVE_AHEAD) await collect()
      }
    }
    while (asked.length > 0) await collect()
    await send(round)
  } finally {
    // Never leave requests running behind an error: the caller may close the session next.
    await Promise.allSettled(asked)
    await waitUntil(() => unacked === 0)
  }
  if (failure !== undefined) throw failure
  await session.flush({ signal })

  const remote = new Set((await session.roots({ signal })).map(String))
  const roots = store.snapshotRootOrigins !== undefined ? await store.snapshotRootOrigins({ signal }) : (await store.snapshotRoots({ signal })).map(cid => ({ cid, origin: undefined }))
  for (const { cid: root, origin } of roots) {
    if (remote.has(root.toString())) continue
    // A root whose record block is not stored here was never complete locally: skip it.
    if (!await store.has(root, { signal })) continue
    // With its manifest head (signed by its origin), so the peer can follow its retention.
    const head = await options.retention?.headFor(root)
    if (head !== undefined) {
      await session.put(head.cid, head.bytes, { signal })
      await session.addSignedRoot(root, head.cid, options.lockDays ?? 0, { signal })
    } else {
      // A backup made here is this site's; one that arrived from elsewhere keeps its origin (cascade).
      await session.addRoot(root, origin?.site ?? options.self, { signal })
    }
    remote.add(root.toString())
    p.rootsAdded++
  }
  // Roots the peer lists that got their manifest late (made before manifests existed): their
  // head, if the peer lacks it, so that it can follow their retention too.
  for (const root of await options.retention?.lateRoots() ?? []) {
    if (!remote.has(root.toString())) continue
    const head = await options.retention!.headFor(root)
    if (head === undefined || (await session.have([head.cid], { signal }))[0]) continue
    await sendHeadAndPages(store, session, head, signal)
    try {
      await session.addSignedRoot(root, head.cid, options.lockDays ?? 0, { signal })
    } catch (err) {
      // The peer keeps the root as it has it (listed by another origin, or here without its blocks): the run goes on.
      if (!(err instanceof RemoteRefusedError)) throw err
    }
  }
  // Releases of roots the peer lists (it ignores one it holds already).
  for (const r of await options.retention?.releases() ?? []) {
    if (!remote.has(r.root.toString())) continue
    await session.put(r.cid, r.bytes, { signal })
    await session.sendRelease(r.cid, { signal })
    p.releasesSent++
  }
  onProgress?.({ type: 'replication:progress', detail: { ...p } })
  return { ...p, wireBytes: session.bytesSent - wireStart, rootsAtPeer: remote.size, durationMs: performance.now() - started }
}

/** PUTs a manifest head and the pages it names that the peer lacks. */
async function sendHeadAndPages (store: BlockStore, session: ChunkSession, head: { cid: CID, bytes: Uint8Array }, signal?: AbortSignal): Promise<void> {
  await session.put(head.cid, head.bytes, { signal })
  const pages = (JSON.parse(new TextDecoder().decode(head.bytes)) as { pages: string[] }).pages.map(p => CID.parse(p))
  const have = await session.have(pages, { signal })
  for (const [i, page] of pages.entries()) if (!have[i]) await session.put(page, await store.get(page, { signal }), { signal })
}

async function offerNewRoots (store: BlockStore, session: ChunkSession, retention: RetentionSource, signal?: AbortSignal): Promise<void> {
  const remote = new Set((await session.roots({ signal })).map(String))
  for (const root of await store.snapshotRoots({ signal })) {
    if (remote.has(root.toString()) || !await store.has(root, { signal })) continue
    const head = await retention.headFor(root)
    if (head === undefined) continue
    await sendHeadAndPages(store, session, head, signal)
    const status = await session.offerRoot(root, head.cid, { signal })
    if (status === Status.QUOTA) throw new ReplicaQuotaError(root.toString())
  }
}
