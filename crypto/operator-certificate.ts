import { X509Certificate } from 'node:crypto'
import { CertificateRejectedError, UnsupportedKeyError } from './errors.ts'
import { classify, type TokenKeyType } from './pkcs11-token.ts'

/** An operator's enrolled certificate (F27), checked by `checkOperatorCertificate`. */
export interface OperatorCertificate {
  /** The certificate as enrolled; the login check verifies signatures against its key. */
  pem: string
  subject: string
  issuer: string
  serialNumber: string
  /** SHA-256 fingerprint, colon-separated hex as openssl prints it. */
  fingerprint256: string
  notBefore: Date
  notAfter: Date
  keyType: TokenKeyType
  keyBits: number
}

export interface CertificateCheckOptions {
  /** The moment the certificate must be valid at; defaults to now. */
  now?: Date
}

const KEY_USAGE_OID = Buffer.from('551d0f', 'hex') // 2.5.29.15
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
const ANY_EKU = '2.5.29.37.0'

/**
 * Accepts a certificate for operator login when it parses, is valid at `now`, has a key-usage
 * extension that includes digitalSignature (RFC 5280 would allow an absent extension; an
 * operator's login key must say what it is for), an extended key usage (if any) that allows
 * clientAuth, and an EC P-256 or RSA ≥ 2048-bit key. Accepts PEM or DER.
 */
export function checkOperatorCertificate (certificate: string | Uint8Array, options: CertificateCheckOptions = {}): OperatorCertificate {
  const now = options.now ?? new Date()
  let x509: X509Certificate
  try {
    x509 = new X509Certificate(typeof certificate === 'string' ? certificate : Buffer.from(certificate))
  } catch (err) {
    throw new CertificateRejectedError('unparsable', 'not an X.509 certificate in PEM or DER', { cause: err })
  }
  const notBefore = new Date(x509.validFrom)
  const notAfter = new Date(x509.validTo)
  if (now < notBefore) throw new CertificateRejectedError('not-yet-valid', `valid only from ${notBefore.toISOString()}`)
  if (now > notAfter) throw new CertificateRejectedError('expired', `expired at ${notAfter.toISOString()}`)

  const usage = keyUsageBits(x509.raw)
  if (usage === undefined) throw new CertificateRejectedError('key-usage', 'it has no key-usage extension')
  if ((usage[0] & 0x80) === 0) throw new CertificateRejectedError('key-usage', 'its key usage does not include digitalSignature')
  const eku = x509.keyUsage
  if (eku !== undefined && eku.length > 0 && !eku.includes(CLIENT_AUTH) && !eku.includes(ANY_EKU)) {
    throw new CertificateRejectedError('key-usage', 'its extended key usage does not allow client authentication')
  }

  let key: { type: TokenKeyType, bits: number }
  try {
    key = classify(x509.publicKey)
  } catch (err) {
    if (!(err instanceof UnsupportedKeyError)) throw err
    throw new CertificateRejectedError('key-type', err.message, { cause: err })
  }
  return {
    pem: x509.toString(),
    subject: x509.subject,
    issuer: x509.issuer,
    serialNumber: x509.serialNumber,
    fingerprint256: x509.fingerprint256,
    notBefore,
    notAfter,
    keyType: key.type,
    keyBits: key.bits
  }
}

/**
 * The key-usage BIT STRING's content bytes (bit 0, digitalSignature, is 0x80 of the first
 * byte), or undefined when the extension is absent. Node's X509Certificate exposes only the
 * extended key usage, so this walks the DER: Certificate → TBSCertificate → [3] extensions.
 */
function keyUsageBits (der: Buffer): Buffer | undefined {
  try {
    const cert = tlv(der, 0)
    const tbs = tlv(der, cert.start)
    let at = tbs.start
    while (at < tbs.end) {
      const field = tlv(der, at)
      if (field.tag === 0xa3) {
        const extensions = tlv(der, field.start)
        for (let e = extensions.start; e < extensions.end;) {
          const ext = tlv(der, e)
          const oid = tlv(der, ext.start)
          if (der.subarray(oid.start, oid.end).equals(KEY_USAGE_OID)) {
            let value = tlv(der, oid.end)
            if (value.tag === 0x01) value = tlv(der, value.end) // the optional `critical` BOOLEAN
            const bits = tlv(der, value.start)
            return der.subarray(bits.start + 1, bits.end) // skip the unused-bits count
          }
          e = ext.end
        }
        return undefined
      }
      at = field.end
    }
    return undefined
  } catch (err) {
    throw new CertificateRejectedError('unparsable', 'its extensions are malformed', { cause: err })
  }
}

function tlv (der: Buffer, at: number): { tag: number, start: number, end: number } {
  const tag = der[at]
  let length = der[at + 1]
  let start = at + 2
  if (length >= 0x80) {
    const n = length & 0x7f
    if (n < 1 || n > 3) throw new RangeError('unsupported DER length')
    length = der.readUIntBE(start, n)
    start += n
  }
  if (tag === undefined || start + length > der.length) throw new RangeError('truncated DER')
  return { tag, start, end: start + length }
}
