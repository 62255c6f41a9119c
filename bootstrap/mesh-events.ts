// What a mesh node tells its host, one event per notable thing (MeshNodeComponents.log): a
// union on `event`, so a host that prints, logs or counts them (node/cli/event-lines.ts, the
// node daemon's log list) handles each kind by name and the type check finds a kind it misses.
// Events are records of what happened, never requests; their fields are plain JSON.
import type { ErrorRecord } from '../crypto/index.ts'
import type { Role } from './membership.ts'
import type { ReplicationResult } from './replicator.ts'

export type MeshEvent =
  // Membership and admission
  | { event: 'member-joined', peer: string, site: string, role: Role }
  /** A member's entry now has its announce addresses: a new list version signed here, the mesh-key holder (member-addresses.ts). */
  | { event: 'member-addresses', peer: string, site: string, addrs: string[] }
  | { event: 'membership-adopted', version: number, removed: string[] }
  | { event: 'membership-rejected', peer: string, reason: string }
  | { event: 'membership-exchange-failed', peer: string, reason: string }
  | { event: 'invitation-created', id: string, expires: string }
  | { event: 'cut-off', peer: string }
  | { event: 'policies-applied', policies: string[] }
  // Who is kept out, and why
  | { event: 'gater-denied', peer: string, direction: 'inbound' | 'outbound' }
  | { event: 'refused-peer', peer: string }
  | { event: 'peer-banned', peer: string, offences: number }
  | { event: 'bad-block', peer: string, reason: string, cid: string }
  | { event: 'protocol-error', peer: string, reason: string }
  /** The local store failed on a peer's request (a full disk, say): not the peer's fault. */
  | { event: 'store-error', peer: string, reason: string }
  // Replication (F11) and what arrives
  | ({ event: 'replicated', peer: string, site: string } & ReplicationResult)
  | { event: 'replication-waiting', peer: string, site: string, reason: 'unreachable' }
  | { event: 'replication-failed', peer: string, site: string, error: ErrorRecord }
  | { event: 'root-received', peer: string, cid: string, origin: string, site?: string }
  // Retention at replicas (replica-retention.ts)
  | { event: 'release-received', peer: string, cid: string }
  | { event: 'bad-signature', peer: string, cid: string, what: 'manifest' | 'release' }
  /** A new snapshot refused: this replica's quota for its origin is full (an alert). */
  | { event: 'quota-refused', origin: string, site: string, root: string, held: number, adding: number, quota: number }
  /** An administrator's release ended a lock here: who (certificate subject and fingerprint), why, and who relayed it (`peer` and its `site`; this node's own when issued here). */
  | { event: 'admin-release', peer: string, site: string, root: string, origin: string, subject: string, fingerprint: string, reason: string, issued: string, release: string }
  /** An administrator's release refused here (an untrusted certificate, a bad signature, no lock for its snapshot); nothing changed. */
  | { event: 'admin-release-refused', peer: string, site: string, reason: string, code: string }
  | { event: 'retention-gc', dropped: string[], blocksFreed: number, bytesFreed: number, blockedBy: number }
  // Scrub and repair (F14)
  | { event: 'scrub-found', bad: string[] }
  | { event: 'scrub', blocksChecked: number, bad: number, repaired: number, failed: number }
  | { event: 'repair', repaired: number, failed: number }

export type MeshEventName = MeshEvent['event']
