// F27: the local signing helper over real HTTP on 127.0.0.1 with a real SoftHSM2 token: it
// answers only the console's origin (null below: no Origin header), signs login challenges the server accepts, and never
// reveals the PIN.
import test, { after, before } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { X509Certificate } from 'node:crypto'
import { createSigningHelper, type SigningHelper } from './signing-helper.ts'
import { createLoginChallenges } from '../../crypto/index.ts'
import { createOperatorToken, createSoftHsm, type OperatorToken, type SoftHsm } from '../../crypto/testing/index.ts'

const CONSOLE = 'https://console.cairn.test:8443'
const PIN = '735919'
let hsm: SoftHsm
let op: OperatorToken
let helper: SigningHelper
const logLines: string[] = []

before(async () => {
  hsm = createSoftHsm()
  op = createOperatorToken(hsm, { pin: PIN })
  helper = createSigningHelper({ consoleOrigin: CONSOLE, port: 0, modulePath: hsm.modulePath, log: line => logLines.push(line) })
  await helper.start()
})
after(async () => {
  await helper.stop()
  hsm.dispose()
})

interface Reply { status: number, headers: Record<string, string | string[] | undefined>, body: any, text: string }

async function call (method: string, path: string, { origin = CONSOLE as string | null, body = undefined as unknown, headers = {} as Record<string, string>, port = helper.port } = {}): Promise<Reply> {
  return await new Promise((resolve, reject) => {
    const h: Record<string, string> = { ...headers }
    if (origin !== null) h.Origin = origin
    const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
    if (text !== undefined && h['Content-Type'] === undefined) h['Content-Type'] = 'application/json'
    const req = request({ host: '127.0.0.1', port, method, path, headers: h }, res => {
      const chunks: Buffer[] = []
      res.on('data', c => chunks.push(c))
      res.on('end', () => {
        const t = Buffer.concat(chunks).toString()
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: t, body: t === '' ? undefined : JSON.parse(t) })
      })
    })
    req.on('error', reject)
    req.end(text)
  })
}

