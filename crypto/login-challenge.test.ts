// F27 challenge–response login: signatures made on a real SoftHSM2 token (by Cairn's token
// code and, independently, by openssl's pkcs11 engine) verify; every bad case is refused.
import test, { after, before } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  createLoginChallenges, createMemoryChallengeStore, loginChallengeMessage,
  type LoginChallenge, type LoginResponse
} from './login-challenge.ts'
import { withTokenSession, type TokenKeyRef } from './pkcs11-token.ts'
import { checkOperatorCertificate } from './operator-certificate.ts'
import {
  CertificateRejectedError, ChallengeExpiredError, ChallengeMismatchError, ChallengeReplayedError, ChallengeUnknownError, SignatureInvalidError
} from './errors.ts'
import { createOperatorToken, createSoftHsm, type OperatorToken, type SoftHsm } from './testing/index.ts'

const ORIGIN = 'https://console.cairn.test:8443'
let hsm: SoftHsm
let op: OperatorToken

before(() => {
  hsm = createSoftHsm()
  op = createOperatorToken(hsm)
})
after(() => hsm.dispose())

/** What the signing helper does: sign the v1 message for `origin` on the token. */
function answer (challenge: LoginChallenge, key: TokenKeyRef, origin = ORIGIN): LoginResponse {
  const message = loginChallengeMessage({ ...challenge, origin })
  const signature = withTokenSession({ modulePath: hsm.modulePath, tokenLabel: op.tokenLabel, pin: op.pin }, s => s.sign(key, message))
  return { nonce: challenge.nonce, user: challenge.user, attemptId: challenge.attemptId, origin, signature: Buffer.from(signature).toString('base64') }
}

function clock (start = Date.now()): { now: () => number, advance: (ms: number) => void } {
  let t = start
  return { now: () => t, advance: ms => { t += ms } }
}

const enrolled = (): Record<string, string> => ({ alice: op.ec.certificatePem, bob: op.rsa.certificatePem })
const lookup = (user: string): string => {
  const pem = enrolled()[user]
  if (pem === undefined) throw new Error(`no certificate for ${user}`)
  return pem
}

test('the v1 message matches the checked-in sample byte for byte', () => {
  const sample = JSON.parse(readFileSync(new URL('./testdata/login-message-v1.json', import.meta.url), 'utf8'))
  const message = Buffer.from(loginChallengeMessage(sample.fields))
  assert.equal(message.toString('hex'), sample.message)
  assert.equal(message.subarray(0, 15).toString('latin1'), 'cairn-login-v1\0')
  assert.equal(message.readUInt16BE(15), 32)
  // The origin is stored in its serialised (lower-case host) form.
  assert.ok(message.includes(Buffer.from('https://console.example:8443')))
})

test('challenges carry 256 random bits, expire after 60 s by default and never repeat', async () => {
  const login = createLoginChallenges({ origin: ORIGIN })
  const seen = new Set<string>()
  for (let i = 0; i < 200; i++) {
    const c = await login.issue('alice', `attempt-${i}`)
    assert.equal(Buffer.from(c.nonce, 'base64url').length, 32)
    assert.ok(c.expiresAt - Date.now() <= 60_000 && c.expiresAt - Date.now() > 50_000)
    seen.add(c.nonce)
  }
  assert.equal(seen.size, 200)
})

test('EC P-256 and RSA-2048 token signatures log the right user in', async () => {
  const login = createLoginChallenges({ origin: ORIGIN })
  const a = await login.issue('alice', 'attempt-a')
  assert.deepEqual(await login.verify(answer(a, { label: 'operator-ec' }), lookup), { user: 'alice', attemptId: 'attempt-a' })
  const b = await login.issue('bob', 'attempt-b')
  assert.deepEqual(await login.verify(answer(b, { id: '02' }), lookup), { user: 'bob', attemptId: 'attempt-b' })
})

test('a signature made by openssl\'s pkcs11 engine (not Cairn\'s signer) verifies too', async () => {
  const login = createLoginChallenges({ origin: ORIGIN })
  const c = await login.issue('alice', 'attempt-openssl')
  const messageFile = join(hsm.dir, 'message.bin')
  writeFileSync(messageFile, loginChallengeMessage({ ...c, origin: ORIGIN }))
  const signature = execFileSync('openssl', ['dgst', '-sha256', '-engine', 'pkcs11', '-keyform', 'engine',
    '-sign', `pkcs11:token=${op.tokenLabel};object=operator-ec;type=private;pin-value=${op.pin}`, messageFile],
  { env: { ...process.env, ...hsm.env, OPENSSL_CONF: join(hsm.dir, 'openssl.cnf') }, stdio: ['ignore', 'pipe', 'pipe'] })
  const response = { nonce: c.nonce, user: 'alice', attemptId: c.attemptId, origin: ORIGIN, signature: signature.toString('base64') }
  assert.deepEqual(await login.verify(response, lookup), { user: 'alice', attemptId: 'attempt-openssl' })
})

test('a replayed response is refused, and so is a second try after a failed one', async () => {
  const login = createLoginChallenges({ origin: ORIGIN })
  const c = await login.issue('alice', 'attempt-1')
  const good = answer(c, { label: 'operator-ec' })
  await login.verify(good, lookup)
  await assert.rejects(login.verify(good, lookup), ChallengeReplayedError)

  const d = await login.issue('alice', 'attempt-2')
  await assert.rejects(login.verify({ ...answer(d, { label: 'operator-ec' }), signature: Buffer.alloc(70).toString('base64') }, lookup), SignatureInvalidError)
  await assert.rejects(login.verify(answer(d, { label: 'operator-ec' }), lookup), ChallengeReplayedError)
})

