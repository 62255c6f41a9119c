// Replication policies (F11): how many copies of a store the mesh keeps and where. A
// policy names copies (counting this site's own), optionally sites and roles that must
// hold one, and optionally the user spaces it covers. Cascades need nothing special: B's own
// policy forwards what B holds, including what A sent it.
import type { Member, Role } from './membership.ts'
import { LOCK_FOREVER } from './chunk-wire.ts'

export interface ReplicationPolicy {
  name: string
  /** Copies in the mesh, this site's included. "2 copies, one at a DR site" = { copies: 2, roles: ['dr'] }. */
  copies: number
  /** Roles that must each hold at least one copy. */
  roles?: Role[]
  /** Only these sites may hold copies (default: any member). */
  sites?: string[]
  /**
   * The user spaces (by name) whose stores this policy replicates. Absent: everything the
   * node holds — every space and the replica of what other sites sent (so cascades go on).
   */
  spaces?: string[]
  /**
   * How long each target must keep every snapshot this policy sends it, in days after receipt,
   * or 'forever' (doc/mesh.md "Locks"); the target fixes the lock when the snapshot arrives and
   * never shortens it. Default 0 (a release by the origin applies at once).
   */
  immutableDays?: number | 'forever'
}

/** The lock to ask of a target chosen by `policies`: the longest among them, in days (LOCK_FOREVER for forever). */
export function lockDaysOf (policies: ReplicationPolicy[]): number {
  let days = 0
  for (const p of policies) {
    if (p.immutableDays === 'forever') return LOCK_FOREVER
    days = Math.max(days, p.immutableDays ?? 0)
  }
  return days
}

/** A receiving site's own lock settings (doc/mesh.md "Locks"): for every origin, or per origin site. */
export interface ReceiveLocks { immutableDays?: number | 'forever', perSite?: Record<string, number | 'forever'> }

/** The lock floor a receiving site keeps for what `originSite` sends: its entry for that site, else its default, else 0. */
export function floorDaysOf (receive: ReceiveLocks | undefined, originSite: string): number | 'forever' {
  return receive?.perSite?.[originSite] ?? receive?.immutableDays ?? 0
}

/**
 * The members that should receive this site's blocks: first one per required role, then
 * any others (in site-name order) until `copies - 1` targets are chosen. Deterministic,
 * so every run of a node picks the same targets while the member list is the same.
 */
export function selectTargets (policy: ReplicationPolicy, members: Member[], self: string): Member[] {
  const candidates = members
    .filter(m => m.peer !== self && (policy.sites === undefined || policy.sites.includes(m.site)))
    .sort((a, b) => a.site < b.site ? -1 : a.site > b.site ? 1 : 0)
  const wanted = Math.max(0, policy.copies - 1)
  const chosen: Member[] = []
  for (const role of policy.roles ?? []) {
    if (chosen.length >= wanted) break
    if (chosen.some(m => m.role === role)) continue
    const m = candidates.find(c => c.role === role && !chosen.includes(c))
    if (m !== undefined) chosen.push(m)
  }
  for (const c of candidates) {
    if (chosen.length >= wanted) break
    if (!chosen.includes(c)) chosen.push(c)
  }
  return chosen
}

/** Targets of every policy, each member once, with the policies that chose it. */
export function targetsOf (policies: ReplicationPolicy[], members: Member[], self: string): Array<{ member: Member, policies: ReplicationPolicy[] }> {
  const out = new Map<string, { member: Member, policies: ReplicationPolicy[] }>()
  for (const p of policies) {
    for (const m of selectTargets(p, members, self)) {
      const t = out.get(m.peer) ?? { member: m, policies: [] }
      t.policies.push(p)
      out.set(m.peer, t)
    }
  }
  return [...out.values()]
}
