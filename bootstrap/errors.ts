// One class per condition the mesh layer reports, each with a stable `name` that the CLI
// and the HTTP API pass on as `{ name, message }`.

export class InvalidMembershipError extends Error {
  override name = 'InvalidMembershipError'
  constructor (message: string, options?: ErrorOptions) {
    super(`${message}; the member list was not accepted — fetch it again from a member that holds the mesh key`, options)
  }
}

export class StaleMembershipError extends Error {
  override name = 'StaleMembershipError'
  constructor (readonly have: number, readonly offered: number) {
    super(`member list version ${offered} is not newer than version ${have}; nothing to do`)
  }
}

export class InvalidInvitationError extends Error {
  override name = 'InvalidInvitationError'
  constructor (message: string, options?: ErrorOptions) {
    super(`${message}; ask a member that holds the mesh key for a new invitation (cairn mesh invite)`, options)
  }
}

export class InvitationExpiredError extends Error {
  override name = 'InvitationExpiredError'
  constructor (readonly expires: string) {
    super(`the invitation expired at ${expires}; ask for a new one (cairn mesh invite)`)
  }
}

export class InvitationUsedError extends Error {
  override name = 'InvitationUsedError'
  constructor () {
    super('the invitation was already used; each invitation admits one site — ask for a new one')
  }
}

export class MeshKeyMissingError extends Error {
  override name = 'MeshKeyMissingError'
  constructor (dir: string) {
    super(`this node does not hold the mesh key (looked in ${dir}); run the command on the member that ran cairn mesh init`)
  }
}

export class NotAMemberError extends Error {
  override name = 'NotAMemberError'
  constructor (readonly peer: string) {
    super(`peer ${peer} is not a member of this mesh; invite it first (cairn mesh invite)`)
  }
}

export class MeshStateExistsError extends Error {
  override name = 'MeshStateExistsError'
  constructor (dir: string) {
    super(`${dir} already holds mesh state; use another directory or remove it first`)
  }
}

export class MeshStateMissingError extends Error {
  override name = 'MeshStateMissingError'
  constructor (dir: string) {
    super(`${dir} holds no mesh state; run cairn mesh init or cairn mesh join first`)
  }
}

/** A message on the chunk-exchange wire that breaks the format: the peer is penalised. */
export class ProtocolError extends Error {
  override name = 'ProtocolError'
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
  }
}

export class FrameTooLargeError extends Error {
  override name = 'FrameTooLargeError'
  constructor (readonly length: number, readonly limit: number) {
    super(`a frame of ${length} bytes exceeds the limit of ${limit} bytes; the stream is closed`)
  }
}

/** The remote peer refused a block or a request; `code` is the wire status. */
export class RemoteRefusedError extends Error {
  override name = 'RemoteRefusedError'
  constructor (readonly code: string, what: string) {
    super(`the peer refused ${what}: ${code}`)
  }
}

export class PeerUnreachableError extends Error {
  override name = 'PeerUnreachableError'
  constructor (readonly peer: string, options?: ErrorOptions) {
    super(`cannot reach peer ${peer}; check that it runs and is a member, then retry (replication resumes where it stopped)`, options)
  }
}

export class ReplicationAbortedError extends Error {
  override name = 'ReplicationAbortedError'
  constructor (options?: ErrorOptions) {
    super('replication was aborted; running it again resumes where it stopped', options)
  }
}