test('of ten concurrent uses of one good response exactly one logs in', async () => {
  const login = createLoginChallenges({ origin: ORIGIN })
  const c = await login.issue('alice', 'attempt-race')
  const good = answer(c, { label: 'operator-ec' })
  const results = await Promise.allSettled(Array.from({ length: 10 }, async () => await login.verify(good, lookup)))
  assert.equal(results.filter(r => r.status === 'fulfilled').length, 1)
  assert.ok(results.every(r => r.status === 'fulfilled' || r.reason instanceof ChallengeReplayedError))
})

test('an expired challenge is refused', async () => {
  const time = clock()
  const login = createLoginChallenges({ origin: ORIGIN, now: time.now, ttlMs: 60_000 })
  const c = await login.issue('alice', 'attempt-late')
  const response = answer(c, { label: 'operator-ec' })
  time.advance(60_001)
  await assert.rejects(login.verify(response, lookup), ChallengeExpiredError)
})

test('a response signed for another origin is refused, whatever origin it claims', async () => {
  const login = createLoginChallenges({ origin: ORIGIN })
  const c1 = await login.issue('alice', 'attempt-phish-1')
  await assert.rejects(login.verify(answer(c1, { label: 'operator-ec' }, 'https://console.cairn.test.evil.example'), lookup),
    (err: unknown) => err instanceof ChallengeMismatchError && err.field === 'origin')
  const c2 = await login.issue('alice', 'attempt-phish-2')
  const phished = answer(c2, { label: 'operator-ec' }, 'https://evil.example')
  await assert.rejects(login.verify({ ...phished, origin: ORIGIN }, lookup), SignatureInvalidError)
  const c3 = await login.issue('alice', 'attempt-port')
  await assert.rejects(login.verify(answer(c3, { label: 'operator-ec' }, 'https://console.cairn.test:9443'), lookup), ChallengeMismatchError)
})

test('a response naming another user or attempt is refused, and the challenge\'s user picks the certificate', async () => {
  const login = createLoginChallenges({ origin: ORIGIN })
  const c = await login.issue('alice', 'attempt-u')
  await assert.rejects(login.verify({ ...answer(c, { label: 'operator-ec' }), user: 'bob' }, lookup),
    (err: unknown) => err instanceof ChallengeMismatchError && err.field === 'user')
  const d = await login.issue('alice', 'attempt-v')
  await assert.rejects(login.verify({ ...answer(d, { label: 'operator-ec' }), attemptId: 'attempt-w' }, lookup),
    (err: unknown) => err instanceof ChallengeMismatchError && err.field === 'attempt')
  // Bob's token answering Alice's challenge: checked against Alice's certificate, so it fails.
  const e = await login.issue('alice', 'attempt-x')
  const asked: string[] = []
  await assert.rejects(login.verify(answer(e, { label: 'operator-rsa' }), user => { asked.push(user); return lookup(user) }), SignatureInvalidError)
  assert.deepEqual(asked, ['alice'])
})

test('a wrong key, a flipped signature bit, garbage and an unknown nonce are refused', async () => {
  const login = createLoginChallenges({ origin: ORIGIN })
  const c = await login.issue('bob', 'attempt-k')
  await assert.rejects(login.verify(answer(c, { label: 'operator-ec' }), lookup), SignatureInvalidError)
  const d = await login.issue('alice', 'attempt-f')
  const good = answer(d, { label: 'operator-ec' })
  const sig = Buffer.from(good.signature, 'base64')
  sig[sig.length - 1] ^= 1
  await assert.rejects(login.verify({ ...good, signature: sig.toString('base64') }, lookup), SignatureInvalidError)
  const e = await login.issue('alice', 'attempt-g')
  await assert.rejects(login.verify({ ...answer(e, { label: 'operator-ec' }), signature: 'not base64 at all' }, lookup), SignatureInvalidError)
  await assert.rejects(login.verify({ ...good, nonce: Buffer.alloc(32).toString('base64url') }, lookup), ChallengeUnknownError)
})

test('an enrolled certificate that expired since enrolment no longer logs in', async () => {
  const notAfter = checkOperatorCertificate(op.ec.certificatePem).notAfter.getTime()
  const login = createLoginChallenges({ origin: ORIGIN, now: () => notAfter + 1000 })
  const c = await login.issue('alice', 'attempt-old')
  await assert.rejects(login.verify(answer(c, { label: 'operator-ec' }), lookup), CertificateRejectedError)
})

test('the memory store forgets expired challenges and evicts the oldest when full', async () => {
  const store = createMemoryChallengeStore({ maxEntries: 2 })
  const time = clock(1_000_000)
  const login = createLoginChallenges({ origin: ORIGIN, store, now: time.now })
  const first = await login.issue('alice', '1')
  await login.issue('alice', '2')
  await login.issue('alice', '3')
  assert.deepEqual(await store.take(first.nonce), { status: 'unknown' })
  const fourth = await login.issue('alice', '4')
  time.advance(61_000)
  await store.purgeExpired(time.now())
  assert.deepEqual(await store.take(fourth.nonce), { status: 'unknown' })
})
