// Errors of the control socket (the base and the rules: crypto/errors.ts).
import { CairnError, type CairnErrorOptions } from '../../crypto/index.ts'

/** No mesh daemon answers on the mesh folder's control socket. */
export class DaemonNotRunningError extends CairnError {
  static override readonly code = 'MESH_DAEMON_NOT_RUNNING'
  override readonly name = 'DaemonNotRunningError'
  constructor (dir: string, options?: CairnErrorOptions) {
    super(`no mesh daemon runs for ${dir}; start it with cairn mesh run`, { ...options, params: { dir } })
  }
}

/**
 * The mesh daemon answered a control request with an error: `remote` is that error as the
 * daemon sent it (its name, code and message), for the caller to branch on by code.
 */
export class ControlRequestError extends CairnError {
  static override readonly code = 'CONTROL_REQUEST_FAILED'
  override readonly name = 'ControlRequestError'
  constructor (readonly remote: { name: string, code?: string, message: string }) {
    super(remote.message, { params: { remoteName: remote.name, ...(remote.code !== undefined ? { remoteCode: remote.code } : {}) } })
  }
}

export class UnknownControlRequestError extends CairnError {
  static override readonly code = 'CONTROL_REQUEST_UNKNOWN'
  override readonly name = 'UnknownControlRequestError'
  constructor (op: string) { super(`the daemon does not know the control request "${op}"; are the daemon and this command the same version?`, { params: { op } }) }
}
