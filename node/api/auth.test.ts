// Login, sessions (OWASP ASVS L2 §3), CSRF, lockout and the USB-key step, against a running daemon.
import test from 'node:test'
import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { loginChallengeMessage, withTokenSession, type LoginChallenge } from '../../crypto/index.ts'
import { createOperatorToken, createSoftHsm } from '../../crypto/testing/index.ts'
import { manualClock } from '../clock/index.ts'
import { ApiClient, ADMIN_PASSWORD, spaceFor, startTestDaemon, withUsers } from '../testing/index.ts'

test('login sets an HttpOnly SameSite cookie with a fresh id; logout invalidates it', async () => {
  const t = await startTestDaemon()
  try {
    const a = new ApiClient(t.daemon.url)
    const r1 = await a.login('admin', ADMIN_PASSWORD)
    assert.equal(r1.status, 200)
    const cookie = r1.headers.get('set-cookie') ?? ''
    assert.match(cookie, /HttpOnly/i)
    assert.match(cookie, /SameSite=Strict/i)
    const first = a.cookie
    const b = new ApiClient(t.daemon.url)
    await b.login('admin', ADMIN_PASSWORD)
    assert.notEqual(b.cookie, first, 'each login gets a new session id')
    assert.equal((await a.get('/api/auth/session')).status, 200)
    assert.equal((await a.post('/api/auth/logout')).status, 200)
    a.cookie = first
    const after = await a.get('/api/auth/session')
    assert.equal(after.status, 401)
    assert.equal(after.body.name, 'NotAuthenticatedError')
    assert.equal((await b.get('/api/auth/session')).status, 200, 'other sessions live on')
  } finally { await t.close() }
})

test('wrong password is 401 with { name, code, message }; no cookie is set', async () => {
  const t = await startTestDaemon()
  try {
    const a = new ApiClient(t.daemon.url)
    const r = await a.login('admin', 'wrong password!!')
    assert.equal(r.status, 401)
    assert.deepEqual(Object.keys(r.body).sort(), ['code', 'message', 'name'])
    assert.equal(r.body.name, 'LoginFailedError')
    assert.equal(r.body.code, 'LOGIN_FAILED')
    assert.equal(a.cookie, undefined)
    assert.equal((await a.login('nobody', 'whatever pass')).body.name, 'LoginFailedError', 'unknown users look the same')
  } finally { await t.close() }
})

test('state-changing requests without the CSRF token are refused', async () => {
  const t = await startTestDaemon()
  try {
    const a = new ApiClient(t.daemon.url)
    await a.login('admin', ADMIN_PASSWORD)
    const good = a.csrf
    a.csrf = undefined
    const r = await a.post('/api/users', { name: 'x-user', password: 'a long password 1', role: 'auditor' })
    assert.equal(r.status, 403)
    assert.equal(r.body.name, 'CsrfTokenError')
    a.csrf = 'forged-token'
    assert.equal((await a.post('/api/users', { name: 'x-user', password: 'a long password 1', role: 'auditor' })).status, 403)
    a.csrf = good
    assert.equal((await a.post('/api/users', { name: 'x-user', password: 'a long password 1', role: 'auditor' })).status, 201)
  } finally { await t.close() }
})

test('sessions expire after the idle timeout and after the absolute timeout', async () => {
  const t = await startTestDaemon({ accounts: { idleTimeoutMs: 15 * 60_000, absoluteTimeoutMs: 60 * 60_000 } })
  try {
    const a = new ApiClient(t.daemon.url)
    await a.login('admin', ADMIN_PASSWORD)
    await t.clock.advance(14 * 60_000)
    assert.equal((await a.get('/api/auth/session')).status, 200, 'activity within the idle window keeps it')
    await t.clock.advance(16 * 60_000)
    const r = await a.get('/api/auth/session')
    assert.equal(r.status, 401)
    assert.equal(r.body.name, 'SessionExpiredError')

    await a.login('admin', ADMIN_PASSWORD)
    for (let i = 0; i < 5; i++) {
      await t.clock.advance(10 * 60_000)
      assert.equal((await a.get('/api/auth/session')).status, 200)
    }
    await t.clock.advance(11 * 60_000)
    assert.equal((await a.get('/api/auth/session')).body.name, 'SessionExpiredError', 'absolute lifetime ends even an active session')
  } finally { await t.close() }
})

test('five failed logins lock the account; the lock is logged and expires', async () => {
  const t = await startTestDaemon({ accounts: { maxFailures: 5, lockoutMs: 15 * 60_000 } })
  try {
    const a = new ApiClient(t.daemon.url)
    for (let i = 0; i < 5; i++) assert.equal((await a.login('admin', `wrong ${i} password`)).status, 401)
    const locked = await a.login('admin', ADMIN_PASSWORD)
    assert.equal(locked.status, 423)
    assert.equal(locked.body.name, 'AccountLockedError')
    await t.clock.advance(16 * 60_000)
    assert.equal((await a.login('admin', ADMIN_PASSWORD)).status, 200)
    const logs = await a.get('/api/logs?type=login&level=error')
    assert.ok(logs.body.items.some((e: { message: string }) => /locked/.test(e.message)))
  } finally { await t.close() }
})

