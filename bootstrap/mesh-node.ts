// A mesh node: the libp2p host with its gater, the member list kept current by gossip
// (gossip.ts), admission of invited sites (admission.ts), where members are (address-book.ts)
// and what the list says of this node's own addresses (member-addresses.ts), the chunk-exchange server over the local stores, the replication links the policies ask for,
// scrub and repair of what it stores, and what it tells of itself (mesh-status.ts). One object,
// started and stopped in one place; the parts each do one of these.
import { join } from 'node:path'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { createAddressBook } from './address-book.ts'
import { createAdmission } from './admission.ts'
import { checkAnnounceAddrs } from './announce.ts'
import { createMemberAddresses } from './member-addresses.ts'
import { ChunkSession, serveChunks, type ChunkEvent } from './chunk-protocol.ts'
import { createMeshGater } from './gater.ts'
import { createGossip } from './gossip.ts'
import { createMeshHost, type MeshHost } from './host.ts'
import { type SignedMembership } from './membership.ts'
import { loadInvitations, loadMeshState, type MeshState } from './mesh-state.ts'
import { meshStatus, peerFacts, type MeshStatus, type PeerFacts } from './mesh-status.ts'
import { Penalties } from './penalties.ts'
import { floorDaysOf, type ReceiveLocks, type ReplicationPolicy } from './policy.ts'
import { createReplicationLinks, type LinkStatus, type PolicyStatus, type ReplicationLinks } from './replication-links.ts'
import { Roster } from './roster.ts'
import { repairBlocks, type RepairResult } from './repair.ts'
import { scrubStore, type ScrubProgressEvent } from './scrub.ts'
import type { MeshEvent } from './mesh-events.ts'
import { LocalBlockStore, type BandwidthSchedule, type BlockStore, type LimiterClock } from '../chunkstore/index.ts'
import { createReplicaRetention, type AdminReleaseApplied, type RetentionGcResult, type SnapshotLock } from './replica-retention.ts'
import { createRetentionSource } from './retention-source.ts'
import { adminReleaseRoot } from './snapshot-manifest.ts'
import { ADMIN_OUTCOME, adminOutcome, readPemFile, RELEASE_ADMINS_FILE } from './admin-release.ts'
import { statusName } from './chunk-wire.ts'
import type { AbortOptions, CairnError, ProgressOptions } from '../crypto/index.ts'

export type { LinkStatus, PolicyStatus }
export type { MeshStatus, HeldSnapshots, PeerFacts } from './mesh-status.ts'
export { MEMBERSHIP_PROTOCOL } from './gossip.ts'

export interface MeshNodeComponents {
  /** What the node serves to members: reads of every block it keeps; blocks sent to it are written here. */
  store: BlockStore
  /** What a target receives, given the policies that chose it. Default: `store`. */
  storeFor?: (policies: ReplicationPolicy[]) => BlockStore
  /** Each store the node keeps, for scrub (a view over several must be scrubbed store by store). Default: [`store`]. */
  stores?: () => BlockStore[]
  /** One event per notable thing (joins, removals, bans, bad blocks, replication runs): mesh-events.ts. */
  log?: (event: MeshEvent) => void
  /**
   * The store other sites' snapshots land in, where their retention applies (replica-retention.ts).
   * Default: `store` when it is a LocalBlockStore; without one, signed roots and releases are refused.
   */
  replica?: LocalBlockStore
  /**
   * The certificates (PEM) whose keys may sign an administrator's release at this replica
   * (doc/mesh.md "Releases"), read at each release. Default: those in `<dir>/release-admins.pem`.
   */
  releaseAdmins?: () => Promise<string[]>
}

/** Where an administrator's release went (MeshNode.adminRelease), per site. */
export interface AdminReleaseDelivery {
  site: string
  peer: string
  /** applied: the lock ended there; not-locked: it keeps no lock for the snapshot; untrusted: it does not trust the certificate; invalid: the signature or certificate does not check; unreachable/failed: not delivered. */
  outcome: 'applied' | 'not-locked' | 'untrusted' | 'invalid' | 'unreachable' | 'failed'
  detail?: string
}

