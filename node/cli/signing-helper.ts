import { X509Certificate } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  canonicalOrigin, errorRecord, InternalError, loginChallengeMessage, openPkcs11Module, TokenKeyNotFoundError, withTokenSession,
  type ErrorRecord, type LoginChallenge, type TokenKeyRef
} from '../../crypto/index.ts'
import { httpStatusOf } from '../api/index.ts'
import { BadRequestError, HostNotAllowedError, NotFoundError, OriginNotAllowedError, PayloadTooLargeError, UnsupportedMediaTypeError } from './errors.ts'

/*
 * The local signing helper (F27): the "browser plugin" of the seed manual. It runs on the
 * operator's machine, listens on 127.0.0.1 only, and lets the console page in the browser
 * ask the operator's USB key to sign a login challenge.
 *
 *   GET  /v1/tokens  → { tokens: [{ label, manufacturer, model, serialNumber, pinCountLow,
 *                        pinFinalTry, pinLocked, objects: [{ kind, label, id, fingerprint256? }] }] }
 *                    (no PIN; fingerprint256 of each certificate, so the console finds the enrolled key)
 *   POST /v1/sign    { tokenLabel, pin, keyLabel? | keyId?, challenge: LoginChallenge }
 *                  → { signature, certificate, origin, keyType }
 *
 * Why it is safe to run:
 * - It answers only requests whose Origin is the configured console origin (CORS preflight
 *   included) and whose Host is the loopback address it listens on (no DNS rebinding).
 * - It signs only the v1 login message, which it builds itself with the browser-reported
 *   Origin; a page cannot make it sign arbitrary bytes or a message for another origin.
 * - The PIN goes straight to C_Login and is never logged or returned; the private key never
 *   leaves the token. Errors are sent as `{ name, code, message, params? }` with their code's status.
 */
const MAX_BODY = 16 * 1024

export interface SigningHelperInit {
  /** The console's origin, e.g. "https://console.example:8443"; the only one answered. */
  consoleOrigin: string
  /** 0 picks a free port (tests); `cairn token helper` defaults to DEFAULT_SIGNING_HELPER_PORT (token-command.ts). */
  port: number
  /** PKCS#11 module path; default from CAIRN_PKCS11_MODULE, then SoftHSM2's. */
  modulePath?: string
  /** One line per request: method, path, status and error name — never bodies. */
  log?: (line: string) => void
}

export interface SigningHelper {
  start: () => Promise<void>
  stop: () => Promise<void>
  /** The bound port, once started. */
  readonly port: number
}

export function createSigningHelper (init: SigningHelperInit): SigningHelper {
  const consoleOrigin = canonicalOrigin(init.consoleOrigin)
  const log = init.log ?? (() => {})
  let server: Server | undefined
  let port = 0

  function allowedHost (host: string | undefined): boolean {
    return host === `127.0.0.1:${port}` || host === `localhost:${port}`
  }

  function corsHeaders (): Record<string, string> {
    return { 'Access-Control-Allow-Origin': consoleOrigin, Vary: 'Origin' }
  }

  function send (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = body === undefined ? '' : JSON.stringify(body)
    res.writeHead(status, {
      ...headers,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      ...(text === '' ? {} : { 'Content-Type': 'application/json; charset=utf-8' })
    })
    res.end(text)
  }

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<number> {
    const origin = req.headers.origin
    const path = (req.url ?? '/').split('?')[0]
    if (!allowedHost(req.headers.host)) throw new HostNotAllowedError()
    if (origin !== consoleOrigin) throw new OriginNotAllowedError()

    if (req.method === 'OPTIONS') {
      send(res, 204, undefined, {
        ...corsHeaders(),
        'Access-Control-Allow-Methods': 'GET, POST',
        'Access-Control-Allow-Headers': 'Content-Type',
        'Access-Control-Max-Age': '600',
        ...(req.headers['access-control-request-private-network'] === 'true' ? { 'Access-Control-Allow-Private-Network': 'true' } : {})
      })
      return 204
    }
    if (req.method === 'GET' && path === '/v1/tokens') {
      send(res, 200, { tokens: listTokens(init.modulePath) }, corsHeaders())
      return 200
    }
    if (req.method === 'POST' && path === '/v1/sign') {
      if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) throw new UnsupportedMediaTypeError()
      const body = parseSignRequest(await readBody(req))
      send(res, 200, sign(init.modulePath, body, consoleOrigin), corsHeaders())
      return 200
    }
    throw new NotFoundError()
  }

  return {
    get port () { return port },
    async start () {
      server = createServer((req, res) => {
        handle(req, res).then(status => log(`${req.method ?? '?'} ${(req.url ?? '').split('?')[0]} ${status}`), (err: unknown) => {
          const { status, body } = describeError(err)
          // CORS headers only for the console, so other pages cannot even read the error.
          const headers = req.headers.origin === consoleOrigin && status !== 403 ? corsHeaders() : {}
          if (!res.headersSent) send(res, status, body, headers)
          else res.destroy()
          log(`${req.method ?? '?'} ${(req.url ?? '').split('?')[0]} ${status} ${body.name}`)
        })
      })
      await new Promise<void>((resolve, reject) => {
        server?.once('error', reject)
        server?.listen(init.port, '127.0.0.1', () => {
          port = (server?.address() as AddressInfo).port
          resolve()
        })
      })
    },
    async stop () {
      const s = server
      server = undefined
      if (s === undefined) return
      await new Promise<void>(resolve => s.close(() => resolve()))
    }
  }
}

