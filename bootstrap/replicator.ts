// Replication of one store to one peer (F11): offer every local block by CID in batches,
// send only those the peer lacks, flush, then list the snapshot roots the peer lacks.
// Idempotent (the peer ignores blocks it has) and resumable (a rerun offers again and sends
// only what is still missing); a root reaches the peer only after its blocks are durable there.
import { MAX_BATCH } from './chunk-wire.ts'
import { ReplicationAbortedError } from './errors.ts'
import type { ChunkSession } from './chunk-protocol.ts'
import { readBlocks, type BandwidthLimiter, type BlockStore } from '../chunkstore/index.ts'
import type { CID } from 'multiformats/cid'

/** Blocks in one PUT_BATCH at most (their bytes are bounded by `batchBytes`). */
const BATCH_BLOCKS = 1024

export interface ReplicationProgress {
  blocksOffered: number
  /** Blocks the peer lacked among those offered so far. */
  blocksMissing: number
  blocksSent: number
  /** Block bytes sent (payload only). */
  bytesSent: number
  rootsAdded: number
}

export interface ReplicationResult extends ReplicationProgress {
  /** Every byte written to the chunk stream: payload plus HAVE/PUT framing. */
  wireBytes: number
  /** Snapshot roots the peer holds after the run. */
  rootsAtPeer: number
  /** How long the run took (for figures only). */
  durationMs: number
}

export interface ReplicateOptions {
  limiter?: BandwidthLimiter
  signal?: AbortSignal
  /** PUT_BATCHes unacknowledged at once (their bytes also count against the session's window). Default 64. */
  concurrency?: number
  /** Bytes of neighbouring blocks sent together in one PUT_BATCH (a larger block goes alone). Default 1 MiB. */
  batchBytes?: number
  onProgress?: (p: ReplicationProgress) => void
}

export async function replicate (store: BlockStore, session: ChunkSession, options: ReplicateOptions = {}): Promise<ReplicationResult> {
  const { signal, limiter, onProgress } = options
  const concurrency = options.concurrency ?? 64
  const batchBytes = options.batchBytes ?? 1 << 20
  const wireStart = session.bytesSent
  const started = performance.now()
  const p: ReplicationProgress = { blocksOffered: 0, blocksMissing: 0, blocksSent: 0, bytesSent: 0, rootsAdded: 0 }
  let failure: unknown
  // Batches sent and not yet acknowledged; the session's window bounds their bytes, this their number.
  let unacked = 0
  let wake: (() => void) | undefined
  const settled = (): void => { unacked--; const w = wake; wake = undefined; w?.() }
  const waitUntil = async (ok: () => boolean): Promise<void> => { while (!ok()) await new Promise<void>(resolve => { wake = resolve }) }

  let batch: Array<{ cid: CID, bytes: Uint8Array }> = []
  let pendingBytes = 0
  const sendBatch = async (): Promise<void> => {
    if (batch.length === 0) return
    const blocks = batch
    const bytes = pendingBytes
    batch = []
    pendingBytes = 0
    await limiter?.take(bytes, signal)
    await waitUntil(() => unacked < concurrency)
    const { acked } = await session.sendBatch(blocks)
    unacked++
    acked.then(() => {
      p.blocksSent += blocks.length
      p.bytesSent += bytes
      onProgress?.({ ...p })
    }, (err) => { failure ??= err }).finally(settled)
  }

  const offer = async (cids: CID[]): Promise<void> => {
    const have = await session.have(cids)
    p.blocksOffered += cids.length
    const missing = cids.filter((_, i) => !have[i])
    p.blocksMissing += missing.length
    // The store reads the missing blocks in segment order; neighbours travel in one PUT_BATCH.
    for await (const { index, bytes } of readBlocks(store, missing)) {
      if (signal?.aborted === true) throw new ReplicationAbortedError({ cause: signal.reason })
      if (failure !== undefined) throw failure
      if (batch.length > 0 && (pendingBytes + bytes.length > batchBytes || batch.length >= BATCH_BLOCKS)) await sendBatch()
      batch.push({ cid: missing[index], bytes })
      pendingBytes += bytes.length
    }
    await sendBatch()
  }

  try {
    let offered: CID[] = []
    for await (const cid of store.cids()) {
      offered.push(cid)
      if (offered.length === MAX_BATCH) { await offer(offered); offered = [] }
    }
    if (offered.length > 0) await offer(offered)
  } finally {
    // Never leave PUTs running behind an error: the caller may close the session next.
    await waitUntil(() => unacked === 0)
  }
  if (failure !== undefined) throw failure
  await session.flush()

  const remote = new Set((await session.roots()).map(String))
  for (const root of await store.snapshotRoots()) {
    if (remote.has(root.toString())) continue
    // A root whose record block is not stored here was never complete locally: skip it.
    if (!await store.has(root)) continue
    await session.addRoot(root)
    remote.add(root.toString())
    p.rootsAdded++
  }
  onProgress?.({ ...p })
  return { ...p, wireBytes: session.bytesSent - wireStart, rootsAtPeer: remote.size, durationMs: performance.now() - started }
}