export interface MeshNodeInit {
  /** Directory of the mesh state (mesh-state.ts). */
  dir: string
  policies?: ReplicationPolicy[]
  /** Replication bandwidth per link (F12). Unlimited when absent. */
  bandwidth?: BandwidthSchedule
  /** How often every link replicates even without a trigger. Default 30 s. */
  replicateEveryMs?: number
  /** How often unconnected members are dialled. Default 5 s. */
  dialEveryMs?: number
  /** Unacknowledged PUT bytes per link. Default 8 MiB. */
  windowBytes?: number
  /** The time replication's bandwidth windows are read in and paced by. Default: the system clock. */
  clock?: LimiterClock
  /** Announce snapshot roots in the DHT (F10). Default true. */
  announce?: boolean
  /**
   * Addresses other sites dial to reach this node (NAT, port forwards), in place of those of the
   * mesh folder's config.json for this run (announce.ts). This node's member-list entry follows
   * them: signed here when this node holds the mesh key, else by a member that does, asked over
   * /cairn/addrs/1.0.0 (member-addresses.ts).
   */
  announceAddrs?: string[]
  /** Sent to peers by identify (they show it as this node's OS and version). */
  userAgent?: string
  /** The time locks are fixed and checked at (ms since the epoch). Default Date.now. */
  now?: () => number
  /** This node's own lock for what it receives, in days, for every origin or per origin site (doc/mesh.md "Locks"). */
  receive?: ReceiveLocks & { quotas?: Record<string, number> }
}

export interface ScrubResult {
  stores: number
  blocksChecked: number
  bytesChecked: number
  /** Blocks found unreadable or not matching their CID. */
  bad: number
  repaired: string[]
  failed: RepairResult['failed']
  durationMs: number
}

export interface MeshNode {
  readonly peerId: string
  readonly host: MeshHost
  readonly roster: Roster
  readonly penalties: Penalties
  start: () => Promise<void>
  stop: () => Promise<void>
  /** A one-time invitation string (needs the mesh key). */
  invite: (options?: { ttlMs?: number }) => Promise<string>
  /** Removes a member by PeerId or site name (needs the mesh key); it is cut off at once. */
  remove: (peerOrSite: string) => Promise<SignedMembership>
  /** Runs every replication link now and waits for the runs. */
  replicateNow: () => Promise<LinkStatus[]>
  /** Each link's run in progress and last result (cheap: no store is read). */
  linkRuns: () => ReturnType<ReplicationLinks['runs']>
  /** Tell the node the local store gained snapshots (e.g. a backup finished). */
  noteLocalChange: () => void
  /** Fetches these blocks again from connected members that hold them (F14), into `into` (default: the served store). */
  repair: (cids: CID[], options?: AbortOptions & { into?: BlockStore }) => Promise<RepairResult>
  /** Reads every stored block back against its CID and repairs bad ones from connected members (F14). */
  scrub: (options?: AbortOptions & ProgressOptions<ScrubProgressEvent>) => Promise<ScrubResult>
  /** Replaces the replication policies and bandwidth schedule; links follow at once. */
  configure: (init: { policies: ReplicationPolicy[], bandwidth?: BandwidthSchedule }) => void
  /** Drops the released snapshots whose locks have passed and frees the blocks no kept snapshot lists (doc/mesh.md "GC at a replica"). */
  retentionGc: () => Promise<RetentionGcResult>
  /** A retention GC started by a release or the timer is still running. */
  retentionGcRunning: () => boolean
  /** The lock and release state of each snapshot root received with a manifest. */
  locks: () => Promise<SnapshotLock[]>
  /**
   * Hands an administrator's release (its bytes, signed on the administrator's token) to this
   * node's replica and to every connected member: each checks it against the certificates it
   * trusts and ends its lock on the snapshot, or refuses it, changing nothing.
   */
  adminRelease: (bytes: Uint8Array, options?: AbortOptions) => Promise<AdminReleaseDelivery[]>
  /** Members that announced holding a snapshot root in the DHT. */
  findSnapshotHolders: (root: CID, options?: AbortOptions) => Promise<string[]>
  status: () => Promise<MeshStatus>
  /** What identify and the connection tell about a member: its user agent and the address it connects from. */
  peerFacts: (peer: string) => Promise<PeerFacts>
}

