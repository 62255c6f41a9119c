import { CairnError } from '../state/index.ts'

export class LoginFailedError extends CairnError {
  override readonly name = 'LoginFailedError'
  override readonly kind = 'unauthenticated'
  constructor () { super('User name or password is wrong (or the account is disabled)') }
}

export class AccountLockedError extends CairnError {
  override readonly name = 'AccountLockedError'
  override readonly kind = 'locked'
  constructor (readonly until: string) { super(`Too many failed logins; the account is locked until ${until}. Wait, or ask an admin to unlock it`) }
}

export class LoginThrottledError extends CairnError {
  override readonly name = 'LoginThrottledError'
  override readonly kind = 'throttled'
  constructor () { super('Too many failed logins from this address; wait a few minutes before trying again') }
}

export class NotAuthenticatedError extends CairnError {
  override readonly name = 'NotAuthenticatedError'
  override readonly kind = 'unauthenticated'
  constructor (why = 'Log in first') { super(why) }
}

export class SessionExpiredError extends CairnError {
  override readonly name = 'SessionExpiredError'
  override readonly kind = 'unauthenticated'
  constructor () { super('The session has expired; log in again') }
}

export class CsrfTokenError extends CairnError {
  override readonly name = 'CsrfTokenError'
  override readonly kind = 'forbidden'
  constructor () { super('Missing or wrong X-CSRF-Token header; send the csrfToken from the login or GET /api/auth/session answer') }
}

export class ForbiddenError extends CairnError {
  override readonly name = 'ForbiddenError'
  override readonly kind = 'forbidden'
  constructor (what: string) { super(`Your role may not ${what}`) }
}

export class ReauthenticationRequiredError extends CairnError {
  override readonly name = 'ReauthenticationRequiredError'
  override readonly kind = 'forbidden'
  constructor () { super('This change deletes data, hands out keys or changes who may do what: confirm your password with POST /api/auth/reauth first, then retry within 5 minutes') }
}

export class TokenChallengeError extends CairnError {
  override readonly name = 'TokenChallengeError'
  override readonly kind = 'unauthenticated'
  constructor (why: string, options?: ErrorOptions) { super(`USB key check failed: ${why}`, options) }
}

export class WeakPasswordError extends CairnError {
  override readonly name = 'WeakPasswordError'
  override readonly kind = 'invalid'
  constructor (why: string) { super(`Password refused: ${why}`) }
}

export class UserNameTakenError extends CairnError {
  override readonly name = 'UserNameTakenError'
  override readonly kind = 'conflict'
  constructor (name: string) { super(`A user named ${name} exists already; choose another name`) }
}

export class CertificateInvalidError extends CairnError {
  override readonly name = 'CertificateInvalidError'
  override readonly kind = 'invalid'
}

/** More password checks are waiting than the node runs at once; the login is refused, not queued without end. */
export class PasswordCheckBusyError extends CairnError {
  override readonly name = 'PasswordCheckBusyError'
  override readonly kind = 'unavailable'
  constructor () { super('The node is checking many passwords at once; try again in a few seconds') }
}
