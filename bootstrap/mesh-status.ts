// What a mesh node tells of itself and of the other members (`cairn mesh status`, GET /api/mesh):
// the member list with who is connected, each replication link and policy with its lag, the
// snapshots held per site, and what identify says of a peer.
import { peerIdFromString } from '@libp2p/peer-id'
import type { BlockStore } from '../chunkstore/index.ts'
import type { MeshHost } from './host.ts'
import type { Member } from './membership.ts'
import type { MeshState } from './mesh-state.ts'
import type { Penalties } from './penalties.ts'
import type { LinkStatus, PolicyStatus, ReplicationLinks } from './replication-links.ts'
import type { Roster } from './roster.ts'
import type { OriginSpace, ReplicaRetention, SnapshotLock } from './replica-retention.ts'

export interface MeshStatus {
  mesh: string
  version: number
  self: { peer: string, site: string, role: string, addrs: string[], holdsMeshKey: boolean }
  /**
   * `connections`: each open connection to the member, with the address at its other end — for
   * an outbound one the address dialled (one of those the member announces), for an inbound
   * one the address it came from.
   */
  members: Array<Member & { connected: boolean, self: boolean, connections: Array<{ direction: 'inbound' | 'outbound', addr: string }> }>
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
  /**
   * Snapshots other sites sent with manifests (doc/mesh.md "Retention at replicas"): each one's
   * lock and release state, and the space per origin site.
   */
  retention: { locks: Array<SnapshotLock & { site: string }>, space: Array<OriginSpace & { site: string }> }
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

export interface PeerFacts {
  /** The peer's identify user agent ("cairn/0.1.0 (Linux 6.1 x64; host)"), once identify ran. */
  agent?: string
  /** IP address of an open connection to the peer. */
  ip?: string
}

export interface StatusComponents {
  host: MeshHost
  roster: Roster
  links: ReplicationLinks
  penalties: Penalties
  store: BlockStore
  /** Invitations neither used nor expired. */
  invitationsOpen: () => number
  retention?: Pick<ReplicaRetention, 'locks' | 'space'>
}

export async function meshStatus (c: StatusComponents, init: { self: string, state: MeshState }): Promise<MeshStatus> {
  const { host, roster, links, self } = { ...c, self: init.self }
  const me = roster.member(self)
  return {
    mesh: roster.mesh,
    version: roster.membership.version,
    self: { peer: self, site: me?.site ?? init.state.config.site, role: me?.role ?? init.state.config.role, addrs: host.getMultiaddrs().map(String), holdsMeshKey: init.state.meshKey !== undefined },
    members: roster.members.map(m => {
      const connections = m.peer === self ? [] : host.getConnections(peerIdFromString(m.peer)).map(c => ({ direction: c.direction, addr: c.remoteAddr.toString() }))
      return { ...m, self: m.peer === self, connected: m.peer === self || connections.length > 0, connections }
    }),
    links: await links.statuses(),
    policies: await links.policyStatuses(),
    penalties: c.penalties.snapshot(),
    invitationsOpen: c.invitationsOpen(),
    held: await heldSnapshots(c.store, roster, self),
    retention: {
      locks: (await c.retention?.locks() ?? []).map(l => ({ ...l, site: roster.member(l.origin)?.site ?? l.origin })),
      space: (await c.retention?.space() ?? []).map(o => ({ ...o, site: roster.member(o.origin)?.site ?? o.origin }))
    }
  }
}

async function heldSnapshots (store: BlockStore, roster: Roster, self: string): Promise<HeldSnapshots[]> {
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

/** What identify and the connection tell about a member: its user agent and the address it connects from. */
export async function peerFacts (host: MeshHost, peer: string): Promise<PeerFacts> {
  const id = peerIdFromString(peer)
  let agent: string | undefined
  try {
    const bytes = (await host.peerStore.get(id)).metadata.get('AgentVersion')
    if (bytes !== undefined) agent = new TextDecoder().decode(bytes)
  } catch {}
  const addr = host.getConnections(id)[0]?.remoteAddr
  const ip = addr?.getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')?.value
  return { agent, ip }
}
