// Errors of the mesh a node runs: its replication settings and what its control requests
// refuse (the base and the rules: crypto/errors.ts).
import { CairnError } from '../../crypto/index.ts'

/** Replication settings (`replication.json`, PUT /api/mesh/policies) that cannot be applied; nothing was saved. */
export class InvalidReplicationConfigError extends CairnError {
  static override readonly code = 'REPLICATION_CONFIG_INVALID'
  override readonly name = 'InvalidReplicationConfigError'
}

/** `cairn mesh stop` sent to a mesh node that runs inside `cairn serve`. */
export class HostedStopRefusedError extends CairnError {
  static override readonly code = 'HOSTED_STOP_REFUSED'
  override readonly name = 'HostedStopRefusedError'
  constructor () { super('this mesh node runs inside cairn serve; stop the node daemon itself (SIGTERM, Ctrl-C or its service manager)') }
}
