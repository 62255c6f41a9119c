// One class per condition the mesh layer reports, each with a stable `name` and `code` (the
// base and the rules: crypto/errors.ts).
import { CairnError, type CairnErrorOptions } from '../crypto/index.ts'

export class InvalidMembershipError extends CairnError {
  static override readonly code = 'MEMBERSHIP_INVALID'
  override readonly name = 'InvalidMembershipError'
  constructor (message: string, options?: CairnErrorOptions) {
    super(`${message}; the member list was not accepted — fetch it again from a member that holds the mesh key`, options)
  }
}

export class StaleMembershipError extends CairnError {
  static override readonly code = 'MEMBERSHIP_STALE'
  override readonly name = 'StaleMembershipError'
  constructor (readonly have: number, readonly offered: number) {
    super(`member list version ${offered} is not newer than version ${have}; nothing to do`, { params: { have, offered } })
  }
}

export class InvalidInvitationError extends CairnError {
  static override readonly code = 'INVITATION_INVALID'
  override readonly name = 'InvalidInvitationError'
  constructor (message: string, options?: CairnErrorOptions) {
    super(`${message}; ask a member that holds the mesh key for a new invitation (cairn mesh invite)`, options)
  }
}

export class InvitationExpiredError extends CairnError {
  static override readonly code = 'INVITATION_EXPIRED'
  override readonly name = 'InvitationExpiredError'
  constructor (readonly expires: string) {
    super(`the invitation expired at ${expires}; ask for a new one (cairn mesh invite)`, { params: { expires } })
  }
}

export class InvitationUsedError extends CairnError {
  static override readonly code = 'INVITATION_USED'
  override readonly name = 'InvitationUsedError'
  constructor () {
    super('the invitation was already used; each invitation admits one site — ask for a new one')
  }
}

export class MeshKeyMissingError extends CairnError {
  static override readonly code = 'MESH_KEY_MISSING'
  override readonly name = 'MeshKeyMissingError'
  constructor (dir: string) {
    super(`this node does not hold the mesh key (looked in ${dir}); run the command on the member that ran cairn mesh init`, { params: { dir } })
  }
}

export class NotAMemberError extends CairnError {
  static override readonly code = 'NOT_A_MEMBER'
  override readonly name = 'NotAMemberError'
  constructor (readonly peer: string) {
    super(`peer ${peer} is not a member of this mesh; invite it first (cairn mesh invite)`, { params: { peer } })
  }
}

export class MeshStateExistsError extends CairnError {
  static override readonly code = 'MESH_STATE_EXISTS'
  override readonly name = 'MeshStateExistsError'
  constructor (dir: string) {
    super(`${dir} already holds mesh state; use another directory or remove it first`, { params: { dir } })
  }
}

export class MeshStateMissingError extends CairnError {
  static override readonly code = 'MESH_STATE_MISSING'
  override readonly name = 'MeshStateMissingError'
  constructor (dir: string) {
    super(`${dir} holds no mesh state; run cairn mesh init or cairn mesh join first`, { params: { dir } })
  }
}

/** A message on the chunk-exchange wire that breaks the format: the peer is penalised. */
export class ProtocolError extends CairnError {
  static override readonly code = 'PROTOCOL_VIOLATION'
  override readonly name = 'ProtocolError'
  constructor (message: string, options?: CairnErrorOptions) {
    super(message, options)
  }
}

export class FrameTooLargeError extends CairnError {
  static override readonly code = 'FRAME_TOO_LARGE'
  override readonly name = 'FrameTooLargeError'
  constructor (readonly length: number, readonly limit: number) {
    super(`a frame of ${length} bytes exceeds the limit of ${limit} bytes; the stream is closed`, { params: { length, limit } })
  }
}

/** The remote peer refused a block or a request; `status` is the wire status's name (chunk-wire.ts `Status`). */
export class RemoteRefusedError extends CairnError {
  static override readonly code = 'REMOTE_REFUSED'
  override readonly name = 'RemoteRefusedError'
  constructor (readonly status: string, what: string) {
    super(`the peer refused ${what}: ${status}`, { params: { status, what } })
  }
}

export class PeerUnreachableError extends CairnError {
  static override readonly code = 'PEER_UNREACHABLE'
  override readonly name = 'PeerUnreachableError'
  constructor (readonly peer: string, options?: CairnErrorOptions) {
    super(`cannot reach peer ${peer}; check that it runs and is a member, then retry (replication resumes where it stopped)`, { ...options, params: { peer } })
  }
}

/** A manifest head or release that does not follow its format or whose signature does not verify (doc/mesh.md "Retention at replicas"). */
export class InvalidRetentionRecordError extends CairnError {
  static override readonly code = 'RETENTION_RECORD_INVALID'
  override readonly name = 'InvalidRetentionRecordError'
  constructor (what: 'manifest' | 'release', reason: string, options?: CairnErrorOptions) {
    super(`the ${what} was refused: ${reason}; nothing was changed`, { ...options, params: { what, reason } })
  }
}

/** An administrator's release names a snapshot this replica keeps no lock for (doc/mesh.md "Releases"). */
export class SnapshotNotLockedError extends CairnError {
  static override readonly code = 'SNAPSHOT_NOT_LOCKED'
  override readonly name = 'SnapshotNotLockedError'
  constructor (readonly root: string) {
    super(`snapshot ${root} is not one this replica keeps with a lock; nothing was changed`, { params: { root } })
  }
}

/** An administrator's release signed with a certificate the replica does not trust for releases (doc/mesh.md "Releases"). */
export class UntrustedReleaseCertificateError extends CairnError {
  static override readonly code = 'RELEASE_CERTIFICATE_UNTRUSTED'
  override readonly name = 'UntrustedReleaseCertificateError'
  constructor (readonly fingerprint: string) {
    super(`the release was refused: certificate ${fingerprint} is not one this replica trusts for releases (an administrator's enrolled USB key there); nothing was changed`, { params: { fingerprint } })
  }
}

/** A replica refused a new snapshot of this site's: its quota for this site is full (doc/mesh.md "Space accounting and quotas"). */
export class ReplicaQuotaError extends CairnError {
  static override readonly code = 'REPLICA_QUOTA_FULL'
  override readonly name = 'ReplicaQuotaError'
  constructor (readonly root: string) {
    super(`the replica's quota for this site is full: it refused snapshot ${root} before any of its blocks were sent; free space there (its origin's releases, once their locks pass) or raise its quota ("cairn mesh receive --quota" at the replica)`, { params: { root } })
  }
}

export class InvalidAnnounceAddressError extends CairnError {
  static override readonly code = 'ANNOUNCE_ADDRESS_INVALID'
  override readonly name = 'InvalidAnnounceAddressError'
  constructor (readonly address: string, reason: string, options?: CairnErrorOptions) {
    super(`announce address ${JSON.stringify(address)} ${reason}; give a multiaddr other sites can dial, e.g. /ip4/203.0.113.7/tcp/4737 or /dns4/backup.example.org/tcp/4737`, { ...options, params: { address } })
  }
}
