// A SoftHSM2 token directory in a temp folder, filled with the standard tools only
// (softhsm2-util, pkcs11-tool, openssl with the pkcs11 engine) — never with Cairn's own token
// code, so tests of that code check it against an independent writer. Tests of other layers
// reach this through crypto/testing/index.ts (`createSoftHsm`); the console's browser tests can run it
// as a script: `node --import tsx crypto/testing/softhsm.ts` makes an operator token in a new
// temp folder (left for the caller to delete) and prints where it is as JSON.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const SOFTHSM2_MODULE = '/usr/lib/softhsm/libsofthsm2.so'

export type SoftHsmKeyType = 'ec-p256' | 'rsa-2048'

export interface SoftHsmKeyPair {
  tokenLabel: string
  label: string
  /** CKA_ID as hex. */
  id: string
  type: SoftHsmKeyType
  /** Self-signed certificate made by openssl through the pkcs11 engine (the private key stays on the token). */
  certificatePem?: string
}

export interface SoftHsm {
  /** Temp folder holding softhsm2.conf, the token directory and openssl's engine config. */
  readonly dir: string
  readonly modulePath: string
  /** Environment to give child processes (SOFTHSM2_CONF); also set on this process while open. */
  readonly env: Record<string, string>
  initToken: (init: { label: string, pin: string, soPin?: string }) => void
  generateKeyPair: (init: { tokenLabel: string, pin: string, label: string, id: string, type: SoftHsmKeyType }) => SoftHsmKeyPair
  /** Makes a self-signed X.509 certificate for a token key and stores it on the token (same label and id). */
  addCertificate: (key: SoftHsmKeyPair, init: { pin: string, subject?: string, days?: number, keyUsage?: string }) => string
  /** Removes the temp folder and restores SOFTHSM2_CONF. */
  dispose: () => void
}

/** The token most tests want: label, PIN, an EC P-256 pair (id 01) and an RSA-2048 pair (id 02), each with a certificate. */
export interface OperatorToken {
  tokenLabel: string
  pin: string
  soPin: string
  ec: SoftHsmKeyPair & { certificatePem: string }
  rsa: SoftHsmKeyPair & { certificatePem: string }
}

export function createSoftHsm (): SoftHsm {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-softhsm-'))
  mkdirSync(join(dir, 'tokens'))
  const confPath = join(dir, 'softhsm2.conf')
  writeFileSync(confPath, `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`)
  const enginesDir = /ENGINESDIR: "([^"]+)"/.exec(run('openssl', ['version', '-e'], {}))?.[1] ?? '/usr/lib/x86_64-linux-gnu/engines-3'
  const opensslConf = join(dir, 'openssl.cnf')
  writeFileSync(opensslConf, [
    'openssl_conf = openssl_init',
    '[openssl_init]', 'engines = engine_section',
    '[engine_section]', 'pkcs11 = pkcs11_section',
    '[pkcs11_section]', 'engine_id = pkcs11', `dynamic_path = ${enginesDir}/pkcs11.so`, `MODULE_PATH = ${SOFTHSM2_MODULE}`, 'init = 0',
    '[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', 'CN = unused', ''
  ].join('\n'))
  const env = { SOFTHSM2_CONF: confPath }
  const previous = process.env.SOFTHSM2_CONF
  process.env.SOFTHSM2_CONF = confPath
  const childEnv = { ...env, OPENSSL_CONF: opensslConf }

  return {
    dir,
    modulePath: SOFTHSM2_MODULE,
    env,
    initToken ({ label, pin, soPin = '12345678' }) {
      run('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', soPin, '--pin', pin], childEnv)
    },
    generateKeyPair ({ tokenLabel, pin, label, id, type }) {
      const keyType = type === 'ec-p256' ? 'EC:prime256v1' : 'rsa:2048'
      const usage = type === 'ec-p256' ? ['--usage-sign', '--usage-derive'] : ['--usage-sign', '--usage-decrypt']
      run('pkcs11-tool', ['--module', SOFTHSM2_MODULE, '--token-label', tokenLabel, '--login', '--pin', pin,
        '--keypairgen', '--key-type', keyType, '--label', label, '--id', id, ...usage], childEnv)
      return { tokenLabel, label, id, type }
    },
    addCertificate (key, { pin, subject = `/CN=${key.label}`, days = 30, keyUsage = 'critical,digitalSignature' }) {
      const pem = join(dir, `${key.tokenLabel}-${key.id}.pem`)
      const der = join(dir, `${key.tokenLabel}-${key.id}.der`)
      const uri = `pkcs11:token=${encodeURIComponent(key.tokenLabel)};id=%${key.id.match(/../g)?.join('%')};type=private;pin-value=${encodeURIComponent(pin)}`
      run('openssl', ['req', '-new', '-x509', '-sha256', '-days', String(days), '-subj', subject,
        '-addext', `keyUsage=${keyUsage}`, '-addext', 'extendedKeyUsage=clientAuth',
        '-engine', 'pkcs11', '-keyform', 'engine', '-key', uri, '-out', pem], childEnv)
      run('openssl', ['x509', '-in', pem, '-outform', 'DER', '-out', der], childEnv)
      run('pkcs11-tool', ['--module', SOFTHSM2_MODULE, '--token-label', key.tokenLabel, '--login', '--pin', pin,
        '--write-object', der, '--type', 'cert', '--label', key.label, '--id', key.id], childEnv)
      key.certificatePem = readFileSync(pem, 'utf8')
      return key.certificatePem
    },
    dispose () {
      if (previous === undefined) delete process.env.SOFTHSM2_CONF
      else process.env.SOFTHSM2_CONF = previous
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** Initialises a token with an EC P-256 and an RSA-2048 key pair, each with a certificate. */
export function createOperatorToken (hsm: SoftHsm, { tokenLabel = 'cairn-operator', pin = '1234', soPin = '12345678' } = {}): OperatorToken {
  hsm.initToken({ label: tokenLabel, pin, soPin })
  const ec = hsm.generateKeyPair({ tokenLabel, pin, label: 'operator-ec', id: '01', type: 'ec-p256' })
  const rsa = hsm.generateKeyPair({ tokenLabel, pin, label: 'operator-rsa', id: '02', type: 'rsa-2048' })
  hsm.addCertificate(ec, { pin, subject: '/CN=operator-ec/O=Cairn test' })
  hsm.addCertificate(rsa, { pin, subject: '/CN=operator-rsa/O=Cairn test' })
  return { tokenLabel, pin, soPin, ec: ec as OperatorToken['ec'], rsa: rsa as OperatorToken['rsa'] }
}

function run (cmd: string, args: string[], env: Record<string, string>): string {
  try {
    return execFileSync(cmd, args, { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? ''
    throw new Error(`${cmd} ${args[0]} failed (is the softhsm2, opensc and libengine-pkcs11-openssl package installed?): ${stderr.trim()}`, { cause: err })
  }
}

// Script mode: make an operator token in a fresh temp folder and print where it is.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const hsm = createSoftHsm()
  const token = createOperatorToken(hsm)
  process.stdout.write(JSON.stringify({ dir: hsm.dir, modulePath: hsm.modulePath, env: hsm.env, ...token }, null, 2) + '\n')
}