test('many failures from one address are throttled with 429', async () => {
  const t = await startTestDaemon({ accounts: { maxFailuresPerAddress: 3 } })
  try {
    const a = new ApiClient(t.daemon.url)
    for (let i = 0; i < 3; i++) await a.login(`ghost${i}`, 'not the password')
    const r = await a.login('admin', ADMIN_PASSWORD)
    assert.equal(r.status, 429)
    assert.equal(r.body.name, 'LoginThrottledError')
  } finally { await t.close() }
})

test('users list and end their own sessions; a password change ends the others', async () => {
  const t = await startTestDaemon()
  try {
    const a = new ApiClient(t.daemon.url)
    const b = new ApiClient(t.daemon.url)
    await a.login('admin', ADMIN_PASSWORD)
    await b.login('admin', ADMIN_PASSWORD)
    const list = await a.get('/api/auth/sessions')
    assert.equal(list.body.length, 2)
    const other = list.body.find((s: { current: boolean }) => !s.current)
    assert.equal((await a.del(`/api/auth/sessions/${other.id}`)).status, 200)
    assert.equal((await b.get('/api/auth/session')).status, 401)
    await b.login('admin', ADMIN_PASSWORD)
    const weak = await a.post('/api/auth/password', { currentPassword: ADMIN_PASSWORD, newPassword: 'short' })
    assert.equal(weak.body.name, 'WeakPasswordError')
    assert.equal((await a.post('/api/auth/password', { currentPassword: ADMIN_PASSWORD, newPassword: 'a brand new passphrase' })).status, 200)
    assert.equal((await b.get('/api/auth/session')).status, 401)
    assert.equal((await a.get('/api/auth/session')).status, 200)
  } finally { await t.close() }
})

test('deleting needs a recent re-authentication', async () => {
  const t = await startTestDaemon()
  try {
    const { admin, auditorId } = await withUsers(t)
    await t.clock.advance(6 * 60_000)
    const r = await admin.del(`/api/users/${auditorId}`)
    assert.equal(r.status, 403)
    assert.equal(r.body.name, 'ReauthenticationRequiredError')
    assert.equal((await admin.post('/api/auth/reauth', { password: 'wrong password!' })).status, 401)
    assert.equal((await admin.post('/api/auth/reauth', { password: ADMIN_PASSWORD })).status, 200)
    assert.equal((await admin.del(`/api/users/${auditorId}`)).status, 200)
  } finally { await t.close() }
})

test('an admin cannot remove their own account, nor a user who still owns a space, until it is gone', async () => {
  const t = await startTestDaemon()
  try {
    const { admin, operatorId } = await withUsers(t)
    assert.equal((await admin.post('/api/auth/reauth', { password: ADMIN_PASSWORD })).status, 200)
    const me = (await admin.get('/api/users/me')).body
    const self = await admin.del(`/api/users/${me.id}`)
    assert.equal(self.status, 409)
    assert.equal(self.body.name, 'SelfRemovalError')
    const { nodeId, spaceId } = await spaceFor(t, admin, operatorId)
    const owner = await admin.del(`/api/users/${operatorId}`)
    assert.equal(owner.status, 409)
    assert.equal(owner.body.name, 'InUseError')
    assert.match(owner.body.message, /space ops01_space/)
    assert.equal((await admin.get(`/api/users/${operatorId}`)).status, 200, 'the refused removal left the user')
    assert.equal((await admin.del(`/api/spaces/${spaceId}`)).status, 200)
    assert.match((await admin.del(`/api/users/${operatorId}`)).body.message, /client /, 'the client assigned to the user still counts')
    assert.equal((await admin.patch(`/api/nodes/${nodeId}`, { ownerId: null })).status, 200)
    assert.equal((await admin.del(`/api/users/${operatorId}`)).status, 200)
    assert.equal((await admin.get(`/api/users/${operatorId}`)).status, 404)
    const logs = (await admin.get('/api/logs?type=user')).body.items.map((l: { message: string }) => l.message)
    assert.ok(logs.some((m: string) => /removed user \[ops01\]/.test(m)), logs.join('\n'))
  } finally { await t.close() }
})

