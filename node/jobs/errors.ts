import { CairnError } from '../../crypto/index.ts'

export class TaskRunningError extends CairnError {
  static override readonly code = 'TASK_RUNNING'
  override readonly name = 'TaskRunningError'
  constructor (task: string, what: string) { super(`Task ${task} is running; stop it (POST /api/jobs/:id/stop) or wait before you ${what}`, { params: { task, what } }) }
}

export class ConfirmationRequiredError extends CairnError {
  static override readonly code = 'CONFIRMATION_REQUIRED'
  override readonly name = 'ConfirmationRequiredError'
  constructor () { super('Type YES (capitals) in "confirm" to delete') }
}

export class ScheduleInvalidError extends CairnError {
  static override readonly code = 'TASK_SCHEDULE_INVALID'
  override readonly name = 'ScheduleInvalidError'
}

export class TaskInvalidError extends CairnError {
  static override readonly code = 'TASK_INVALID'
  override readonly name = 'TaskInvalidError'
}

/** A job the node was running when it stopped (a crash, a kill, a power loss): recorded failed at the next start. */
export class JobInterruptedError extends CairnError {
  static override readonly code = 'JOB_INTERRUPTED'
  override readonly name = 'JobInterruptedError'
  constructor () { super('Interrupted: the node stopped while the job ran; clean leftover data (clean mode "leftover") to reclaim its space') }
}

export class JobNotRunningError extends CairnError {
  static override readonly code = 'JOB_NOT_RUNNING'
  override readonly name = 'JobNotRunningError'
  constructor (id: string) { super(`Job ${id} is not running`, { params: { id } }) }
}

export class NodeUnreachableError extends CairnError {
  static override readonly code = 'NODE_UNREACHABLE'
  override readonly name = 'NodeUnreachableError'
  constructor (node: string) { super(`Node ${node} is not this daemon's node: a site's jobs run on its own node, so start them from that node's console (its backups reach this site by replication)`, { params: { node } }) }
}

export class QuotaExceededError extends CairnError {
  static override readonly code = 'QUOTA_EXCEEDED'
  override readonly name = 'QuotaExceededError'
  constructor (space: string) { super(`User space ${space} is full; raise its capacity or clean old copies`, { params: { space } }) }
}

export class RepositoryUnavailableError extends CairnError {
  static override readonly code = 'REPOSITORY_UNAVAILABLE'
  override readonly name = 'RepositoryUnavailableError'
  constructor (why: string) { super(`The store cannot be opened: ${why}`, { params: { why } }) }
}

export class MeshNotRunningError extends CairnError {
  static override readonly code = 'MESH_NOT_RUNNING'
  override readonly name = 'MeshNotRunningError'
  constructor () { super('This node runs no mesh; create or join one (cairn mesh init|join --mesh-dir <data>/mesh) and restart cairn serve') }
}

export class EscrowUnsupportedError extends CairnError {
  static override readonly code = 'ESCROW_UNSUPPORTED'
  override readonly name = 'EscrowUnsupportedError'
  constructor (space: string, why: string) { super(`User space ${space} cannot be escrowed: ${why}`, { params: { space, why } }) }
}

/** Escrowed key material (config.json, keys.json) that cannot be adopted as it is. */
export class EscrowInvalidError extends CairnError {
  static override readonly code = 'ESCROW_INVALID'
  override readonly name = 'EscrowInvalidError'
  constructor (why: string) { super(`The escrowed keys cannot be adopted: ${why}; nothing was stored`, { params: { why } }) }
}

/**
 * The recovery key does not open the escrowed key file. A 400, not a 401: 401 means "log in
 * again" to the console, and the session is fine.
 */
export class RecoveryKeyRejectedError extends CairnError {
  static override readonly code = 'RECOVERY_KEY_REJECTED'
  override readonly name = 'RecoveryKeyRejectedError'
  constructor (why: string) { super(`The recovery key does not open these escrowed keys (${why}); check it against the printed sheet. Nothing was stored`, { params: { why } }) }
}

export class EscrowAdoptedError extends CairnError {
  static override readonly code = 'ESCROW_ADOPTED'
  override readonly name = 'EscrowAdoptedError'
  constructor (store: string, space: string) { super(`The escrowed store ${store} is adopted already, as user space ${space}; restore from that space`, { params: { store, space } }) }
}

export class ArchiveDeviceInUseError extends CairnError {
  static override readonly code = 'ARCHIVE_DEVICE_IN_USE'
  override readonly name = 'ArchiveDeviceInUseError'
  constructor (device: string, tasks: string[]) { super(`Archive device ${device} is used by archive task(s) ${tasks.join(', ')}; change or delete them first`, { params: { device, tasks: tasks.join(', ') } }) }
}
