import { CairnError } from '../../crypto/index.ts'

export class LoginFailedError extends CairnError {
  static override readonly code = 'LOGIN_FAILED'
  override readonly name = 'LoginFailedError'
  constructor () { super('User name or password is wrong (or the account is disabled)') }
}

export class AccountLockedError extends CairnError {
  static override readonly code = 'ACCOUNT_LOCKED'
  override readonly name = 'AccountLockedError'
  constructor (readonly until: string) { super(`Too many failed logins; the account is locked until ${until}. Wait, or ask an admin to unlock it`, { params: { until } }) }
}

export class LoginThrottledError extends CairnError {
  static override readonly code = 'LOGIN_THROTTLED'
  override readonly name = 'LoginThrottledError'
  constructor () { super('Too many failed logins from this address; wait a few minutes before trying again') }
}

export class NotAuthenticatedError extends CairnError {
  static override readonly code = 'NOT_AUTHENTICATED'
  override readonly name = 'NotAuthenticatedError'
  constructor (why = 'Log in first') { super(why, { params: { why } }) }
}

export class SessionExpiredError extends CairnError {
  static override readonly code = 'SESSION_EXPIRED'
  override readonly name = 'SessionExpiredError'
  constructor () { super('The session has expired; log in again') }
}

export class CsrfTokenError extends CairnError {
  static override readonly code = 'CSRF_TOKEN_INVALID'
  override readonly name = 'CsrfTokenError'
  constructor () { super('Missing or wrong X-CSRF-Token header; send the csrfToken from the login or GET /api/auth/session answer') }
}

export class ForbiddenError extends CairnError {
  static override readonly code = 'FORBIDDEN'
  override readonly name = 'ForbiddenError'
  constructor (what: string) { super(`Your role may not ${what}`, { params: { what } }) }
}

export class ReauthenticationRequiredError extends CairnError {
  static override readonly code = 'REAUTHENTICATION_REQUIRED'
  override readonly name = 'ReauthenticationRequiredError'
  constructor () { super('This change deletes data, hands out keys or changes who may do what: confirm your password with POST /api/auth/reauth first, then retry within 5 minutes') }
}

export class TokenChallengeError extends CairnError {
  static override readonly code = 'TOKEN_CHALLENGE_FAILED'
  override readonly name = 'TokenChallengeError'
  constructor (why: string, options?: ErrorOptions) { super(`USB key check failed: ${why}`, { ...options, params: { why } }) }
}

export class WeakPasswordError extends CairnError {
  static override readonly code = 'PASSWORD_WEAK'
  override readonly name = 'WeakPasswordError'
  constructor (why: string) { super(`Password refused: ${why}`, { params: { why } }) }
}

export class UserNameTakenError extends CairnError {
  static override readonly code = 'USER_NAME_TAKEN'
  override readonly name = 'UserNameTakenError'
  constructor (name: string) { super(`A user named ${name} exists already; choose another name`, { params: { name } }) }
}

export class CertificateInvalidError extends CairnError {
  static override readonly code = 'CERTIFICATE_INVALID'
  override readonly name = 'CertificateInvalidError'
}

/** More password checks are waiting than the node runs at once; the login is refused, not queued without end. */
export class PasswordCheckBusyError extends CairnError {
  static override readonly code = 'PASSWORD_CHECK_BUSY'
  override readonly name = 'PasswordCheckBusyError'
  constructor () { super('The node is checking many passwords at once; try again in a few seconds') }
}
