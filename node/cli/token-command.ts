import { readFileSync, writeFileSync } from 'node:fs'
import type { Command } from 'commander'
import {
  checkOperatorCertificate, loginChallengeMessage, openPkcs11Module, resolvePkcs11Module, withTokenSession,
  type LoginChallenge, type LoginResponse, type TokenKeyRef
} from '../../crypto/index.ts'
import { InvalidOptionError } from '../../chunkstore/index.ts'
import { OperationAbortedError } from '../../crypto/index.ts'

/** The port the console's login page calls the signing helper on (console/src/api.ts). */
export const DEFAULT_SIGNING_HELPER_PORT = 47_127

/*
 * `cairn token list|enroll|sign|helper` (F27): the operator's USB key from the command line.
 *   list    tokens and their public objects (no PIN)
 *   enroll  read a key's certificate from the token, check it, print or save the PEM to enrol
 *   sign    answer a login challenge (JSON) for an origin, printing the login response
 *   helper  run the local signing helper for the console's browser page
 * Module: --pkcs11-module, else CAIRN_PKCS11_MODULE, else SoftHSM2's. PIN: CAIRN_TOKEN_PIN,
 * else a prompt on the terminal. Failures are thrown as crypto/'s error classes for main.ts
 * to print.
 */
export interface TokenCommandIo {
  stdout: (text: string) => void
  env: NodeJS.ProcessEnv
  /** Asks for the PIN without echoing it. */
  readPin: (prompt: string) => Promise<string>
  /** Resolves when the helper should stop (default: SIGINT or SIGTERM). */
  untilStopped: () => Promise<void>
}

const defaultIo: TokenCommandIo = {
  stdout: text => { process.stdout.write(text) },
  env: process.env,
  readPin: promptPin,
  untilStopped: async () => await new Promise(resolve => {
    process.once('SIGINT', () => resolve())
    process.once('SIGTERM', () => resolve())
  })
}

interface ModuleOption { pkcs11Module?: string }
interface KeyOptions extends ModuleOption { tokenLabel: string, keyLabel?: string, keyId?: string }

