// Membership gossip (/cairn/membership/1.0.0, doc/mesh.md "Gossip and removal"): when two
// members connect, each sends its signed member list and adopts the other's if it is newer.
// When the list changes it is saved, the addresses it names are learnt, removed members are cut
// off at once and the others are told.
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { NotAMemberError } from './errors.ts'
import { exchangeJson, FrameReader, jsonFrame, parseJsonFrame, sendWithBackpressure } from './frame.ts'
import type { MeshHost } from './host.ts'
import { saveMembership } from './mesh-state.ts'
import type { MeshEvent } from './mesh-events.ts'
import type { Penalties } from './penalties.ts'
import type { Roster } from './roster.ts'

export const MEMBERSHIP_PROTOCOL = '/cairn/membership/1.0.0'

export interface GossipComponents {
  host: MeshHost
  roster: Roster
  penalties: Penalties
  log: (event: MeshEvent) => void
  /** After the list changed and removed members were cut off (the links follow the members). */
  changed: () => void
}

export interface Gossip {
  /** Exchanges lists with a connected member; failures are logged, never thrown. */
  exchange: (peer: string) => Promise<void>
  /** Answers other members' exchanges (only members'; a bad message is an offence). */
  serve: () => Promise<void>
}

export function createGossip (components: GossipComponents, init: { dir: string, self: string }): Gossip {
  const { host, roster, penalties, log } = components

  const gossip: Gossip = {
    async exchange (peer) {
      try {
        const stream = await host.dialProtocol(peerIdFromString(peer), MEMBERSHIP_PROTOCOL)
        const theirs = await exchangeJson(stream, roster.membership)
        await roster.offer(theirs).catch((err) => { log({ event: 'membership-rejected', peer, reason: err.message }) })
        await stream.close().catch(() => {})
      } catch (err: any) {
        log({ event: 'membership-exchange-failed', peer, reason: err.message })
      }
    },

    async serve () {
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
    }
  }

  roster.onChange((current, previous) => {
    saveMembership(init.dir, current)
    const gone = previous.members.filter(m => !current.members.some(c => c.peer === m.peer))
    log({ event: 'membership-adopted', version: current.version, removed: gone.map(m => m.site) })
    for (const m of current.members) {
      if (m.peer !== init.self && m.addrs.length > 0) void host.peerStore.merge(peerIdFromString(m.peer), { multiaddrs: m.addrs.map(a => multiaddr(a)) }).catch(() => {})
    }
    const removed = new Set(gone.map(m => m.peer))
    for (const c of host.getConnections()) {
      const peer = c.remotePeer.toString()
      // Only removed members are cut off here; an admission peer's connection ends when its join does.
      if (removed.has(peer)) {
        log({ event: 'cut-off', peer })
        void c.close().catch(() => { c.abort(new NotAMemberError(peer)) })
      } else if (roster.isMember(peer)) {
        void gossip.exchange(peer)
      }
    }
    components.changed()
  })

  return gossip
}
