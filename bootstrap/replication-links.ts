// The replication links of a node: one per target member chosen by the policies, each with
// its own bandwidth limiter and the store its policies give it. A link runs when triggered
// (target connected, snapshot root arrived, timer, operator); a trigger during a run queues
// exactly one rerun.
import { peerIdFromString } from '@libp2p/peer-id'
import { ChunkSession } from './chunk-protocol.ts'
import { PeerUnreachableError } from './errors.ts'
import { lockDaysOf, selectTargets, targetsOf, type ReplicationPolicy } from './policy.ts'
import type { RetentionSource } from './retention-source.ts'
import { replicate, type ReplicationProgress, type ReplicationResult } from './replicator.ts'
import type { Member } from './membership.ts'
import type { MeshEvent } from './mesh-events.ts'
import { createLimiter, realClock, type BandwidthLimiter, type BandwidthSchedule, type BlockStore, type LimiterClock } from '../chunkstore/index.ts'
import { errorRecord, OperationAbortedError, type ErrorRecord } from '../crypto/index.ts'
import type { Libp2p } from '@libp2p/interface'

export interface LinkStatus {
  peer: string
  site: string
  role: string
  connected: boolean
  running: boolean
  /** The run in progress waits for the bandwidth limit: a window of rate 0, or the rate in force. */
  waitingForBandwidth: boolean
  lastRunAt?: string
  /** Progress of the run in progress, if any. */
  progress?: ReplicationProgress
  lastResult?: ReplicationResult
  lastError?: ErrorRecord
  /** Snapshot roots here (in the link's stores) that the target did not hold at the end of the last run. */
  snapshotsBehind: number | null
  /** Blocks found missing at the target and not yet sent, while a run is in progress (else 0 after a good run). */
  blocksBehind: number | null
  /**
   * Bytes of the blocks the current run found missing at the target and has not sent yet;
   * 0 after a good run; after a failed run, what that run found missing and did not send (a
   * lower bound). Null before the first run.
   */
  bytesBehind: number | null
}

export type PolicyHealth = 'ok' | 'behind' | 'failing' | 'no-target'

export interface PolicyStatus extends ReplicationPolicy {
  /** Site names of the members the policy chose. */
  targets: string[]
  /** The most snapshot roots of the policy's stores that one of its targets lacks (null until every target ran once). */
  snapshotsBehind: number | null
  /** The largest bytesBehind among the links of its targets (a link carries the union of its policies' stores). */
  bytesBehind: number | null
  /**
   * no-target: copies are wanted but no member qualifies; failing: a target is unreachable
   * or its last run failed; behind: fewer targets than wanted, or one lacks data; else ok.
   */
  health: PolicyHealth
}

export interface ReplicationLinksComponents {
  host: Pick<Libp2p, 'dialProtocol' | 'getConnections'>
  /** The store a target receives, given the policies that chose it. */
  storeFor: (policies: ReplicationPolicy[]) => BlockStore
  self: string
  members: () => Member[]
  log: (event: MeshEvent) => void
  /** Manifests and releases sent with the snapshots (retention-source.ts). */
  retention?: RetentionSource
}

export interface ReplicationLinksInit {
  policies: ReplicationPolicy[]
  bandwidth?: BandwidthSchedule
  windowBytes?: number
  /** The time bandwidth windows are read in and paced by. Default: the system clock. */
  clock?: LimiterClock
}

interface Link {
  member: Member
  policies: ReplicationPolicy[]
  limiter: BandwidthLimiter
  running: Promise<void> | undefined
  again: boolean
  status: Omit<LinkStatus, 'bytesBehind' | 'waitingForBandwidth'>
  remoteRoots: Set<string>
  /** Bytes found missing and bytes sent by the current or last run. */
  run: { bytesMissing: number, bytesSent: number }
  /** Sleeps of the link's limiter in progress. */
  sleeping: number
}

