// Replication of one store to one peer (F11): offer every local block by CID in batches,
// send only those the peer lacks, flush, then list the snapshot roots the peer lacks.
// Idempotent (the peer ignores blocks it has) and resumable (a rerun offers again and sends
// only what is still missing); a root reaches the peer only after its blocks are durable there.
import { MAX_BATCH } from './chunk-wire.ts'
import { ReplicationAbortedError } from './errors.ts'
import type { ChunkSession } from './chunk-protocol.ts'
import type { BandwidthLimiter } from './bandwidth.ts'
import type { BlockStore } from '../chunkstore/index.ts'
import type { CID } from 'multiformats/cid'

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
  /** PUTs in flight at once (each also counts against the session's byte window). Default 32. */
  concurrency?: number
  onProgress?: (p: ReplicationProgress) => void
}

export async function replicate (store: BlockStore, session: ChunkSession, options: ReplicateOptions = {}): Promise<ReplicationResult> {
  const { signal, limiter, onProgress } = options
  const concurrency = options.concurrency ?? 32
  const wireStart = session.bytesSent
  const started = performance.now()
  const p: ReplicationProgress = { blocksOffered: 0, blocksMissing: 0, blocksSent: 0, bytesSent: 0, rootsAdded: 0 }
  const inflight = new Set<Promise<void>>()
  let failure: unknown

  const sendOne = async (cid: CID): Promise<void> => {
    const bytes = await store.get(cid)
    await limiter?.take(bytes.length, signal)
    await session.put(cid, bytes)
    p.blocksSent++
    p.bytesSent += bytes.length
    onProgress?.({ ...p })
  }

  const offer = async (batch: CID[]): Promise<void> => {
    const have = await session.have(batch)
    p.blocksOffered += batch.length
    p.blocksMissing += have.filter(h => !h).length
    for (let i = 0; i < batch.length; i++) {
      if (have[i]) continue
      if (signal?.aborted === true) throw new ReplicationAbortedError({ cause: signal.reason })
      if (failure !== undefined) throw failure
      while (inflight.size >= concurrency) await Promise.race(inflight)
      const job: Promise<void> = sendOne(batch[i]).catch((err) => { failure ??= err }).finally(() => { inflight.delete(job) })
      inflight.add(job)
    }
  }

  try {
    let batch: CID[] = []
    for await (const cid of store.cids()) {
      batch.push(cid)
      if (batch.length === MAX_BATCH) { await offer(batch); batch = [] }
    }
    if (batch.length > 0) await offer(batch)
  } finally {
    // Never leave PUTs running behind an error: the caller may close the session next.
    await Promise.allSettled(inflight)
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