interface SignRequest { tokenLabel: string, pin: string, key: TokenKeyRef, challenge: LoginChallenge }

function listTokens (modulePath: string | undefined): unknown[] {
  const module = openPkcs11Module({ modulePath })
  try {
    return module.listTokens().map(token => {
      const view = module.openPublic(token.label)
      try {
        const { slotId: _slot, ...info } = token
        return { ...info, objects: view.listObjects().map(o => o.kind === 'certificate' ? { ...o, ...certificateFingerprint(() => view.findCertificate({ id: o.id, label: o.label })) } : o) }
      } finally {
        view.close()
      }
    })
  } finally {
    module.close()
  }
}

/** The SHA-256 fingerprint (X509Certificate's form, as the node stores it) of a certificate on a token; nothing for one it cannot read. */
function certificateFingerprint (read: () => string): { fingerprint256?: string } {
  try {
    return { fingerprint256: new X509Certificate(read()).fingerprint256 }
  } catch {
    return {}
  }
}

function sign (modulePath: string | undefined, request: SignRequest, origin: string): unknown {
  const message = loginChallengeMessage({ ...request.challenge, origin })
  return withTokenSession({ modulePath, tokenLabel: request.tokenLabel, pin: request.pin }, session => {
    const pair = session.findKeyPair(request.key)
    const signature = session.sign({ id: pair.id }, message)
    let certificate: string | null = null
    try {
      certificate = session.findCertificate({ id: pair.id })
    } catch (err) {
      if (!(err instanceof TokenKeyNotFoundError)) throw err
    }
    return { signature: Buffer.from(signature).toString('base64'), certificate, origin, keyType: pair.type }
  })
}

function parseSignRequest (text: string): SignRequest {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new BadRequestError('The request body is not JSON.')
  }
  const b = body as Record<string, unknown>
  const c = (b?.challenge ?? {}) as Record<string, unknown>
  const str = (v: unknown, max = 256): v is string => typeof v === 'string' && v.length > 0 && v.length <= max
  if (!str(b?.tokenLabel, 32) || !str(b.pin) || !(str(b.keyLabel) || str(b.keyId, 128))) {
    throw new BadRequestError('Send tokenLabel, pin, and keyLabel or keyId.')
  }
  if (c.version !== 1 || !str(c.nonce, 64) || !str(c.user) || !str(c.attemptId) || typeof c.expiresAt !== 'number' ||
      Buffer.from(c.nonce, 'base64url').length !== 32) {
    throw new BadRequestError('The challenge is not a version-1 Cairn login challenge.')
  }
  return {
    tokenLabel: b.tokenLabel,
    pin: b.pin,
    key: { label: str(b.keyLabel) ? b.keyLabel : undefined, id: str(b.keyId, 128) ? b.keyId : undefined },
    challenge: { version: 1, nonce: c.nonce, user: c.user, attemptId: c.attemptId, expiresAt: c.expiresAt }
  }
}

async function readBody (req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY) throw new PayloadTooLargeError()
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** An error as the helper answers it: its code's status and `{ name, code, message, params? }`; anything unexpected is a 500 with no details. */
function describeError (err: unknown): { status: number, body: ErrorRecord } {
  const e = err instanceof TypeError ? new BadRequestError(err.message) : err
  const status = httpStatusOf(e)
  return status === 500 ? { status, body: errorRecord(new InternalError('The signing helper failed; see its log.')) } : { status, body: errorRecord(e) }
}
