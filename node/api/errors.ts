// Errors of the HTTP API itself (the base and the rules: crypto/errors.ts; the status of every
// code: error-status.ts).
import { CairnError } from '../../crypto/index.ts'

export class RequestInvalidError extends CairnError {
  static override readonly code = 'REQUEST_INVALID'
  override readonly name = 'RequestInvalidError'
}

export class RouteNotFoundError extends CairnError {
  static override readonly code = 'ROUTE_NOT_FOUND'
  override readonly name = 'RouteNotFoundError'
  constructor (method: string, url: string) { super(`No route ${method} ${url}; GET /api/openapi.json lists every route`, { params: { method, url } }) }
}

export class SelfRemovalError extends CairnError {
  static override readonly code = 'SELF_REMOVAL'
  override readonly name = 'SelfRemovalError'
  constructor () { super('You cannot remove your own account; another administrator can') }
}

export class MetricsTokenError extends CairnError {
  static override readonly code = 'METRICS_TOKEN_REQUIRED'
  override readonly name = 'MetricsTokenError'
  constructor () { super('GET /metrics needs the metrics token of this node: send "Authorization: Bearer <token>" (an admin makes one with POST /api/settings/metrics/token)') }
}

export class SmtpPasswordRequiredError extends CairnError {
  static override readonly code = 'SMTP_PASSWORD_REQUIRED'
  override readonly name = 'SmtpPasswordRequiredError'
  constructor () { super('The mail server\'s host, port or user changed: enter its password again (the stored one is only sent where it was set for). Nothing was changed') }
}

export class RequestTooLargeError extends CairnError {
  static override readonly code = 'REQUEST_TOO_LARGE'
  override readonly name = 'RequestTooLargeError'
}

/** The request's URL (path and query) is longer than the node reads. */
export class RequestTooLongError extends CairnError {
  static override readonly code = 'REQUEST_TOO_LONG'
  override readonly name = 'RequestTooLongError'
}

export class MediaTypeUnsupportedError extends CairnError {
  static override readonly code = 'MEDIA_TYPE_UNSUPPORTED'
  override readonly name = 'MediaTypeUnsupportedError'
}

/** A capacity-planning route on a node started without the planner (it comes with `cairn serve` through the package's bin). */
export class PlannerUnavailableError extends CairnError {
  static override readonly code = 'PLANNER_UNAVAILABLE'
  override readonly name = 'PlannerUnavailableError'
  constructor () { super('This node runs without the capacity planner; start it with `cairn serve` (the package\'s bin wires the planner in), or run `cairn sim` on any machine') }
}

/** One simulation at a time per node: they take a core while they run. */
export class PlannerBusyError extends CairnError {
  static override readonly code = 'PLANNER_BUSY'
  override readonly name = 'PlannerBusyError'
  constructor () { super('Another simulation is running on this node; run yours when it has ended') }
}
