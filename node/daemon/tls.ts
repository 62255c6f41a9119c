import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { X509Certificate } from 'node:crypto'
import { CertificateError } from './errors.ts'

const run = promisify(execFile)

export interface TlsFiles { key: string, cert: string, fingerprint: string }

/**
 * The node's HTTPS certificate: `<data>/tls/{key,cert}.pem`, self-signed (P-256, 825 days) and
 * made at first start with the openssl CLI (node:crypto cannot issue X.509). Replace the two
 * files with a CA-issued pair to get rid of the browser warning.
 */
export async function ensureCertificate (dataDir: string, names: string[] = []): Promise<TlsFiles> {
  const dir = join(dataDir, 'tls')
  const keyFile = join(dir, 'key.pem')
  const certFile = join(dir, 'cert.pem')
  if (!existsSync(keyFile) || !existsSync(certFile)) {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const host = hostname()
    const san = ['DNS:localhost', `DNS:${host}`, 'IP:127.0.0.1', 'IP:::1', ...names.map(n => /^[\d.:]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)]
    try {
      await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '825',
        '-subj', `/CN=${host}/O=Cairn node`, '-addext', `subjectAltName=${[...new Set(san)].join(',')}`,
        '-keyout', keyFile, '-out', certFile], { timeout: 30_000 })
    } catch (err) {
      throw new CertificateError((err as Error).message, { cause: err })
    }
  }
  const cert = await readFile(certFile, 'utf8')
  return { key: await readFile(keyFile, 'utf8'), cert, fingerprint: new X509Certificate(cert).fingerprint256 }
}
