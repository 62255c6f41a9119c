// F27 enrolment: operator certificates from a real SoftHSM2 token are accepted; certificates
// made by openssl with software keys cover what must be refused.
import test, { after, before } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { X509Certificate } from 'node:crypto'
import { checkOperatorCertificate } from './operator-certificate.ts'
import { CertificateRejectedError } from './errors.ts'
import { createOperatorToken, createSoftHsm, type OperatorToken, type SoftHsm } from './testing/index.ts'

let hsm: SoftHsm
let op: OperatorToken
let dir: string

before(() => {
  hsm = createSoftHsm()
  op = createOperatorToken(hsm)
  dir = mkdtempSync(join(tmpdir(), 'cairn-cert-'))
})
after(() => {
  hsm.dispose()
  rmSync(dir, { recursive: true, force: true })
})

/** A self-signed certificate for a fresh software key, made by openssl. */
function softwareCertificate (name: string, newkey: string[], extensions: string[]): string {
  const out = join(dir, `${name}.pem`)
  execFileSync('openssl', ['req', '-x509', '-nodes', '-days', '10', '-subj', `/CN=${name}`, ...newkey,
    '-keyout', join(dir, `${name}.key`), '-out', out, ...extensions.flatMap(e => ['-addext', e])], { stdio: 'pipe' })
  return readFileSync(out, 'utf8')
}

const rejects = (reason: string) => (err: unknown): boolean =>
  err instanceof CertificateRejectedError && err.reason === reason && err.name === 'CertificateRejectedError'

test('the token\'s EC P-256 and RSA-2048 certificates are accepted and kept as PEM', () => {
  const ec = checkOperatorCertificate(op.ec.certificatePem)
  assert.equal(ec.keyType, 'ec-p256')
  assert.equal(ec.keyBits, 256)
  assert.match(ec.subject, /CN=operator-ec/)
  assert.equal(ec.fingerprint256, new X509Certificate(op.ec.certificatePem).fingerprint256)
  assert.equal(ec.pem, new X509Certificate(op.ec.certificatePem).toString())
  const rsa = checkOperatorCertificate(new X509Certificate(op.rsa.certificatePem).raw)
  assert.equal(rsa.keyType, 'rsa')
  assert.equal(rsa.keyBits, 2048)
  assert.ok(rsa.notBefore < rsa.notAfter)
})

test('a certificate outside its validity dates is refused', () => {
  const cert = checkOperatorCertificate(op.ec.certificatePem)
  assert.throws(() => checkOperatorCertificate(op.ec.certificatePem, { now: new Date(cert.notAfter.getTime() + 1000) }), rejects('expired'))
  assert.throws(() => checkOperatorCertificate(op.ec.certificatePem, { now: new Date(cert.notBefore.getTime() - 1000) }), rejects('not-yet-valid'))
})

test('key usage must include digitalSignature, and extended key usage must allow clientAuth', () => {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']
  assert.equal(checkOperatorCertificate(softwareCertificate('good', ec, ['keyUsage=digitalSignature'])).keyType, 'ec-p256')
  assert.throws(() => checkOperatorCertificate(softwareCertificate('enc-only', ec, ['keyUsage=keyAgreement'])), rejects('key-usage'))
  assert.throws(() => checkOperatorCertificate(softwareCertificate('no-ku', ec, [])), rejects('key-usage'))
  assert.throws(() => checkOperatorCertificate(softwareCertificate('server', ec, ['keyUsage=digitalSignature', 'extendedKeyUsage=serverAuth'])), rejects('key-usage'))
})

test('keys other than EC P-256 and RSA of at least 2048 bits are refused', () => {
  const ku = ['keyUsage=digitalSignature']
  assert.throws(() => checkOperatorCertificate(softwareCertificate('p384', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'], ku)), rejects('key-type'))
  assert.throws(() => checkOperatorCertificate(softwareCertificate('rsa1024', ['-newkey', 'rsa:1024'], ku)), rejects('key-type'))
  assert.throws(() => checkOperatorCertificate(softwareCertificate('ed25519', ['-newkey', 'ed25519'], ku)), rejects('key-type'))
  assert.equal(checkOperatorCertificate(softwareCertificate('rsa3072', ['-newkey', 'rsa:3072'], ku)).keyBits, 3072)
})

test('something that is not a certificate is refused as unparsable', () => {
  assert.throws(() => checkOperatorCertificate('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), rejects('unparsable'))
  assert.throws(() => checkOperatorCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])), rejects('unparsable'))
})
