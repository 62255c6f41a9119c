import { CairnError } from '../../crypto/index.ts'

export class InsecureListenError extends CairnError {
  static override readonly code = 'INSECURE_LISTEN'
  override readonly name = 'InsecureListenError'
  constructor (host: string) { super(`Plain HTTP is only allowed on 127.0.0.1 or ::1, not ${host}; drop --insecure-http to serve HTTPS`, { params: { host } }) }
}

export class CertificateError extends CairnError {
  static override readonly code = 'TLS_CERTIFICATE_FAILED'
  override readonly name = 'CertificateError'
  constructor (why: string, options?: ErrorOptions) { super(`Cannot create the node's TLS certificate: ${why}`, { ...options, params: { why } }) }
}

export class AuditKeyError extends CairnError {
  static override readonly code = 'AUDIT_KEY_INVALID'
  override readonly name = 'AuditKeyError'
  constructor (file: string) { super(`The audit key in ${file} is shorter than 32 bytes; restore the node's audit key file (without it the audit trail cannot be verified)`, { params: { file } }) }
}
