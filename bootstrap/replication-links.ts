// The replication links of a node: one per target member chosen by the policies, each with
// its own bandwidth limiter. A link runs when triggered (target connected, snapshot root
// arrived, timer, operator); a trigger during a run queues exactly one rerun.
import { peerIdFromString } from '@libp2p/peer-id'
import { createLimiter, type BandwidthLimiter, type BandwidthSchedule } from './bandwidth.ts'
import { ChunkSession } from './chunk-protocol.ts'
import { PeerUnreachableError } from './errors.ts'
import { targetsOf, type ReplicationPolicy } from './policy.ts'
import { replicate, type ReplicationProgress, type ReplicationResult } from './replicator.ts'
import type { Member } from './membership.ts'
import type { BlockStore } from '../chunkstore/index.ts'
import type { Libp2p } from '@libp2p/interface'

export interface LinkStatus {
  peer: string
  site: string
  role: string
  connected: boolean
  running: boolean
  lastRunAt?: string
  /** Progress of the run in progress, if any. */
  progress?: ReplicationProgress
  lastResult?: ReplicationResult
  lastError?: { name: string, message: string }
  /** Snapshot roots here that the target did not hold at the end of the last run. */
  snapshotsBehind: number | null
  /** Blocks found missing at the target and not yet sent, while a run is in progress (else 0 after a good run). */
  blocksBehind: number | null
}

export interface ReplicationLinksComponents {
  host: Pick<Libp2p, 'dialProtocol' | 'getConnections'>
  store: BlockStore
  self: string
  members: () => Member[]
  log: (event: Record<string, unknown>) => void
}

export interface ReplicationLinksInit {
  policies: ReplicationPolicy[]
  bandwidth?: BandwidthSchedule
  windowBytes?: number
}

interface Link {
  member: Member
  limiter: BandwidthLimiter
  running: Promise<void> | undefined
  again: boolean
  status: LinkStatus
  remoteRoots: Set<string>
}

export interface ReplicationLinks {
  /** Re-reads the targets from the member list: new targets start, dropped ones are forgotten. */
  refresh: () => void
  trigger: (peer: string) => void
  triggerAll: () => void
  has: (peer: string) => boolean
  /** Runs every link now, waiting for runs in progress and the reruns they queue. */
  runAll: () => Promise<void>
  statuses: () => Promise<LinkStatus[]>
  /** No new runs; waits for the ones in progress. */
  stop: () => Promise<void>
}

export function createReplicationLinks (c: ReplicationLinksComponents, init: ReplicationLinksInit): ReplicationLinks {
  const links = new Map<string, Link>()
  let stopped = false

  const trigger = (peer: string): void => {
    const link = links.get(peer)
    if (link === undefined || stopped) return
    if (link.running !== undefined) { link.again = true; return }
    link.running = run(link).finally(() => {
      link.running = undefined
      if (link.again && !stopped && links.has(peer)) { link.again = false; trigger(peer) }
    })
  }

  async function run (link: Link): Promise<void> {
    const { peer, site } = link.member
    link.status.running = true
    let session: ChunkSession | undefined
    try {
      try {
        session = await ChunkSession.open(c.host, peerIdFromString(peer), { windowBytes: init.windowBytes })
      } catch (err) {
        throw new PeerUnreachableError(peer, { cause: err })
      }
      const result = await replicate(c.store, session, { limiter: link.limiter, onProgress: p => { link.status.progress = p } })
      link.remoteRoots = new Set((await session.roots()).map(String))
      link.status.lastResult = result
      link.status.lastError = undefined
      if (result.blocksSent > 0 || result.rootsAdded > 0) c.log({ event: 'replicated', peer, site, ...result })
    } catch (err: any) {
      link.status.lastError = { name: err?.name ?? 'Error', message: err?.message ?? String(err) }
      c.log({ event: 'replication-failed', peer, site, error: link.status.lastError })
    } finally {
      link.status.running = false
      link.status.progress = undefined
      link.status.lastRunAt = new Date().toISOString()
      await session?.close()
    }
  }

  return {
    refresh () {
      const targets = targetsOf(init.policies, c.members(), c.self)
      for (const t of targets) {
        if (links.has(t.peer)) continue
        links.set(t.peer, {
          member: t,
          limiter: createLimiter(init.bandwidth ?? {}),
          running: undefined,
          again: false,
          remoteRoots: new Set(),
          status: { peer: t.peer, site: t.site, role: t.role, connected: false, running: false, snapshotsBehind: null, blocksBehind: null }
        })
        trigger(t.peer)
      }
      for (const peer of [...links.keys()]) if (!targets.some(t => t.peer === peer)) links.delete(peer)
    },
    trigger,
    triggerAll () { for (const peer of links.keys()) trigger(peer) },
    has: peer => links.has(peer),
    async runAll () {
      for (const l of links.values()) { if (l.running !== undefined) l.again = true; else trigger(l.member.peer) }
      for (;;) {
        const running = [...links.values()].map(l => l.running).filter(r => r !== undefined)
        if (running.length === 0) break
        await Promise.all(running)
      }
    },
    async statuses () {
      const localRoots = (await c.store.snapshotRoots()).map(String)
      return [...links.values()].map(l => ({
        ...l.status,
        connected: c.host.getConnections(peerIdFromString(l.member.peer)).length > 0,
        snapshotsBehind: l.status.lastRunAt === undefined ? null : localRoots.filter(r => !l.remoteRoots.has(r)).length,
        blocksBehind: l.status.progress !== undefined
          ? l.status.progress.blocksMissing - l.status.progress.blocksSent
          : l.status.lastResult !== undefined && l.status.lastError === undefined ? 0 : null
      }))
    },
    async stop () {
      stopped = true
      await Promise.all([...links.values()].map(async l => { await l.running }))
    }
  }
}