export async function createMeshNode (components: MeshNodeComponents, init: MeshNodeInit): Promise<MeshNode> {
  const { store } = components
  const log = components.log ?? (() => {})
  const state: MeshState = await loadMeshState(init.dir)
  const roster = new Roster(state.membership)
  roster.setInvitations(loadInvitations(init.dir))
  const self = peerIdFromPrivateKey(state.peerKey).toString()
  const policies = init.policies ?? []
  const timers: NodeJS.Timeout[] = []
  let stopped = false

  const announceAddrs = init.announceAddrs !== undefined ? checkAnnounceAddrs(init.announceAddrs) : state.config.announce
  const host = await createMeshHost({
    privateKey: state.peerKey,
    listen: state.config.listen,
    announce: announceAddrs,
    userAgent: init.userAgent,
    connectionGater: createMeshGater({
      isAdmissible: p => roster.isAdmissible(p),
      onDenied: (peer, direction) => { log({ event: 'gater-denied', peer, direction }) }
    })
  })

  const storeFor = components.storeFor ?? (() => store)
  const mesh = state.membership.mesh
  const replica = components.replica ?? (store instanceof LocalBlockStore ? store : undefined)
  const floorDays = (origin: string): number | 'forever' => floorDaysOf(init.receive, roster.member(origin)?.site ?? '')
  const siteOf = (origin: string): string => roster.member(origin)?.site ?? origin
  const retention = replica === undefined
    ? undefined
    : createReplicaRetention({
      store: replica,
      mesh,
      now: init.now ?? init.clock?.now,
      floorDays,
      quotaBytes: origin => init.receive?.quotas?.[siteOf(origin)],
      onQuotaRefused: e => { log({ event: 'quota-refused', ...e, site: siteOf(e.origin) }) },
      key: state.peerKey,
      testHold: gcHoldForTests(process.env.CAIRN_TEST_GC_HOLD)
    })
  const releaseAdmins = components.releaseAdmins ?? (async () => readPemFile(join(init.dir, RELEASE_ADMINS_FILE)))
  /** An administrator's release at this replica, against the certificates it trusts now. */
  const applyAdminRelease = retention === undefined
    ? undefined
    : async (bytes: Uint8Array): Promise<AdminReleaseApplied> => await retention.adminRelease(bytes, await releaseAdmins())
  const retentionSource = createRetentionSource({ stores: components.stores ?? (() => [store]), key: state.peerKey, mesh })
  const links = createReplicationLinks({ host, storeFor, self, members: () => roster.members, log, retention: retentionSource }, { policies, bandwidth: init.bandwidth, windowBytes: init.windowBytes, clock: init.clock })

  // A call made while a run is going gets that run's result: logged once, or its frees would count twice.
  const gcLogged = new WeakSet<RetentionGcResult>()
  /** GC at this replica; never in the way of receiving (it runs beside it, prune's epoch rule). */
  async function retentionGc (): Promise<RetentionGcResult> {
    if (retention === undefined) return { dropped: [], blocksFreed: 0, bytesFreed: 0, blockedBy: [] }
    const r = await retention.gc()
    if (gcLogged.has(r)) return r
    gcLogged.add(r)
    if (r.dropped.length > 0 || r.blockedBy.length > 0) log({ event: 'retention-gc', dropped: r.dropped, blocksFreed: r.blocksFreed, bytesFreed: r.bytesFreed, blockedBy: r.blockedBy.length })
    return r
  }
  let gcRunning = 0
  const gcSoon = (): void => {
    gcRunning++
    void retentionGc()
      .catch(err => { log({ event: 'store-error', peer: self, reason: `retention GC: ${String(err?.message ?? err)}` }) })
      .finally(() => { gcRunning-- })
  }

  const penalties = new Penalties({
    onBan: (peer, offences) => {
      log({ event: 'peer-banned', peer, offences })
      void closePeer(peer)
    }
  })

  async function closePeer (peer: string): Promise<void> {
    await host.hangUp(peerIdFromString(peer)).catch(() => {})
  }

  const onChunkEvent = (e: ChunkEvent): void => {
    if (e.kind === 'bad-signature') {
      log({ event: 'bad-signature', peer: e.peer, cid: e.cid, what: e.what })
      penalties.offence(e.peer, `a ${e.what} not signed by its origin`)
    } else if (e.kind === 'release-received') {
      log({ event: 'release-received', peer: e.peer, cid: e.cid })
      gcSoon()
      // Cascade: the release goes on to this node's own targets.
      links.triggerAll()
    } else if (e.kind === 'admin-release') {
      log({ event: 'admin-release', peer: e.peer, site: siteOf(e.peer), ...e.applied })
      gcSoon()
    } else if (e.kind === 'admin-release-refused') {
      log({ event: 'admin-release-refused', peer: e.peer, site: siteOf(e.peer), reason: e.reason, code: e.code })
    } else if (e.kind === 'bad-block' || e.kind === 'protocol-error') {
      log(e.kind === 'bad-block' ? { event: e.kind, peer: e.peer, reason: e.reason, cid: e.cid } : { event: e.kind, peer: e.peer, reason: e.reason })
      penalties.offence(e.peer, e.reason)
    } else if (e.kind === 'store-error') {
      log({ event: 'store-error', peer: e.peer, reason: e.reason })
    } else if (e.kind === 'refused-peer') {
      log({ event: 'refused-peer', peer: e.peer })
    } else if (e.kind === 'root-added') {
      log({ event: 'root-received', peer: e.peer, cid: e.cid, origin: e.origin, site: roster.member(e.origin)?.site })
      announce(e.cid)
      // Cascade: what arrived here goes on to this node's own targets.
      links.triggerAll()
    }
  }

  function announce (cid: string | CID): void {
    if (init.announce === false || host.services.dht === undefined) return
    const c = typeof cid === 'string' ? CID.parse(cid) : cid
    void host.contentRouting.provide(c, { signal: AbortSignal.timeout(30_000) }).catch(() => {})
  }

  const gossip = createGossip({ host, roster, penalties, log, changed: () => { links.refresh() } }, { dir: init.dir, self })
  const admission = createAdmission({ host, roster, log }, { dir: init.dir, state })
  const memberAddresses = createMemberAddresses({ host, roster, log })
  const addresses = createAddressBook({ host, roster }, { dir: init.dir, self, bootstrap: state.config.bootstrap ?? [], stopped: () => stopped })

  const node: MeshNode = {
    peerId: self,
    host,
    roster,
    penalties,

    async start () {
      await gossip.serve()
      await admission.serve()
      await memberAddresses.serve(state.meshKey)
      await serveChunks(host, { store, retention, adminRelease: applyAdminRelease, isMember: p => roster.isMember(p), isBanned: p => penalties.isBanned(p), onEvent: onChunkEvent })
      host.addEventListener('peer:connect', (evt) => {
        const peer = evt.detail.toString()
        if (!roster.isMember(peer)) return
        void gossip.exchange(peer)
        if (links.has(peer)) links.trigger(peer)
        // Announce addresses other than this node's entry: ask a member holding the mesh key to record them.
        if (announceAddrs !== undefined && announceAddrs.length > 0 && state.meshKey === undefined) void memberAddresses.ask(self, announceAddrs)
      })
      await host.start()
      if (announceAddrs !== undefined && announceAddrs.length > 0 && state.meshKey !== undefined) await memberAddresses.record(state.meshKey, self, announceAddrs)
      await addresses.load()
      links.refresh()
      void addresses.dialMembers()
      timers.push(setInterval(() => { void addresses.dialMembers().then(addresses.save).catch(() => {}) }, init.dialEveryMs ?? 5000))
      timers.push(setInterval(() => { links.triggerAll(); gcSoon() }, init.replicateEveryMs ?? 30_000))
      for (const root of await store.snapshotRoots()) announce(root)
    },

    async stop () {
      stopped = true
      for (const t of timers) clearInterval(t)
      await addresses.save().catch(() => {})
      await links.stop()
      await host.stop()
    },

    invite: async options => await admission.invite(options),
    remove: async peerOrSite => await admission.remove(peerOrSite),

    async replicateNow () {
      links.refresh()
      await links.runAll()
      return await links.statuses()
    },

    linkRuns: () => links.runs(),

    noteLocalChange () {
      void store.snapshotRoots().then(roots => { for (const r of roots) announce(r) })
      links.triggerAll()
    },

    async repair (cids, options = {}) {
      if (cids.length === 0) return { repaired: [], failed: [] }
      const sessions: ChunkSession[] = []
      for (const m of roster.members) {
        if (m.peer === self || host.getConnections(peerIdFromString(m.peer)).length === 0) continue
        try { sessions.push(await ChunkSession.open(host, peerIdFromString(m.peer), { signal: options.signal })) } catch {}
      }
      try {
        const r = await repairBlocks(options.into ?? store, cids, sessions, options)
        log({ event: 'repair', repaired: r.repaired.length, failed: r.failed.length })
        return r
      } finally {
        await Promise.all(sessions.map(async s => { await s.close() }))
      }
    },

    async scrub (options = {}) {
      const started = performance.now()
      const all = components.stores?.() ?? [store]
      const out: ScrubResult = { stores: all.length, blocksChecked: 0, bytesChecked: 0, bad: 0, repaired: [], failed: [], durationMs: 0 }
      for (const s of all) {
        const before = { blocksChecked: out.blocksChecked, bytesChecked: out.bytesChecked }
        const r = await scrubStore(s, {
          signal: options.signal,
          onProgress: ({ detail: p }) => { options.onProgress?.({ type: 'scrub:progress', detail: { blocksChecked: before.blocksChecked + p.blocksChecked, bytesChecked: before.bytesChecked + p.bytesChecked } }) }
        })
        out.blocksChecked += r.blocksChecked
        out.bytesChecked += r.bytesChecked
        out.bad += r.bad.length
        if (r.bad.length === 0) continue
        log({ event: 'scrub-found', bad: r.bad.map(String) })
        const fixed = await node.repair(r.bad, { signal: options.signal, into: s })
        out.repaired.push(...fixed.repaired)
        out.failed.push(...fixed.failed)
      }
      out.durationMs = performance.now() - started
      log({ event: 'scrub', blocksChecked: out.blocksChecked, bad: out.bad, repaired: out.repaired.length, failed: out.failed.length })
      return out
    },

    configure (next) {
      links.configure(next)
      log({ event: 'policies-applied', policies: next.policies.map(p => p.name) })
    },

    retentionGc,
    retentionGcRunning: () => gcRunning > 0,
    locks: async () => await retention?.locks() ?? [],

    async adminRelease (bytes, options = {}) {
      adminReleaseRoot(bytes) // a release that is not an administrator's goes nowhere
      const out: AdminReleaseDelivery[] = []
      if (applyAdminRelease !== undefined) {
        try {
          const applied = await applyAdminRelease(bytes)
          onChunkEvent({ kind: 'admin-release', peer: self, applied })
          out.push({ site: siteOf(self), peer: self, outcome: 'applied' })
        } catch (err) {
          const outcome = adminOutcome(err)
          if (outcome === undefined) throw err
          if (outcome !== 'not-locked') onChunkEvent({ kind: 'admin-release-refused', peer: self, reason: (err as CairnError).message, code: (err as CairnError).code })
          out.push({ site: siteOf(self), peer: self, outcome, detail: (err as Error).message })
        }
      }
      await Promise.all(roster.members.filter(m => m.peer !== self).map(async m => {
        const peer = peerIdFromString(m.peer)
        if (host.getConnections(peer).length === 0) { out.push({ site: m.site, peer: m.peer, outcome: 'unreachable' }); return }
        let session: ChunkSession | undefined
        try {
          session = await ChunkSession.open(host, peer, { signal: options.signal })
          const status = await session.sendAdminRelease(bytes, options)
          out.push({ site: m.site, peer: m.peer, outcome: ADMIN_OUTCOME[status] ?? 'failed', ...(ADMIN_OUTCOME[status] === undefined ? { detail: `answered ${statusName(status)}` } : {}) })
        } catch (err) {
          out.push({ site: m.site, peer: m.peer, outcome: 'failed', detail: (err as Error).message })
        } finally {
          await session?.close()
        }
      }))
      return out.sort((a, b) => a.site.localeCompare(b.site))
    },

    async findSnapshotHolders (root, options = {}) {
      const out = new Set<string>()
      if (await store.has(root)) out.add(self)
      try {
        for await (const p of host.contentRouting.findProviders(root, { signal: options.signal ?? AbortSignal.timeout(10_000) })) {
          if (roster.isMember(p.id.toString())) out.add(p.id.toString())
        }
      } catch {}
      return [...out]
    },

    peerFacts: async peer => await peerFacts(host, peer),
    status: async () => await meshStatus({ host, roster, links, penalties, store, retention, invitationsOpen: admission.open }, { self, state })
  }
  return node
}

/**
 * Test only: CAIRN_TEST_GC_HOLD=marked|swept stops every retention GC at that point for good,
 * after one stderr line `{"testGcHold":POINT}`, so that a test can kill -9 the process exactly
 * there (node/mesh/replica-gc.test.ts). Unset in every real run.
 */
function gcHoldForTests (point: string | undefined): ((at: 'marked' | 'swept') => Promise<void>) | undefined {
  if (point === undefined || point === '') return undefined
  return async (at) => {
    if (at !== point) return
    process.stderr.write(`${JSON.stringify({ testGcHold: at })}\n`)
    await new Promise(() => {})
  }
}
