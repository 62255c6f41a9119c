// Errors of the daemon's state (the base and the rules: crypto/errors.ts).
import { CairnError } from '../../crypto/index.ts'

export class RecordNotFoundError extends CairnError {
  static override readonly code = 'RECORD_NOT_FOUND'
  override readonly name = 'RecordNotFoundError'
  constructor (collection: string, id: string) {
    super(`No ${collection} with id ${id}; list ${collection} to find the right id`, { params: { collection, id } })
  }
}

export class RecordVersionError extends CairnError {
  static override readonly code = 'RECORD_VERSION_UNSUPPORTED'
  override readonly name = 'RecordVersionError'
  constructor (collection: string, version: unknown) {
    super(`A ${collection} record has version ${String(version)}, which this node cannot read; upgrade Cairn`, { params: { collection, version: String(version) } })
  }
}

export class StateClosedError extends CairnError {
  static override readonly code = 'STATE_CLOSED'
  override readonly name = 'StateClosedError'
  constructor () { super('The node is shutting down; retry against the restarted node') }
}