export function registerTokenCommand (program: Command, io: TokenCommandIo = defaultIo): Command {
  const token = program.command('token').description('USB keys (PKCS#11 tokens): list them, enrol a certificate, sign a login challenge, run the browser signing helper')

  token.command('list')
    .description('list tokens and the certificates and public keys on them (no PIN needed)')
    .option('--pkcs11-module <path>', 'PKCS#11 module (default: CAIRN_PKCS11_MODULE, then SoftHSM2)')
    .option('--json', 'print JSON')
    .action((opts: ModuleOption & { json?: boolean }) => {
      const module = openPkcs11Module({ modulePath: resolvePkcs11Module(opts.pkcs11Module, io.env) })
      try {
        const tokens = module.listTokens().map(t => {
          const view = module.openPublic(t.label)
          try {
            return { ...t, objects: view.listObjects() }
          } finally {
            view.close()
          }
        })
        if (opts.json === true) {
          io.stdout(JSON.stringify(tokens, null, 2) + '\n')
          return
        }
        if (tokens.length === 0) io.stdout(`no initialised token found through ${module.modulePath}\n`)
        for (const t of tokens) {
          const state = t.pinLocked ? ' [PIN LOCKED]' : t.pinFinalTry ? ' [one PIN try left]' : t.pinCountLow ? ' [wrong PINs entered]' : ''
          io.stdout(`${t.label}  (${t.manufacturer}, ${t.model}, serial ${t.serialNumber})${state}\n`)
          for (const o of t.objects) io.stdout(`  ${o.kind.padEnd(12)} ${o.label}  id ${o.id}\n`)
        }
      } finally {
        module.close()
      }
    })

  keyOptions(token.command('enroll'))
    .description("check a key's certificate on the token and print (or save) it for enrolling the operator")
    .option('--out <file>', 'write the PEM to this file')
    .action((opts: KeyOptions & { out?: string }) => {
      const module = openPkcs11Module({ modulePath: resolvePkcs11Module(opts.pkcs11Module, io.env) })
      let pem: string
      try {
        const view = module.openPublic(opts.tokenLabel)
        try {
          pem = view.findCertificate(keyRef(opts))
        } finally {
          view.close()
        }
      } finally {
        module.close()
      }
      const cert = checkOperatorCertificate(pem)
      const summary = [
        `subject:     ${cert.subject.replaceAll('\n', ', ')}`,
        `issuer:      ${cert.issuer.replaceAll('\n', ', ')}`,
        `key:         ${cert.keyType} (${cert.keyBits} bits)`,
        `valid:       ${cert.notBefore.toISOString()} .. ${cert.notAfter.toISOString()}`,
        `sha-256:     ${cert.fingerprint256}`
      ].join('\n') + '\n'
      if (opts.out !== undefined) {
        writeFileSync(opts.out, cert.pem)
        io.stdout(summary + `certificate written to ${opts.out}\n`)
      } else {
        io.stdout(summary + cert.pem)
      }
    })

  keyOptions(token.command('sign'))
    .description('sign a login challenge (JSON, or @file) for the console origin and print the login response')
    .requiredOption('--origin <url>', "the console's origin, e.g. https://console.example:8443")
    .requiredOption('--challenge <json>', 'the challenge JSON the server issued, or @path to a file holding it')
    .action(async (opts: KeyOptions & { origin: string, challenge: string }) => {
      const text = opts.challenge.startsWith('@') ? readFileSync(opts.challenge.slice(1), 'utf8') : opts.challenge
      const challenge = JSON.parse(text) as LoginChallenge
      const message = loginChallengeMessage({ ...challenge, origin: opts.origin })
      const pin = await pinFor(opts.tokenLabel)
      const signature = withTokenSession({ modulePath: resolvePkcs11Module(opts.pkcs11Module, io.env), tokenLabel: opts.tokenLabel, pin },
        session => session.sign(keyRef(opts), message))
      const response: LoginResponse = {
        nonce: challenge.nonce,
        user: challenge.user,
        attemptId: challenge.attemptId,
        origin: new URL(opts.origin).origin,
        signature: Buffer.from(signature).toString('base64')
      }
      io.stdout(JSON.stringify(response) + '\n')
    })

  token.command('helper')
    .description("run the local signing helper that the console's login page calls (127.0.0.1 only)")
    .requiredOption('--console-origin <url>', "the only origin the helper answers, e.g. https://console.example:8443")
    .option('--port <port>', 'port on 127.0.0.1', String(DEFAULT_SIGNING_HELPER_PORT))
    .option('--pkcs11-module <path>', 'PKCS#11 module (default: CAIRN_PKCS11_MODULE, then SoftHSM2)')
    .action(async (opts: ModuleOption & { consoleOrigin: string, port: string }) => {
      const port = Number(opts.port)
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidOptionError(`--port must be a port number, not ${opts.port}`)
      // The helper's HTTP server loads only for this command.
      const { createSigningHelper } = await import('./signing-helper.ts')
      const helper = createSigningHelper({
        consoleOrigin: opts.consoleOrigin,
        port,
        modulePath: resolvePkcs11Module(opts.pkcs11Module, io.env),
        log: line => io.stdout(`${new Date().toISOString()} ${line}\n`)
      })
      await helper.start()
      io.stdout(`signing helper listening on http://127.0.0.1:${helper.port} for ${new URL(opts.consoleOrigin).origin}\n`)
      try {
        await io.untilStopped()
      } finally {
        await helper.stop()
      }
    })

  return token

  async function pinFor (tokenLabel: string): Promise<string> {
    const fromEnv = io.env.CAIRN_TOKEN_PIN
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv
    return await io.readPin(`PIN for token ${tokenLabel}: `)
  }
}

function keyOptions (cmd: Command): Command {
  return cmd
    .requiredOption('--token-label <label>', 'the token (USB key) label')
    .option('--key-label <label>', 'the key or certificate label on the token')
    .option('--key-id <hex>', 'the key or certificate id (CKA_ID, hex)')
    .option('--pkcs11-module <path>', 'PKCS#11 module (default: CAIRN_PKCS11_MODULE, then SoftHSM2)')
}

function keyRef (opts: KeyOptions): TokenKeyRef {
  if (opts.keyLabel === undefined && opts.keyId === undefined) throw new TypeError('Pass --key-label or --key-id to choose the key on the token.')
  return { label: opts.keyLabel, id: opts.keyId }
}

/** Reads a PIN from the terminal with echo off. */
export async function promptPin (prompt: string): Promise<string> {
  const stdin = process.stdin
  if (stdin.isTTY !== true) throw new TypeError('Set CAIRN_TOKEN_PIN, or run in a terminal to be asked for the PIN.')
  process.stderr.write(prompt)
  stdin.setRawMode(true)
  stdin.resume()
  try {
    return await new Promise<string>((resolve, reject) => {
      let pin = ''
      const onData = (data: Buffer): void => {
        for (const ch of data.toString('utf8')) {
          if (ch === '\r' || ch === '\n') { stdin.off('data', onData); resolve(pin); return }
          if (ch === '\u0003') { stdin.off('data', onData); reject(new OperationAbortedError('PIN entry')); return }
          if (ch === '\u007f' || ch === '\b') pin = pin.slice(0, -1)
          else pin += ch
        }
      }
      stdin.on('data', onData)
    })
  } finally {
    stdin.setRawMode(false)
    stdin.pause()
    process.stderr.write('\n')
  }
}
