import { X509Certificate, createPublicKey, createHash, verify, type KeyObject } from 'node:crypto'

/**
 * Checks a USB-key signature over a login challenge (F27). The default verifier accepts an
 * operator certificate or public key in PEM and an ECDSA (P-256, DER) or RSA PKCS#1 v1.5
 * signature over SHA-256 of the challenge bytes — what a PKCS#11 token's CKM_ECDSA_SHA256 /
 * CKM_SHA256_RSA_PKCS produce.
 */
export type TokenVerifier = (input: { certificate: string, challenge: Buffer, signature: Buffer }) => boolean

export function publicKeyOf (certificate: string): KeyObject {
  if (certificate.includes('BEGIN CERTIFICATE')) return new X509Certificate(certificate).publicKey
  return createPublicKey(certificate)
}

export function certificateFingerprint (certificate: string): string {
  const der = publicKeyOf(certificate).export({ type: 'spki', format: 'der' })
  return createHash('sha256').update(der).digest('hex')
}

export const defaultTokenVerifier: TokenVerifier = ({ certificate, challenge, signature }) => {
  try {
    const key = publicKeyOf(certificate)
    if (key.asymmetricKeyType === 'ec') {
      // Tokens give ECDSA signatures as raw r||s; accept DER too.
      const dsaEncoding = signature.length === 64 || signature.length === 96 ? 'ieee-p1363' : 'der'
      return verify('sha256', challenge, { key, dsaEncoding }, signature)
    }
    if (key.asymmetricKeyType === 'ed25519') return verify(null, challenge, key, signature)
    return verify('sha256', challenge, key, signature)
  } catch {
    return false
  }
}

/** The bytes the token signs: domain-separated so a login signature is useless anywhere else. */
export function challengeBytes (loginId: string, nonce: string, host: string): Buffer {
  return Buffer.from(`cairn-login-v1\n${host}\n${loginId}\n${nonce}`, 'utf8')
}
