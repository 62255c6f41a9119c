// Admission (doc/mesh.md "Invitations", "Admission"): on a member that holds the mesh key,
// one-time invitations, the join protocol's answering side (an invitation is used once, within
// its time, for a site name not taken), and removal of members. Each change of the member list
// is a new version signed with the mesh key, offered to the roster (gossip spreads it).
import { InvitationUsedError, InvalidInvitationError, NotAMemberError } from './errors.ts'
import type { MeshHost } from './host.ts'
import { createInvitation, encodeInvitation } from './invitation.ts'
import { handleJoinStream, JOIN_PROTOCOL } from './join.ts'
import { signMembership, withMember, withoutMember, type SignedMembership } from './membership.ts'
import { loadInvitations, requireMeshKey, saveInvitations, type MeshState } from './mesh-state.ts'
import type { MeshEvent } from './mesh-events.ts'
import type { Roster } from './roster.ts'

export interface AdmissionComponents {
  host: MeshHost
  roster: Roster
  log: (event: MeshEvent) => void
}

export interface Admission {
  /** Answers joiners, on a member that holds the mesh key (on the others, nothing). */
  serve: () => Promise<void>
  /** A one-time invitation string (needs the mesh key: MeshKeyMissingError). */
  invite: (options?: { ttlMs?: number }) => Promise<string>
  /** Removes a member by PeerId or site name (needs the mesh key); NotAMemberError for no such member. */
  remove: (peerOrSite: string) => Promise<SignedMembership>
  /** Invitations neither used nor expired. */
  open: () => number
}

export function createAdmission (components: AdmissionComponents, init: { dir: string, state: MeshState }): Admission {
  const { host, roster, log } = components
  const { dir, state } = init
  const live = (r: { used: boolean, expires: string }): boolean => !r.used && Date.parse(r.expires) > Date.now()
  return {
    async serve () {
      if (state.meshKey === undefined) return
      await host.handle(JOIN_PROTOCOL, async (stream, connection) => {
        await handleJoinStream(stream, connection, {
          mesh: roster.mesh,
          consumeInvitation: async (admissionPeer) => {
            const records = loadInvitations(dir)
            const r = records.find(x => x.peer === admissionPeer)
            if (r === undefined) throw new InvalidInvitationError('no invitation of this node has that key')
            if (r.used) throw new InvitationUsedError()
            if (Date.parse(r.expires) <= Date.now()) throw new InvalidInvitationError('the invitation expired')
            r.used = true
            saveInvitations(dir, records)
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
    },

    async invite (options = {}) {
      requireMeshKey(state)
      const addrs = host.getMultiaddrs().map(a => a.toString())
      const { invitation, record } = await createInvitation({ mesh: roster.mesh, addrs, ttlMs: options.ttlMs ?? 24 * 3600_000 })
      const records = loadInvitations(dir).filter(live)
      records.push(record)
      saveInvitations(dir, records)
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

    open: () => loadInvitations(dir).filter(live).length
  }
}
