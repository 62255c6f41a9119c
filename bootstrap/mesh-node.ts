// A mesh node: the libp2p host with its gater, the member list kept current by gossip,
// admission of invited sites, the chunk-exchange server over the local stores, the
// replication links that the policies ask for, and scrub and repair of what it stores.
// One object, started and stopped in one place.
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { multiaddr } from '@multiformats/multiaddr'
import { ChunkSession, serveChunks, type ChunkEvent } from './chunk-protocol.ts'
import { InvitationUsedError, InvalidInvitationError, NotAMemberError } from './errors.ts'
import { exchangeJson, FrameReader, jsonFrame, parseJsonFrame, sendWithBackpressure } from './frame.ts'
import { createMeshGater } from './gater.ts'
import { createMeshHost, type MeshHost } from './host.ts'
import { createInvitation, encodeInvitation } from './invitation.ts'
import { handleJoinStream, JOIN_PROTOCOL } from './join.ts'
import { signMembership, withMember, withoutMember, type Member, type SignedMembership } from './membership.ts'
import { loadInvitations, loadMeshState, requireMeshKey, saveInvitations, saveMembership, writeFileAtomic, type MeshState } from './mesh-state.ts'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Penalties } from './penalties.ts'
import { type ReplicationPolicy } from './policy.ts'
import { createReplicationLinks, type LinkStatus, type PolicyStatus, type ReplicationLinks } from './replication-links.ts'
import { Roster } from './roster.ts'
import { repairBlocks, type RepairResult } from './repair.ts'
import { scrubStore } from './scrub.ts'
import type { BandwidthSchedule, BlockStore, LimiterClock } from '../chunkstore/index.ts'

export type { LinkStatus, PolicyStatus }

export const MEMBERSHIP_PROTOCOL = '/cairn/membership/1.0.0'

export interface MeshNodeComponents {
  /** What the node serves to members: reads of every block it keeps; blocks sent to it are written here. */
  store: BlockStore
  /** What a target receives, given the policies that chose it. Default: `store`. */
  storeFor?: (policies: ReplicationPolicy[]) => BlockStore
  /** Each store the node keeps, for scrub (a view over several must be scrubbed store by store). Default: [`store`]. */
  stores?: () => BlockStore[]
  /** One structured line per notable event (joins, removals, bans, bad blocks, replication runs). */
  log?: (event: Record<string, unknown>) => void
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
  /** Sent to peers by identify (they show it as this node's OS and version). */
  userAgent?: string
}

export interface PeerFacts {
  /** The peer's identify user agent ("cairn/0.1.0 (Linux 6.1 x64; host)"), once identify ran. */
  agent?: string
  /** IP address of an open connection to the peer. */
  ip?: string
}

export interface MeshStatus {
  mesh: string
  version: number
  self: { peer: string, site: string, role: string, addrs: string[], holdsMeshKey: boolean }
  members: Array<Member & { connected: boolean, self: boolean }>
  links: LinkStatus[]
  /** Per policy: its targets, lag and health (F11, issue 4). */
  policies: PolicyStatus[]
  penalties: ReturnType<Penalties['snapshot']>
  invitationsOpen: number
  /**
   * Snapshots held here, per site whose backups they are: this site's own (`self`) and what
   * other sites sent, by the origin their senders named. `lastReceived` is when the newest arrived.
   */
  held: HeldSnapshots[]
}

export interface HeldSnapshots {
  /** PeerId of the origin site. */
  peer: string
  /** Its name in the member list (the PeerId when it is not a member). */
  site: string
  self: boolean
  snapshots: number
  lastReceived?: string
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
  repair: (cids: CID[], options?: { signal?: AbortSignal, into?: BlockStore }) => Promise<RepairResult>
  /** Reads every stored block back against its CID and repairs bad ones from connected members (F14). */
  scrub: (options?: { signal?: AbortSignal, onProgress?: (p: { blocksChecked: number, bytesChecked: number }) => void }) => Promise<ScrubResult>
  /** Replaces the replication policies and bandwidth schedule; links follow at once. */
  configure: (init: { policies: ReplicationPolicy[], bandwidth?: BandwidthSchedule }) => void
  /** Members that announced holding a snapshot root in the DHT. */
  findSnapshotHolders: (root: CID, options?: { signal?: AbortSignal }) => Promise<string[]>
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

