// The live view of who may connect: the current signed member list plus the admission
// peers of invitations that are neither used nor expired. The connection gater and every
// protocol handler ask it; it tells listeners when the list changes so that removed
// members are cut off at once.
import { decodeMembership, type Member, type SignedMembership } from './membership.ts'
import type { InvitationRecord } from './invitation.ts'

export type RosterListener = (current: SignedMembership, previous: SignedMembership) => void

export class Roster {
  private doc: SignedMembership
  private invitations: InvitationRecord[] = []
  private readonly listeners: RosterListener[] = []

  constructor (membership: SignedMembership, private readonly now: () => number = Date.now) {
    this.doc = membership
  }

  /** `fn` runs after every adopted change, in registration order; its errors are not ours. */
  onChange (fn: RosterListener): void {
    this.listeners.push(fn)
  }

  get membership (): SignedMembership { return this.doc }
  get mesh (): string { return this.doc.mesh }
  get members (): Member[] { return this.doc.members }

  member (peer: string): Member | undefined {
    return this.doc.members.find(m => m.peer === peer)
  }

  isMember (peer: string): boolean {
    return this.member(peer) !== undefined
  }

  /** The invitation whose admission peer this is, if it may still be used. */
  pendingInvitation (peer: string): InvitationRecord | undefined {
    return this.invitations.find(r => r.peer === peer && !r.used && Date.parse(r.expires) > this.now())
  }

  /** May this peer hold a connection at all: a member, or a joiner presenting a live invitation. */
  isAdmissible (peer: string): boolean {
    return this.isMember(peer) || this.pendingInvitation(peer) !== undefined
  }

  setInvitations (records: InvitationRecord[]): void {
    this.invitations = records.map(r => ({ ...r }))
  }

  /**
   * Adopts `candidate` if it verifies for this mesh and is newer. Returns true when adopted.
   * Throws InvalidMembershipError for a list that does not verify.
   */
  async offer (candidate: unknown): Promise<boolean> {
    const doc = await decodeMembership(candidate, this.doc.mesh)
    if (doc.version <= this.doc.version) return false
    const previous = this.doc
    this.doc = doc
    for (const fn of this.listeners) {
      try { fn(doc, previous) } catch {}
    }
    return true
  }
}
