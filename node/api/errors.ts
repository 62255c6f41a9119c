import { CairnError, type ErrorKind } from '../state/index.ts'

export class RequestInvalidError extends CairnError {
  override readonly name = 'RequestInvalidError'
  override readonly kind = 'invalid'
}

export class RouteNotFoundError extends CairnError {
  override readonly name = 'RouteNotFoundError'
  override readonly kind = 'not-found'
  constructor (method: string, url: string) { super(`No route ${method} ${url}; GET /api/openapi.json lists every route`) }
}

export class SelfRemovalError extends CairnError {
  override readonly name = 'SelfRemovalError'
  override readonly kind = 'conflict'
  constructor () { super('You cannot remove your own account; another administrator can') }
}

export class MetricsTokenError extends CairnError {
  override readonly name = 'MetricsTokenError'
  override readonly kind = 'unauthenticated'
  constructor () { super('GET /metrics needs the metrics token of this node: send "Authorization: Bearer <token>" (an admin makes one with POST /api/settings/metrics/token)') }
}

export class SmtpPasswordRequiredError extends CairnError {
  override readonly name = 'SmtpPasswordRequiredError'
  override readonly kind = 'invalid'
  constructor () { super('The mail server\'s host, port or user changed: enter its password again (the stored one is only sent where it was set for). Nothing was changed') }
}

export const STATUS_OF_KIND: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  locked: 423,
  throttled: 429,
  unavailable: 503,
  internal: 500
}

/**
 * Errors of the layers below (chunkstore, crypto) that reach a route, by their stable `name`:
 * they are the caller's to fix, so they are not a 500.
 */
export const STATUS_OF_LOWER_ERROR: Record<string, number> = {
  SnapshotNotFoundError: 404,
  RestoreTargetRefusedError: 400,
  PathNotFoundError: 404,
  StoreNotFoundError: 404,
  InvalidOptionError: 400,
  LastSnapshotError: 409,
  SharedReplicaError: 409,
  StoreInUseError: 409,
  StoreExistsError: 409,
  OperationAbortedError: 409,
  CertificateRejectedError: 400,
  // The mesh (bootstrap/)
  NotAMemberError: 404,
  MeshKeyMissingError: 409,
  InvalidScheduleError: 400
}
