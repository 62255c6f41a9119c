import { CairnError } from '../state/index.ts'

export class TaskRunningError extends CairnError {
  override readonly name = 'TaskRunningError'
  override readonly kind = 'conflict'
  constructor (task: string, what: string) { super(`Task ${task} is running; stop it (POST /api/jobs/:id/stop) or wait before you ${what}`) }
}

export class ConfirmationRequiredError extends CairnError {
  override readonly name = 'ConfirmationRequiredError'
  override readonly kind = 'invalid'
  constructor () { super('Type YES (capitals) in "confirm" to delete') }
}

export class ScheduleInvalidError extends CairnError {
  override readonly name = 'ScheduleInvalidError'
  override readonly kind = 'invalid'
}

export class TaskInvalidError extends CairnError {
  override readonly name = 'TaskInvalidError'
  override readonly kind = 'invalid'
}

export class JobNotRunningError extends CairnError {
  override readonly name = 'JobNotRunningError'
  override readonly kind = 'conflict'
  constructor (id: string) { super(`Job ${id} is not running`) }
}

export class NodeUnreachableError extends CairnError {
  override readonly name = 'NodeUnreachableError'
  override readonly kind = 'conflict'
  constructor (node: string) { super(`Node ${node} is not this daemon's node: a site's jobs run on its own node, so start them from that node's console (its backups reach this site by replication)`) }
}

export class QuotaExceededError extends CairnError {
  override readonly name = 'QuotaExceededError'
  override readonly kind = 'conflict'
  constructor (space: string) { super(`User space ${space} is full; raise its capacity or clean old copies`) }
}

export class RepositoryUnavailableError extends CairnError {
  override readonly name = 'RepositoryUnavailableError'
  override readonly kind = 'unavailable'
  constructor (why: string) { super(`The store cannot be opened: ${why}`) }
}

export class MeshNotRunningError extends CairnError {
  override readonly name = 'MeshNotRunningError'
  override readonly kind = 'conflict'
  constructor () { super('This node runs no mesh; create or join one (cairn mesh init|join --mesh-dir <data>/mesh) and restart cairn serve') }
}

export class EscrowUnsupportedError extends CairnError {
  override readonly name = 'EscrowUnsupportedError'
  override readonly kind = 'conflict'
  constructor (space: string, why: string) { super(`User space ${space} cannot be escrowed: ${why}`) }
}

/** Escrowed key material (config.json, keys.json) that cannot be adopted as it is. */
export class EscrowInvalidError extends CairnError {
  override readonly name = 'EscrowInvalidError'
  override readonly kind = 'invalid'
  constructor (why: string) { super(`The escrowed keys cannot be adopted: ${why}; nothing was stored`) }
}

/**
 * The recovery key does not open the escrowed key file. A 400, not a 401: 401 means "log in
 * again" to the console, and the session is fine.
 */
export class RecoveryKeyRejectedError extends CairnError {
  override readonly name = 'RecoveryKeyRejectedError'
  override readonly kind = 'invalid'
  constructor (why: string) { super(`The recovery key does not open these escrowed keys (${why}); check it against the printed sheet. Nothing was stored`) }
}

export class EscrowAdoptedError extends CairnError {
  override readonly name = 'EscrowAdoptedError'
  override readonly kind = 'conflict'
  constructor (store: string, space: string) { super(`The escrowed store ${store} is adopted already, as user space ${space}; restore from that space`) }
}
