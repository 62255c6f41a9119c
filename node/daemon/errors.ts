import { CairnError } from '../state/index.ts'

export class InsecureListenError extends CairnError {
  override readonly name = 'InsecureListenError'
  override readonly kind = 'invalid'
  constructor (host: string) { super(`Plain HTTP is only allowed on 127.0.0.1 or ::1, not ${host}; drop --insecure-http to serve HTTPS`) }
}

export class CertificateError extends CairnError {
  override readonly name = 'CertificateError'
  constructor (why: string, options?: ErrorOptions) { super(`Cannot create the node's TLS certificate: ${why}`, options) }
}

export class AuditKeyError extends CairnError {
  override readonly name = 'AuditKeyError'
  constructor (file: string) { super(`The audit key in ${file} is shorter than 32 bytes; restore the node's audit key file (without it the audit trail cannot be verified)`) }
}
