// Errors of the holder protocol. Each says what to do; the names are stable (the wire carries them).

/** The holder's proof did not match: whatever listens on the socket does not hold this store's keys. */
export class HolderNotGenuineError extends Error {
  override name = 'HolderNotGenuineError'
  constructor (socket: string) {
    super(`The process at ${socket} could not prove it holds this store's keys; nothing was sent to it. Stop whatever listens there, or remove the socket if no Cairn process holds the store.`)
  }
}

/** The client's proof matched none of the holder's keys. */
export class HolderAccessDeniedError extends Error {
  override name = 'HolderAccessDeniedError'
  constructor (detail = 'the keys you opened are not this store\'s') {
    super(`The process that holds the store refused: ${detail}. Nothing was changed; check the passphrase, key file or token.`)
  }
}

/** An operation that needs the full key, asked with a write-only one. */
export class HolderNeedsFullKeyError extends Error {
  override name = 'HolderNeedsFullKeyError'
  constructor (op: string) {
    super(`"${op}" needs the store's full key; you opened it with a write-only key, which can only back up. Nothing was changed.`)
  }
}

/** The holder has the store open without its keys (a mesh node started without them). */
export class HolderWithoutKeysError extends Error {
  override name = 'HolderWithoutKeysError'
  constructor (dir: string, holder: { pid: number, kind: string }) {
    super(`${dir} is held by "${holder.kind === 'mesh' ? 'cairn mesh run' : holder.kind}" (pid ${holder.pid}), which was started without the store's keys, so it cannot run commands for others. Restart it with --passphrase-file (or --recovery-key-file, --token-label), or stop it for the time of the command.`)
  }
}

/** The holder opened the store read-only (a read-only command) and was asked to change it; the client waits for it. */
export class HolderReadOnlyError extends Error {
  override name = 'HolderReadOnlyError'
  constructor (op: string) {
    super(`"${op}" changes the store, and the process that holds it opened it read-only; run it again once that process ends.`)
  }
}

/** The holder is closing the store; the client opens it itself, or finds the next holder. */
export class HolderClosingError extends Error {
  override name = 'HolderClosingError'
  constructor () { super('The process that holds the store is closing it; try again.') }
}

/** The holder broke the protocol (a bad line, a closed socket before an answer). */
export class HolderProtocolError extends Error {
  override name = 'HolderProtocolError'
  constructor (message: string, options?: ErrorOptions) { super(message, options) }
}

/** A request the holder does not know, or whose arguments do not fit. */
export class HolderRequestError extends Error {
  override name = 'HolderRequestError'
  constructor (message: string) { super(message) }
}

/** The socket's folder (used when the store's path is too long for a socket in it) is not safely ours. */
export class HolderSocketFolderError extends Error {
  override name = 'HolderSocketFolderError'
  constructor (dir: string, why: string) {
    super(`The holder socket folder ${dir} ${why}; remove it (another user may have made it) and try again.`)
  }
}

/** An error the holder answered with: it keeps the holder's name and message, so the CLI prints what a local run would. */
export class RemoteOperationError extends Error {
  constructor (name: string, message: string) {
    super(message)
    this.name = name
  }
}
