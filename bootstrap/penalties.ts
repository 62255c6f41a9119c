// Misbehaving members (bad blocks, broken frames) lose points; past a threshold they are
// banned from the chunk protocol for a while and their connections are closed. Membership
// itself is not touched: only the holder of the mesh key can remove a member.
export interface PenaltiesInit {
  /** Offences before a ban. Default 3. */
  threshold?: number
  /** How long a ban lasts. Default 10 minutes. */
  banMs?: number
  now?: () => number
  onBan?: (peer: string, offences: number) => void
}

export interface PeerRecord { offences: number, bannedUntil: number, last?: string }

export class Penalties {
  private readonly peers = new Map<string, PeerRecord>()
  private readonly threshold: number
  private readonly banMs: number
  private readonly now: () => number

  constructor (private readonly init: PenaltiesInit = {}) {
    this.threshold = init.threshold ?? 3
    this.banMs = init.banMs ?? 10 * 60_000
    this.now = init.now ?? Date.now
  }

  offence (peer: string, reason: string): void {
    const r = this.peers.get(peer) ?? { offences: 0, bannedUntil: 0 }
    r.offences++
    r.last = reason
    this.peers.set(peer, r)
    if (r.offences % this.threshold === 0) {
      r.bannedUntil = this.now() + this.banMs
      this.init.onBan?.(peer, r.offences)
    }
  }

  isBanned (peer: string): boolean {
    return (this.peers.get(peer)?.bannedUntil ?? 0) > this.now()
  }

  snapshot (): Record<string, PeerRecord & { banned: boolean }> {
    return Object.fromEntries([...this.peers].map(([p, r]) => [p, { ...r, banned: r.bannedUntil > this.now() }]))
  }
}
