// Errors of the holder protocol, each with a stable `name` and `code` (the base and the rules:
// crypto/errors.ts). Each says what to do. The wire carries an error as its ErrorRecord
// (name, code, message, params), and the client tells them apart by code.
import { CairnError } from '../../crypto/index.ts'
import type { CairnErrorOptions } from '../../crypto/index.ts'

/** The holder's proof did not match: whatever listens on the socket does not hold this store's keys. */
export class HolderNotGenuineError extends CairnError {
  static override readonly code = 'HOLDER_NOT_GENUINE'
  override readonly name = 'HolderNotGenuineError'
  constructor (socket: string) {
    super(`The process at ${socket} could not prove it holds this store's keys; nothing was sent to it. Stop whatever listens there, or remove the socket if no Cairn process holds the store.`, { params: { socket } })
  }
}

/** The client's proof matched none of the holder's keys. */
export class HolderAccessDeniedError extends CairnError {
  static override readonly code = 'HOLDER_ACCESS_DENIED'
  override readonly name = 'HolderAccessDeniedError'
  constructor (detail = 'the keys you opened are not this store\'s') {
    super(`The process that holds the store refused: ${detail}. Nothing was changed; check the passphrase, key file or token.`, { params: { detail } })
  }
}

/** An operation that needs the full key, asked with a write-only one. */
export class HolderNeedsFullKeyError extends CairnError {
  static override readonly code = 'HOLDER_FULL_KEY_REQUIRED'
  override readonly name = 'HolderNeedsFullKeyError'
  constructor (op: string) {
    super(`"${op}" needs the store's full key; you opened it with a write-only key, which can only back up. Nothing was changed.`, { params: { op } })
  }
}

/** The holder has the store open without its keys (a mesh node started without them). */
export class HolderWithoutKeysError extends CairnError {
  static override readonly code = 'HOLDER_WITHOUT_KEYS'
  override readonly name = 'HolderWithoutKeysError'
  constructor (dir: string, holder: { pid: number, kind: string }) {
    super(`${dir} is held by "${holder.kind === 'mesh' ? 'cairn mesh run' : holder.kind}" (pid ${holder.pid}), which was started without the store's keys, so it cannot run commands for others. Restart it with --passphrase-file (or --recovery-key-file, --token-label), or stop it for the time of the command.`, { params: { dir, pid: holder.pid, kind: holder.kind } })
  }
}

/** The holder opened the store read-only (a read-only command) and was asked to change it; the client waits for it. */
export class HolderReadOnlyError extends CairnError {
  static override readonly code = 'HOLDER_READ_ONLY'
  override readonly name = 'HolderReadOnlyError'
  constructor (op: string) {
    super(`"${op}" changes the store, and the process that holds it opened it read-only; run it again once that process ends.`, { params: { op } })
  }
}

/** The holder is closing the store; the client opens it itself, or finds the next holder. */
export class HolderClosingError extends CairnError {
  static override readonly code = 'HOLDER_CLOSING'
  override readonly name = 'HolderClosingError'
  constructor () { super('The process that holds the store is closing it; try again.') }
}

/** The holder broke the protocol (a bad line, a closed socket before an answer). */
export class HolderProtocolError extends CairnError {
  static override readonly code = 'HOLDER_PROTOCOL_VIOLATION'
  override readonly name = 'HolderProtocolError'
  constructor (message: string, options?: CairnErrorOptions) { super(message, options) }
}

/** A request the holder does not know, or whose arguments do not fit. */
export class HolderRequestError extends CairnError {
  static override readonly code = 'HOLDER_REQUEST_INVALID'
  override readonly name = 'HolderRequestError'
}

/** The socket's folder (used when the store's path is too long for a socket in it) is not safely ours. */
export class HolderSocketFolderError extends CairnError {
  static override readonly code = 'HOLDER_SOCKET_FOLDER_UNSAFE'
  override readonly name = 'HolderSocketFolderError'
  constructor (dir: string, why: string) {
    super(`The holder socket folder ${dir} ${why}; remove it (another user may have made it) and try again.`, { params: { dir, why } })
  }
}

/**
 * An error the holder answered with. Its message is the holder's, so the CLI prints what a
 * local run would; `remote` has the holder's name and code (`params.remoteCode`), by which a
 * client tells a closing or read-only holder from a failed operation.
 */
export class RemoteOperationError extends CairnError {
  static override readonly code = 'HOLDER_OPERATION_FAILED'
  override readonly name = 'RemoteOperationError'
  constructor (readonly remote: { name: string, code?: string, message: string }) {
    super(remote.message, { params: { remoteName: remote.name, ...(remote.code !== undefined ? { remoteCode: remote.code } : {}) } })
  }
}