export interface ReplicationLinks {
  /** Re-reads the targets from the member list: new targets start, dropped ones are forgotten. */
  refresh: () => void
  /** Replaces the policies and bandwidth schedule (applied to the next block sent), then refreshes. */
  configure: (init: Pick<ReplicationLinksInit, 'policies' | 'bandwidth'>) => void
  trigger: (peer: string) => void
  triggerAll: () => void
  has: (peer: string) => boolean
  /** Runs every link now, waiting for runs in progress and the reruns they queue. */
  runAll: () => Promise<void>
  statuses: () => Promise<LinkStatus[]>
  /** Each link's run in progress and last result, without the lag (which reads every store's roots): for progress shown often. */
  runs: () => Array<Pick<LinkStatus, 'peer' | 'progress' | 'lastRunAt' | 'lastResult' | 'running' | 'waitingForBandwidth'>>
  policyStatuses: () => Promise<PolicyStatus[]>
  /** No new runs; runs in progress stop at their next block and are waited for. */
  stop: () => Promise<void>
}

export function createReplicationLinks (c: ReplicationLinksComponents, init: ReplicationLinksInit): ReplicationLinks {
  const byPeer = new Map<string, Link>()
  let policies = init.policies
  let bandwidth = init.bandwidth
  let stopped = false
  const stopping = new AbortController()
  const clock = init.clock ?? realClock
  /** A limiter for a link at the schedule in force; its sleeps count as the link waiting for bandwidth. */
  const limiterFor = (link: Pick<Link, 'sleeping'>): BandwidthLimiter => createLimiter(bandwidth ?? {}, {
    now: clock.now,
    sleep: async (ms, signal) => {
      link.sleeping++
      try { await clock.sleep(ms, signal) } finally { link.sleeping-- }
    }
  })

  const trigger = (peer: string): void => {
    const link = byPeer.get(peer)
    if (link === undefined || stopped) return
    if (link.running !== undefined) { link.again = true; return }
    link.running = run(link).finally(() => {
      link.running = undefined
      if (link.again && !stopped && byPeer.has(peer)) { link.again = false; trigger(peer) }
    })
  }

  async function run (link: Link): Promise<void> {
    const { peer, site } = link.member
    link.status.running = true
    link.run = { bytesMissing: 0, bytesSent: 0 }
    let session: ChunkSession | undefined
    try {
      try {
        session = await ChunkSession.open(c.host, peerIdFromString(peer), { windowBytes: init.windowBytes, signal: stopping.signal })
      } catch (err) {
        throw new PeerUnreachableError(peer, { cause: err })
      }
      const store = c.storeFor(link.policies)
      const result = await replicate(store, session, {
        self: c.self,
        retention: c.retention,
        lockDays: lockDaysOf(link.policies),
        limiter: link.limiter,
        signal: stopping.signal,
        onProgress: ({ detail: p }) => { link.status.progress = p; link.run = { bytesMissing: p.bytesMissing, bytesSent: p.bytesSent } }
      })
      link.remoteRoots = new Set((await session.roots()).map(String))
      link.status.lastResult = result
      link.status.lastError = undefined
      if (result.blocksSent > 0 || result.rootsAdded > 0 || result.releasesSent > 0) c.log({ event: 'replicated', peer, site, ...result })
    } catch (err) {
      link.status.lastError = errorRecord(err)
      // A target that is not up (yet) is the normal state of a mesh being set up, not a failure
      // of replication: the link runs again when the target connects.
      if (err instanceof PeerUnreachableError) c.log({ event: 'replication-waiting', peer, site, reason: 'unreachable' })
      else c.log({ event: 'replication-failed', peer, site, error: link.status.lastError })
    } finally {
      // Not running only once the session is closed: until then a stepped clock must not move on.
      try { await session?.close() } finally {
        link.status.running = false
        link.status.progress = undefined
        link.status.lastRunAt = new Date().toISOString()
      }
    }
  }

  function linkStatus (l: Link, localRoots: string[]): LinkStatus {
    const { progress, lastRunAt, lastResult, lastError } = l.status
    const unsent = Math.max(0, l.run.bytesMissing - l.run.bytesSent)
    return {
      ...l.status,
      waitingForBandwidth: l.sleeping > 0,
      connected: c.host.getConnections(peerIdFromString(l.member.peer)).length > 0,
      snapshotsBehind: lastRunAt === undefined ? null : localRoots.filter(r => !l.remoteRoots.has(r)).length,
      blocksBehind: progress !== undefined
        ? progress.blocksMissing - progress.blocksSent
        : lastResult !== undefined && lastError === undefined ? 0 : null,
      bytesBehind: progress !== undefined ? unsent : lastRunAt === undefined ? null : lastError === undefined ? 0 : unsent
    }
  }

  const rootsOf = async (ps: ReplicationPolicy[]): Promise<string[]> => (await c.storeFor(ps).snapshotRoots()).map(String)

  const links: ReplicationLinks = {
    refresh () {
      const targets = targetsOf(policies, c.members(), c.self)
      for (const t of targets) {
        const known = byPeer.get(t.member.peer)
        if (known !== undefined) { known.member = t.member; known.policies = t.policies; continue }
        const link: Link = {
          member: t.member,
          policies: t.policies,
          limiter: createLimiter({}),
          sleeping: 0,
          running: undefined,
          again: false,
          remoteRoots: new Set(),
          run: { bytesMissing: 0, bytesSent: 0 },
          status: { peer: t.member.peer, site: t.member.site, role: t.member.role, connected: false, running: false, snapshotsBehind: null, blocksBehind: null }
        }
        link.limiter = limiterFor(link)
        byPeer.set(t.member.peer, link)
        trigger(t.member.peer)
      }
      for (const peer of [...byPeer.keys()]) if (!targets.some(t => t.member.peer === peer)) byPeer.delete(peer)
    },
    configure (next) {
      policies = next.policies
      bandwidth = next.bandwidth
      for (const l of byPeer.values()) l.limiter = limiterFor(l)
      links.refresh()
    },
    trigger,
    triggerAll () { for (const peer of byPeer.keys()) trigger(peer) },
    has: peer => byPeer.has(peer),
    async runAll () {
      for (const l of byPeer.values()) { if (l.running !== undefined) l.again = true; else trigger(l.member.peer) }
      for (;;) {
        const running = [...byPeer.values()].map(l => l.running).filter(r => r !== undefined)
        if (running.length === 0) break
        await Promise.all(running)
      }
    },
    async statuses () {
      return await Promise.all([...byPeer.values()].map(async l => linkStatus(l, await rootsOf(l.policies))))
    },
    runs () {
      return [...byPeer.values()].map(l => ({ peer: l.member.peer, progress: l.status.progress, lastRunAt: l.status.lastRunAt, lastResult: l.status.lastResult, running: l.status.running, waitingForBandwidth: l.sleeping > 0 }))
    },
    async policyStatuses () {
      const members = c.members()
      return await Promise.all(policies.map(async (p): Promise<PolicyStatus> => {
        const targets = selectTargets(p, members, c.self)
        const roots = await rootsOf([p])
        const per = targets.map(t => {
          const l = byPeer.get(t.peer)
          if (l === undefined) return undefined
          return { status: linkStatus(l, []), behind: l.status.lastRunAt === undefined ? null : roots.filter(r => !l.remoteRoots.has(r)).length }
        })
        const worst = (xs: Array<number | null>): number | null => xs.some(x => x === null) ? null : Math.max(0, ...xs as number[])
        const snapshotsBehind = per.length === 0 ? 0 : worst(per.map(x => x?.behind ?? null))
        const bytesBehind = per.length === 0 ? 0 : worst(per.map(x => x?.status.bytesBehind ?? null))
        const wanted = Math.max(0, p.copies - 1)
        const health: PolicyHealth = wanted > 0 && targets.length === 0
          ? 'no-target'
          : per.some(x => x === undefined || !x.status.connected || x.status.lastError !== undefined)
            ? 'failing'
            : targets.length < wanted || snapshotsBehind !== 0 || bytesBehind !== 0 ? 'behind' : 'ok'
        return { ...p, targets: targets.map(t => t.site), snapshotsBehind, bytesBehind, health }
      }))
    },
    async stop () {
      stopped = true
      stopping.abort(new OperationAbortedError('Replication (the mesh node is stopping)'))
      await Promise.all([...byPeer.values()].map(async l => { await l.running }))
    }
  }
  return links
}
