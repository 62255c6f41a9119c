// Errors of the daemon's state. `kind` tells the HTTP API which status to send; `name` is stable.
export type ErrorKind = 'invalid' | 'unauthenticated' | 'forbidden' | 'not-found' | 'conflict' | 'locked' | 'throttled' | 'unavailable' | 'internal'

export class CairnError extends Error {
  readonly kind: ErrorKind = 'internal'
}

export class RecordNotFoundError extends CairnError {
  override readonly name = 'RecordNotFoundError'
  override readonly kind = 'not-found'
  constructor (collection: string, id: string) {
    super(`No ${collection} with id ${id}; list ${collection} to find the right id`)
  }
}

export class RecordVersionError extends CairnError {
  override readonly name = 'RecordVersionError'
  constructor (collection: string, version: unknown) {
    super(`A ${collection} record has version ${String(version)}, which this node cannot read; upgrade Cairn`)
  }
}

export class StateClosedError extends CairnError {
  override readonly name = 'StateClosedError'
  override readonly kind = 'unavailable'
  constructor () { super('The node is shutting down; retry against the restarted node') }
}