test('a user with an enrolled USB key must sign the login challenge on the token (F27, SoftHSM2)', async () => {
  const hsm = createSoftHsm()
  const op = createOperatorToken(hsm)
  // The token's certificate was made just now: the daemon's clock must be inside its validity.
  const t = await startTestDaemon({ clock: manualClock(new Date(Date.now() + 60_000)) })
  try {
    const { admin, operatorId } = await withUsers(t)
    const bad = await admin.put(`/api/users/${operatorId}/token`, { certificate: '-----BEGIN CERTIFICATE-----\nnot a certificate at all, just text\n-----END CERTIFICATE-----\n' })
    assert.equal(bad.status, 400)
    assert.equal(bad.body.name, 'CertificateInvalidError')
    assert.equal((await admin.put(`/api/users/${operatorId}/token`, { certificate: op.ec.certificatePem })).status, 200)

    const answer = (challenge: LoginChallenge, key: { label: string }): Record<string, string> => {
      const origin = t.daemon.url
      const message = loginChallengeMessage({ ...challenge, origin })
      const signature = withTokenSession({ modulePath: hsm.modulePath, tokenLabel: op.tokenLabel, pin: op.pin }, s => s.sign(key, message))
      return { nonce: challenge.nonce, user: challenge.user, attemptId: challenge.attemptId, origin, signature: Buffer.from(signature).toString('base64') }
    }
    const c = new ApiClient(t.daemon.url)
    const step1 = await c.login('ops01', 'operator password 1')
    assert.equal(step1.body.step, 'token')
    assert.equal(c.cookie, undefined, 'no session before the token step')
    const forged = answer(step1.body.challenge, { label: 'operator-rsa' })
    const refused = await c.post('/api/auth/login/token', forged)
    assert.equal(refused.status, 401)
    assert.equal(refused.body.name, 'TokenChallengeError')
    assert.equal(c.cookie, undefined)
    const replay = await c.post('/api/auth/login/token', answer(step1.body.challenge, { label: 'operator-ec' }))
    assert.equal(replay.status, 401, 'a challenge is single-use')

    const again = await c.login('ops01', 'operator password 1')
    const ok = await c.post('/api/auth/login/token', answer(again.body.challenge, { label: 'operator-ec' }))
    assert.equal(ok.status, 200)
    assert.equal(ok.body.step, 'done')
    c.csrf = ok.body.csrfToken
    assert.equal((await c.get('/api/users/me')).body.tokenEnrolled, true)
  } finally {
    await t.close()
    hsm.dispose()
  }
})

test('enrolling a USB key from the console: the key signs that user\'s enrolment challenge first (issue 19, SoftHSM2)', async () => {
  const hsm = createSoftHsm()
  const op = createOperatorToken(hsm)
  const t = await startTestDaemon({ clock: manualClock(new Date(Date.now() + 60_000)) })
  try {
    const { admin, operatorId, auditorId } = await withUsers(t)
    const signed = (challenge: LoginChallenge, label: string): Record<string, string> => {
      const origin = t.daemon.url
      const signature = withTokenSession({ modulePath: hsm.modulePath, tokenLabel: op.tokenLabel, pin: op.pin }, s => s.sign({ label }, loginChallengeMessage({ ...challenge, origin })))
      return { nonce: challenge.nonce, user: challenge.user, attemptId: challenge.attemptId, origin, signature: Buffer.from(signature).toString('base64') }
    }
    const challenge = async (id: string): Promise<LoginChallenge> => {
      const r = await admin.post(`/api/users/${id}/token/challenge`)
      assert.equal(r.status, 200, r.text)
      return r.body.challenge
    }
    const enrolled = async (): Promise<boolean> => (await admin.get(`/api/users/${operatorId}`)).body.tokenEnrolled

    // Signed by the other key on the token: refused, nothing enrolled, the challenge used up.
    const first = await challenge(operatorId)
    assert.equal(first.user, 'ops01')
    const wrongKey = await admin.put(`/api/users/${operatorId}/token`, { certificate: op.ec.certificatePem, proof: signed(first, 'operator-rsa') })
    assert.equal(wrongKey.status, 401)
    assert.equal(wrongKey.body.name, 'TokenChallengeError')
    assert.equal(await enrolled(), false)
    assert.equal((await admin.put(`/api/users/${operatorId}/token`, { certificate: op.ec.certificatePem, proof: signed(first, 'operator-ec') })).status, 401, 'single use')
    // Another user's enrolment challenge does not enrol this one; nor does an enrolment answer log anyone in.
    const others = await admin.put(`/api/users/${operatorId}/token`, { certificate: op.ec.certificatePem, proof: signed(await challenge(auditorId), 'operator-ec') })
    assert.equal(others.body.name, 'TokenChallengeError')
    assert.equal((await new ApiClient(t.daemon.url).post('/api/auth/login/token', signed(await challenge(operatorId), 'operator-ec'))).status, 401)
    assert.equal(await enrolled(), false)

    const ok = await admin.put(`/api/users/${operatorId}/token`, { certificate: op.ec.certificatePem, proof: signed(await challenge(operatorId), 'operator-ec') })
    assert.equal(ok.status, 200, ok.text)
    assert.equal(await enrolled(), true)
    // The login's token step names the enrolled certificate, for the console to find that key.
    const step1 = await new ApiClient(t.daemon.url).login('ops01', 'operator password 1')
    assert.equal(step1.body.step, 'token')
    assert.equal(step1.body.keyFingerprint, new X509Certificate(op.ec.certificatePem!).fingerprint256)
  } finally {
    await t.close()
    hsm.dispose()
  }
})