  const host = await createMeshHost({
    privateKey: state.peerKey,
    listen: state.config.listen,
    userAgent: init.userAgent,
    connectionGater: createMeshGater({
      isAdmissible: p => roster.isAdmissible(p),
      onDenied: (peer, direction) => { log({ event: 'gater-denied', peer, direction }) }
    })
  })

  const storeFor = components.storeFor ?? (() => store)
  const links = createReplicationLinks({ host, storeFor, self, members: () => roster.members, log }, { policies, bandwidth: init.bandwidth, windowBytes: init.windowBytes, clock: init.clock })

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
    if (e.kind === 'bad-block' || e.kind === 'protocol-error') {
      log({ event: e.kind, peer: e.peer, reason: e.reason, ...(e.kind === 'bad-block' ? { cid: e.cid } : {}) })
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

  // Membership gossip: each side sends its list and adopts the other's if newer.
  async function exchangeMembership (peer: string): Promise<void> {
    try {
      const stream = await host.dialProtocol(peerIdFromString(peer), MEMBERSHIP_PROTOCOL)
      const theirs = await exchangeJson(stream, roster.membership)
      await roster.offer(theirs).catch((err) => { log({ event: 'membership-rejected', peer, reason: err.message }) })
      await stream.close().catch(() => {})
    } catch (err: any) {
      log({ event: 'membership-exchange-failed', peer, reason: err.message })
    }
  }

  roster.onChange((current, previous) => {
    saveMembership(init.dir, current)
    const gone = previous.members.filter(m => !current.members.some(c => c.peer === m.peer))
    log({ event: 'membership-adopted', version: current.version, removed: gone.map(m => m.site) })
    for (const m of current.members) {
      if (m.peer !== self && m.addrs.length > 0) void host.peerStore.merge(peerIdFromString(m.peer), { multiaddrs: m.addrs.map(a => multiaddr(a)) }).catch(() => {})
    }
    const removed = new Set(gone.map(m => m.peer))
    for (const c of host.getConnections()) {
      const peer = c.remotePeer.toString()
      // Only removed members are cut off here; an admission peer's connection ends when its join does.
      if (removed.has(peer)) {
        log({ event: 'cut-off', peer })
        void c.close().catch(() => { c.abort(new NotAMemberError(peer)) })
      } else if (roster.isMember(peer)) {
        void exchangeMembership(peer)
      }
    }
    links.refresh()
  })

  function announce (cid: string | CID): void {
    if (init.announce === false || host.services.dht === undefined) return
    const c = typeof cid === 'string' ? CID.parse(cid) : cid
    void host.contentRouting.provide(c, { signal: AbortSignal.timeout(30_000) }).catch(() => {})
  }

  // Addresses learnt from identify, kept across restarts: a member whose port changed can
  // still be reached by the members it dials itself.
  const addressBook = join(init.dir, 'addresses.json')
  let savedAddresses = ''
  async function saveAddresses (): Promise<void> {
    const book: Record<string, string[]> = {}
    for (const m of roster.members) {
      if (m.peer === self) continue
      try {
        const p = await host.peerStore.get(peerIdFromString(m.peer))
        const addrs = p.addresses.map(a => a.multiaddr.toString())
        if (addrs.length > 0) book[m.peer] = addrs
      } catch {}
    }
    const text = JSON.stringify(book)
    if (text !== savedAddresses) { writeFileAtomic(addressBook, text + '\n', 0o644); savedAddresses = text }
  }
  async function loadAddresses (): Promise<void> {
    if (!existsSync(addressBook)) return
    let book: Record<string, string[]> = {}
    try { book = JSON.parse(readFileSync(addressBook, 'utf8')) } catch { return }
    for (const [peer, addrs] of Object.entries(book)) {
      if (!roster.isMember(peer) || !Array.isArray(addrs)) continue
      try { await host.peerStore.merge(peerIdFromString(peer), { multiaddrs: addrs.map(a => multiaddr(a)) }) } catch {}
    }
  }

  async function dialMembers (): Promise<void> {
    for (const addr of state.config.bootstrap ?? []) {
      const ma = multiaddr(addr)
      const id = ma.getComponents().findLast(c => c.name === 'p2p')?.value
      if (id === undefined || !roster.isMember(id) || host.getConnections(peerIdFromString(id)).length > 0) continue
      try { await host.dial(ma, { signal: AbortSignal.timeout(5000) }) } catch {}
    }
    for (const m of roster.members) {
      if (m.peer === self || stopped) continue
      if (host.getConnections(peerIdFromString(m.peer)).length > 0) continue
      try {
        await host.dial(peerIdFromString(m.peer), { signal: AbortSignal.timeout(5000) })
      } catch {}
    }
  }

  async function heldSnapshots (): Promise<HeldSnapshots[]> {
    const roots = store.snapshotRootOrigins !== undefined ? await store.snapshotRootOrigins() : (await store.snapshotRoots()).map(cid => ({ cid, origin: undefined }))
    const bySite = new Map<string, HeldSnapshots>()
    for (const { origin } of roots) {
      const peer = origin?.site ?? self
      let h = bySite.get(peer)
      if (h === undefined) bySite.set(peer, h = { peer, site: roster.member(peer)?.site ?? peer, self: peer === self, snapshots: 0 })
      h.snapshots++
      if (origin !== undefined && origin.received > (h.lastReceived ?? '')) h.lastReceived = origin.received
    }
    return [...bySite.values()].sort((a, b) => Number(b.self) - Number(a.self) || a.site.localeCompare(b.site))
  }

  const node: MeshNode = {
    peerId: self,
    host,
    roster,
    penalties,

    async start () {
      await host.handle(MEMBERSHIP_PROTOCOL, async (stream, connection) => {
        const peer = connection.remotePeer.toString()
        if (!roster.isMember(peer)) { stream.abort(new NotAMemberError(peer)); return }
        const reader = new FrameReader(stream, { maxFrame: 1024 * 1024, maxBuffered: 1024 * 1024 })
        try {
          const body = await reader.next()
          if (body === undefined) return
          const theirs = parseJsonFrame(body)
          await sendWithBackpressure(stream, jsonFrame(roster.membership))
          await stream.close().catch(() => {})
          await roster.offer(theirs).catch((err) => { log({ event: 'membership-rejected', peer, reason: err.message }) })
        } catch (err: any) {
          penalties.offence(peer, err.message)
          stream.abort(err)
        }
      })
      if (state.meshKey !== undefined) {
        await host.handle(JOIN_PROTOCOL, async (stream, connection) => {
          await handleJoinStream(stream, connection, {
            mesh: roster.mesh,
            consumeInvitation: async (admissionPeer) => {
              const records = loadInvitations(init.dir)
              const r = records.find(x => x.peer === admissionPeer)
              if (r === undefined) throw new InvalidInvitationError('no invitation of this node has that key')
              if (r.used) throw new InvitationUsedError()
              if (Date.parse(r.expires) <= Date.now()) throw new InvalidInvitationError('the invitation expired')
              r.used = true
              saveInvitations(init.dir, records)
              roster.setInvitations(records)
              return r.id
            },
            admit: async (member) => {
              if (roster.members.some(m => m.site === member.site && m.peer !== member.peer)) {
                throw new InvalidInvitationError(`site name ${member.site} is taken`)
              }
              const doc = await signMembership(requireMeshKey(state), withMember(roster.membership, member))
              await roster.offer(doc)
              log({ event: 'member-joined', peer: member.peer, site: member.site, role: member.role })
              return doc
            }
          })
          // The admission connection has done its job.
          setTimeout(() => { void connection.close().catch(() => {}) }, 500).unref()
        })
      }
      await serveChunks(host, { store, isMember: p => roster.isMember(p), isBanned: p => penalties.isBanned(p), onEvent: onChunkEvent })
      host.addEventListener('peer:connect', (evt) => {
        const peer = evt.detail.toString()
        if (!roster.isMember(peer)) return
        void exchangeMembership(peer)
        if (links.has(peer)) links.trigger(peer)
      })
      await host.start()
      for (const m of roster.members) {
        if (m.peer !== self && m.addrs.length > 0) await host.peerStore.merge(peerIdFromString(m.peer), { multiaddrs: m.addrs.map(a => multiaddr(a)) }).catch(() => {})
      }
      await loadAddresses()
      links.refresh()
      void dialMembers()
      timers.push(setInterval(() => { void dialMembers().then(saveAddresses).catch(() => {}) }, init.dialEveryMs ?? 5000))
      timers.push(setInterval(() => { links.triggerAll() }, init.replicateEveryMs ?? 30_000))
      for (const root of await store.snapshotRoots()) announce(root)
    },

    async stop () {
      stopped = true
      for (const t of timers) clearInterval(t)
      await saveAddresses().catch(() => {})
      await links.stop()
      await host.stop()
    },

    async invite (options = {}) {
      requireMeshKey(state)
      const addrs = host.getMultiaddrs().map(a => a.toString())
      const { invitation, record } = await createInvitation({ mesh: roster.mesh, addrs, ttlMs: options.ttlMs ?? 24 * 3600_000 })
      const records = loadInvitations(init.dir).filter(r => !r.used && Date.parse(r.expires) > Date.now())
      records.push(record)
      saveInvitations(init.dir, records)
      roster.setInvitations(records)
      log({ event: 'invitation-created', id: record.id, expires: record.expires })
      return encodeInvitation(invitation)
    },

    async remove (peerOrSite) {
      if (!roster.members.some(m => m.peer === peerOrSite || m.site === peerOrSite)) throw new NotAMemberError(peerOrSite)
      const doc = await signMembership(requireMeshKey(state), withoutMember(roster.membership, peerOrSite))
      await roster.offer(doc)
      return doc
    },

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
          onProgress: p => { options.onProgress?.({ blocksChecked: before.blocksChecked + p.blocksChecked, bytesChecked: before.bytesChecked + p.bytesChecked }) }
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

    async peerFacts (peer) {
      const id = peerIdFromString(peer)
      let agent: string | undefined
      try {
        const bytes = (await host.peerStore.get(id)).metadata.get('AgentVersion')
        if (bytes !== undefined) agent = new TextDecoder().decode(bytes)
      } catch {}
      const addr = host.getConnections(id)[0]?.remoteAddr
      const ip = addr?.getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')?.value
      return { agent, ip }
    },

    async status () {
      const me = roster.member(self)
      return {
        mesh: roster.mesh,
        version: roster.membership.version,
        self: { peer: self, site: me?.site ?? state.config.site, role: me?.role ?? state.config.role, addrs: host.getMultiaddrs().map(String), holdsMeshKey: state.meshKey !== undefined },
        members: roster.members.map(m => ({ ...m, self: m.peer === self, connected: m.peer === self || host.getConnections(peerIdFromString(m.peer)).length > 0 })),
        links: await links.statuses(),
        policies: await links.policyStatuses(),
        penalties: penalties.snapshot(),
        invitationsOpen: loadInvitations(init.dir).filter(r => !r.used && Date.parse(r.expires) > Date.now()).length,
        held: await heldSnapshots()
      }
    }
  }
  return node
}