test('a preflight from the console origin is allowed; from any other origin it is refused', async () => {
  const ok = await call('OPTIONS', '/v1/sign', { headers: { 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type', 'Access-Control-Request-Private-Network': 'true' } })
  assert.equal(ok.status, 204)
  assert.equal(ok.headers['access-control-allow-origin'], CONSOLE)
  assert.match(String(ok.headers['access-control-allow-methods']), /POST/)
  assert.match(String(ok.headers['access-control-allow-headers']), /Content-Type/i)
  assert.equal(ok.headers['access-control-allow-private-network'], 'true')
  const evil = await call('OPTIONS', '/v1/sign', { origin: 'https://evil.example', headers: { 'Access-Control-Request-Method': 'POST' } })
  assert.equal(evil.status, 403)
  assert.equal(evil.headers['access-control-allow-origin'], undefined)
})

test('requests from other origins, without an origin, or to another Host name are refused with 403', async () => {
  for (const origin of ['https://evil.example', 'http://console.cairn.test:8443', 'null', null]) {
    const r = await call('GET', '/v1/tokens', { origin })
    assert.equal(r.status, 403, String(origin))
    assert.equal(r.body.name, 'OriginNotAllowedError')
  }
  const rebound = await call('GET', '/v1/tokens', { headers: { Host: `attacker.example:${helper.port}` } })
  assert.equal(rebound.status, 403)
  assert.equal(rebound.body.name, 'HostNotAllowedError')
})

test('GET /v1/tokens lists the token and its public objects without a PIN', async () => {
  const r = await call('GET', '/v1/tokens')
  assert.equal(r.status, 200)
  assert.equal(r.headers['access-control-allow-origin'], CONSOLE)
  const token = r.body.tokens.find((t: { label: string }) => t.label === op.tokenLabel)
  assert.ok(token)
  const objects = token.objects.map((o: { kind: string, label: string }) => `${o.kind}:${o.label}`).sort()
  assert.deepEqual(objects, ['certificate:operator-ec', 'certificate:operator-rsa', 'public-key:operator-ec', 'public-key:operator-rsa'])
  // Each certificate with its fingerprint, the node's form of it: the console finds the enrolled key by it (issue 19).
  const fingerprints = Object.fromEntries(token.objects.filter((o: { kind: string }) => o.kind === 'certificate').map((o: { label: string, fingerprint256: string }) => [o.label, o.fingerprint256]))
  assert.deepEqual(fingerprints, { 'operator-ec': new X509Certificate(op.ec.certificatePem!).fingerprint256, 'operator-rsa': new X509Certificate(op.rsa.certificatePem!).fingerprint256 })
  assert.ok(token.objects.filter((o: { kind: string }) => o.kind !== 'certificate').every((o: object) => !('fingerprint256' in o)))
})

test('POST /v1/sign signs the challenge for the console origin, and the server logs the operator in (EC and RSA)', async () => {
  const login = createLoginChallenges({ origin: CONSOLE })
  for (const [user, keyLabel, pem] of [['alice', 'operator-ec', op.ec.certificatePem], ['bob', 'operator-rsa', op.rsa.certificatePem]] as const) {
    const challenge = await login.issue(user, `attempt-${user}`)
    // An `origin` in the body is ignored: the helper signs for the browser-reported Origin.
    const r = await call('POST', '/v1/sign', { body: { tokenLabel: op.tokenLabel, pin: PIN, keyLabel, challenge, origin: 'https://evil.example' } })
    assert.equal(r.status, 200, r.text)
    assert.equal(r.body.origin, CONSOLE)
    assert.equal(r.body.certificate, pem)
    assert.equal(r.body.keyType, keyLabel === 'operator-ec' ? 'ec-p256' : 'rsa')
    const response = { nonce: challenge.nonce, user, attemptId: challenge.attemptId, origin: r.body.origin, signature: r.body.signature }
    assert.deepEqual(await login.verify(response, () => pem), { user, attemptId: `attempt-${user}` })
  }
})

test('a wrong PIN, a missing token and a missing key give their error names; the PIN is never echoed or logged', async () => {
  const login = createLoginChallenges({ origin: CONSOLE })
  const challenge = await login.issue('alice', 'attempt-bad')
  const wrong = await call('POST', '/v1/sign', { body: { tokenLabel: op.tokenLabel, pin: '864200', keyLabel: 'operator-ec', challenge } })
  assert.equal(wrong.status, 401)
  assert.equal(wrong.body.name, 'WrongPinError')
  assert.ok(!wrong.text.includes('864200'))
  const noToken = await call('POST', '/v1/sign', { body: { tokenLabel: 'no-such-token', pin: PIN, keyLabel: 'operator-ec', challenge } })
  assert.equal(noToken.status, 404)
  assert.equal(noToken.body.name, 'TokenNotFoundError')
  const noKey = await call('POST', '/v1/sign', { body: { tokenLabel: op.tokenLabel, pin: PIN, keyId: '7f', challenge } })
  assert.equal(noKey.status, 404)
  assert.equal(noKey.body.name, 'TokenKeyNotFoundError')
  assert.ok(logLines.length > 0)
  assert.ok(logLines.every(line => !line.includes(PIN) && !line.includes('864200')), logLines.join('\n'))
})

test('malformed requests are refused without touching the token', async () => {
  const bad = await call('POST', '/v1/sign', { body: '{not json' })
  assert.equal(bad.status, 400)
  assert.equal(bad.body.name, 'BadRequestError')
  const notChallenge = await call('POST', '/v1/sign', { body: { tokenLabel: op.tokenLabel, pin: PIN, keyLabel: 'operator-ec', challenge: { version: 1, nonce: 'short', user: 'a', attemptId: 'b', expiresAt: 1 } } })
  assert.equal(notChallenge.status, 400)
  const form = await call('POST', '/v1/sign', { body: 'a=b', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } })
  assert.equal(form.status, 415)
  const big = await call('POST', '/v1/sign', { body: JSON.stringify({ pad: 'x'.repeat(20_000) }) })
  assert.equal(big.status, 413)
  const unknown = await call('GET', '/v1/keys')
  assert.equal(unknown.status, 404)
})

test('a helper whose module is missing answers 503 TokenModuleNotFoundError', async () => {
  const broken = createSigningHelper({ consoleOrigin: CONSOLE, port: 0, modulePath: '/nonexistent/libpkcs11.so' })
  await broken.start()
  try {
    const r = await call('GET', '/v1/tokens', { port: broken.port })
    assert.equal(r.status, 503)
    assert.equal(r.body.name, 'TokenModuleNotFoundError')
  } finally {
    await broken.stop()
  }
})
