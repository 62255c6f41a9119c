// What the jobs ask of the mesh the daemon hosts (issue 4): replicate now, note a finished
// backup, and fetch bad blocks from other sites when a check finds them (F14). The mesh
// itself lives in node/mesh; jobs only see this small interface, and run without it.
import type { BlockStore, CheckProgressEvent, CheckResult, Repository } from '../../chunkstore/index.ts'
import type { AbortOptions, ErrorRecord, ProgressEvent, ProgressOptions } from '../../crypto/index.ts'
import type { JobContext } from './job-runner.ts'
import { said } from '../logs/index.ts'

/** One replication link's outcome, as a replicate job records it. */
export interface LinkOutcome {
  site: string
  blocksSent: number
  bytesSent: number
  wireBytes: number
  rootsAdded: number
  error?: ErrorRecord
}

/** The totals every link has sent in a replicate-now run so far. */
export type MeshReplicateProgressEvent = ProgressEvent<'mesh:replicate', { blocksSent: number, bytesSent: number }>

export interface MeshJobs {
  /** A backup stored a new snapshot: replicate it soon. */
  noteLocalChange: () => void
  /** Runs every replication link now and waits (a stopped wait leaves the runs going: they are idempotent). */
  replicate: (options: AbortOptions & ProgressOptions<MeshReplicateProgressEvent>) => Promise<LinkOutcome[]>
  /** Fetches these blocks (CIDs) of `store` again from members that hold them. */
  repair: (store: BlockStore, cids: string[], options?: AbortOptions) => Promise<{ repaired: string[], failed: Array<{ cid: string, reason: string }> }>
}

/**
 * `check` of a store; when it finds missing or corrupt blocks and a mesh runs, they are
 * fetched from other sites and the check runs again (a repaired tree node can reveal more
 * below it, hence a few rounds). `repaired` counts blocks that came from peers.
 */
export async function checkRepairing (ctx: JobContext, repo: Repository, options: { snapshot?: string } & ProgressOptions<CheckProgressEvent>, mesh: MeshJobs | undefined): Promise<CheckResult & { repaired: number }> {
  let r = await repo.check({ readData: true, snapshot: options.snapshot, signal: ctx.signal, onProgress: options.onProgress })
  let repaired = 0
  for (let round = 0; round < 4 && mesh !== undefined && r.badBlocks.length > 0; round++) {
    await ctx.log('warning', `${r.badBlocks.length} missing or corrupt blocks; fetching them from other sites of the mesh`, said('REPAIR_FETCHING', { n: r.badBlocks.length }))
    const fixed = await mesh.repair(repo.blocks, r.badBlocks, { signal: ctx.signal })
    for (const f of fixed.failed.slice(0, 20)) await ctx.log('error', `Block ${f.cid} could not be repaired: ${f.reason}`, f.reason === 'no peer holds it' ? said('REPAIR_BLOCK_NOT_HELD', { cid: f.cid }) : said('REPAIR_BLOCK_FAILED', { cid: f.cid, reason: f.reason }))
    if (fixed.repaired.length === 0) break
    repaired += fixed.repaired.length
    await ctx.log('warning', `Repaired ${fixed.repaired.length} blocks from peers`, said('REPAIR_DONE', { n: fixed.repaired.length }))
    r = await repo.check({ readData: true, snapshot: options.snapshot, signal: ctx.signal, onProgress: options.onProgress })
  }
  return { ...r, repaired }
}
