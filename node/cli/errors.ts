// Errors of the command line's own services: the local signing helper's HTTP answers (the base
// and the rules: crypto/errors.ts; their HTTP statuses: node/api/error-status.ts). Bad flags
// are chunkstore's InvalidOptionError.
import { CairnError } from '../../crypto/index.ts'

/** A request to the signing helper under a Host name other than the loopback address it listens on (DNS rebinding). */
export class HostNotAllowedError extends CairnError {
  static override readonly code = 'HOST_NOT_ALLOWED'
  override readonly name = 'HostNotAllowedError'
  constructor () { super('Call the signing helper at 127.0.0.1 or localhost.') }
}

/** A request to the signing helper from a page other than the console it was started for. */
export class OriginNotAllowedError extends CairnError {
  static override readonly code = 'ORIGIN_NOT_ALLOWED'
  override readonly name = 'OriginNotAllowedError'
  constructor () { super('The signing helper only answers the Cairn console it was started for.') }
}

/** A signing-helper request that is not what its endpoint takes. */
export class BadRequestError extends CairnError {
  static override readonly code = 'BAD_REQUEST'
  override readonly name = 'BadRequestError'
}

export class PayloadTooLargeError extends CairnError {
  static override readonly code = 'PAYLOAD_TOO_LARGE'
  override readonly name = 'PayloadTooLargeError'
  constructor () { super('The request body is too large.') }
}

export class UnsupportedMediaTypeError extends CairnError {
  static override readonly code = 'UNSUPPORTED_MEDIA_TYPE'
  override readonly name = 'UnsupportedMediaTypeError'
  constructor () { super('Send the request as application/json.') }
}

/** A signing-helper path it does not serve. */
export class NotFoundError extends CairnError {
  static override readonly code = 'ENDPOINT_NOT_FOUND'
  override readonly name = 'NotFoundError'
  constructor () { super('Unknown endpoint; the helper serves GET /v1/tokens and POST /v1/sign.') }
}

/** `cairn mesh release`: no replica applied the administrator's release (doc/mesh.md "Releases"). */
export class AdminReleaseNotAppliedError extends CairnError {
  static override readonly code = 'ADMIN_RELEASE_NOT_APPLIED'
  override readonly name = 'AdminReleaseNotAppliedError'
  constructor (readonly root: string, outcomes: string[]) {
    const why = outcomes.includes('untrusted') ? 'a replica that keeps it does not trust this certificate for releases'
      : outcomes.includes('invalid') ? 'the signature or the certificate did not check at a replica'
        : outcomes.every(o => o === 'not-locked') ? 'no site reached keeps this snapshot under a lock'
          : 'no replica that keeps it was reached'
    super(`The release of snapshot ${root} was applied nowhere: ${why}. Nothing was changed.`, { params: { root, outcomes: outcomes.join(',') } })
  }
}
