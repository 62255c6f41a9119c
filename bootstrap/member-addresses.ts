// A member's own addresses in the member list (/cairn/addrs/1.0.0, doc/mesh.md "Addresses"):
// only the mesh key signs lists, so a member whose announce addresses changed asks a member
// holding the key to record them. It sends one JSON frame `{addrs}`; the key holder checks
// them (announce.ts), signs a new list version in which the sender's entry — and only its own:
// the stream's noise-authenticated peer — has them, and answers `{ok: true}` or `{ok: false,
// error}`. Members without the key do not serve the protocol. A member may change its entry at
// most once a minute, so a hostile one cannot churn list versions.
import { peerIdFromString } from '@libp2p/peer-id'
import { checkAnnounceAddrs } from './announce.ts'
import { NotAMemberError, ProtocolError } from './errors.ts'
import { exchangeJson, FrameReader, jsonFrame, parseJsonFrame, sendWithBackpressure } from './frame.ts'
import type { MeshHost } from './host.ts'
import { signMembership, withMember } from './membership.ts'
import type { MeshEvent } from './mesh-events.ts'
import type { Roster } from './roster.ts'
import { errorRecord } from '../crypto/index.ts'
import type { PrivateKey } from '@libp2p/interface'

export const ADDRS_PROTOCOL = '/cairn/addrs/1.0.0'
const MIN_INTERVAL_MS = 60_000

export interface MemberAddressesComponents {
  host: MeshHost
  roster: Roster
  log: (event: MeshEvent) => void
}

export interface MemberAddresses {
  /** On a member holding the mesh key: answers other members' requests. */
  serve: (meshKey: PrivateKey | undefined) => Promise<void>
  /** Signs a new list when the entry of `peer` has other addresses than `addrs` (needs the key). */
  record: (meshKey: PrivateKey, peer: string, addrs: string[]) => Promise<boolean>
  /** Asks the connected members, one after another, until one holding the key recorded `addrs` for this node. */
  ask: (self: string, addrs: string[]) => Promise<void>
}

const same = (a: string[], b: string[]): boolean => JSON.stringify(a) === JSON.stringify(b)

export function createMemberAddresses (components: MemberAddressesComponents): MemberAddresses {
  const { host, roster, log } = components
  const lastChange = new Map<string, number>()
  const addresses: MemberAddresses = {
    async record (meshKey, peer, addrs) {
      const m = roster.member(peer)
      if (m === undefined) throw new NotAMemberError(peer)
      if (same(m.addrs, addrs)) return false
      await roster.offer(await signMembership(meshKey, withMember(roster.membership, { ...m, addrs })))
      log({ event: 'member-addresses', peer, site: m.site, addrs })
      return true
    },

    async serve (meshKey) {
      if (meshKey === undefined) return
      await host.handle(ADDRS_PROTOCOL, async (stream, connection) => {
        const peer = connection.remotePeer.toString()
        if (!roster.isMember(peer)) { stream.abort(new NotAMemberError(peer)); return }
        const reader = new FrameReader(stream, { maxFrame: 64 * 1024, maxBuffered: 64 * 1024 })
        let answer: unknown
        try {
          const body = await reader.next()
          const req = body === undefined ? undefined : parseJsonFrame(body) as { addrs?: unknown }
          if (!Array.isArray(req?.addrs) || req.addrs.length > 16 || req.addrs.some(a => typeof a !== 'string')) throw new ProtocolError('an address request holds a list of at most 16 addresses')
          const addrs = checkAnnounceAddrs(req.addrs as string[])
          if (!same(roster.member(peer)?.addrs ?? [], addrs)) {
            if (Date.now() - (lastChange.get(peer) ?? -Infinity) < MIN_INTERVAL_MS) throw new ProtocolError('addresses changed less than a minute ago; ask again later')
            lastChange.set(peer, Date.now())
            await addresses.record(meshKey, peer, addrs)
          }
          answer = { ok: true }
        } catch (err) {
          answer = { ok: false, error: errorRecord(err) }
        }
        await sendWithBackpressure(stream, jsonFrame(answer)).catch(() => {})
        await stream.close().catch(() => {})
      })
    },

    async ask (self, addrs) {
      for (const m of roster.members) {
        if (same(roster.member(self)?.addrs ?? addrs, addrs)) return
        if (m.peer === self || host.getConnections(peerIdFromString(m.peer)).length === 0) continue
        try {
          const stream = await host.dialProtocol(peerIdFromString(m.peer), ADDRS_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
          const reply = await exchangeJson(stream, { addrs }) as { ok?: boolean }
          // The new list reaches this node by gossip; asking one holder is enough.
          if (reply?.ok === true) return
        } catch {}
      }
    }
  }
  return addresses
}
