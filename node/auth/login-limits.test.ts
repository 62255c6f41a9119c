// Login limits under bursts (issue 13: H2, M2, M5 and the lows on lockout, logging and hashing),
// against a real daemon: a burst is limited exactly like a sequence, both login steps share one
// limiter, unknown names lock like users, refusals are logged once a minute, passwords are hashed
// on their own bounded threads, and weak passwords are refused.
import test from 'node:test'
import assert from 'node:assert/strict'
import { ApiClient, ADMIN_PASSWORD, startTestDaemon, withUsers } from '../daemon/test-daemon.ts'
import { createPasswordHasher, hashPassword } from './password-hash.ts'
import { passwordProblem } from './password-policy.ts'

const statusOf = (r: PromiseSettledResult<unknown>): string => r.status === 'fulfilled' ? 'ok' : (r.reason as Error).name

test('200 logins at once for one user from one address are limited like 200 in a row (H2)', async () => {
  const t = await startTestDaemon()
  try {
    const passwords = [...Array.from({ length: 199 }, (_, i) => `wrong password ${i}`), ADMIN_PASSWORD]
    const results = await Promise.allSettled(passwords.map(async p => await t.daemon.accounts.login('admin', p, '192.0.2.10', 'burst')))
    const count = (name: string): number => results.filter(r => statusOf(r) === name).length
    assert.equal(count('LoginFailedError'), 5, 'five wrong passwords are checked, then the account is locked')
    assert.equal(statusOf(results[199]), 'LoginThrottledError', 'the right password, sent last, does not log in')
    assert.equal(count('ok'), 0)
    assert.equal(count('AccountLockedError') + count('LoginThrottledError'), 195)
    assert.ok(count('LoginThrottledError') >= 180, 'beyond 20 checks under way or failed, the address gets 429 without a hash')

    // Over HTTP the same: no burst gets more than the address allows, and nothing logs in.
    const c = new ApiClient(t.daemon.url)
    const answers = await Promise.all(Array.from({ length: 100 }, async (_, i) => (await c.login('auditor-to-be', `guess number ${i}`)).status))
    assert.ok(answers.every(s => [401, 423, 429].includes(s)), answers.join(','))
    assert.equal(answers.filter(s => s === 401).length, 5, 'five wrong passwords are checked, whatever the order of arrival')
  } finally { await t.close() }
})

test('both login steps share the limiter; a token step with no pending password step does not lock the user (M2)', async () => {
  const t = await startTestDaemon({ accounts: { maxFailuresPerAddress: 3 } })
  try {
    await withUsers(t)
    const forged = { nonce: 'n'.repeat(43), user: 'ops01', attemptId: 'no-such-attempt', origin: t.daemon.url, signature: Buffer.from('not a signature').toString('base64') }
    // From one address: six token answers naming ops01 without its password.
    const results = await Promise.allSettled(Array.from({ length: 6 }, async () => await t.daemon.accounts.completeTokenLogin(forged, '192.0.2.20', 'x')))
    assert.deepEqual(results.map(statusOf).slice(0, 3), ['TokenChallengeError', 'TokenChallengeError', 'TokenChallengeError'])
    assert.deepEqual(results.map(statusOf).slice(3), ['LoginThrottledError', 'LoginThrottledError', 'LoginThrottledError'], 'the token step is throttled like the password step')
    const op = new ApiClient(t.daemon.url)
    assert.equal((await op.login('ops01', 'operator password 1')).status, 200, 'ops01 is not locked out by answers that never passed its password')
    // The password step from the throttled address is throttled too.
    await assert.rejects(t.daemon.accounts.login('ops01', 'operator password 1', '192.0.2.20', 'x'), { name: 'LoginThrottledError' })
  } finally { await t.close() }
})

test('a name that belongs to no user is answered like a user: 401, then 423 once locked', async () => {
  const t = await startTestDaemon()
  try {
    const statuses = async (name: string): Promise<string[]> => {
      const c = new ApiClient(t.daemon.url)
      const out: string[] = []
      for (let i = 0; i < 7; i++) { const r = await c.login(name, `not it ${i} at all`); out.push(`${r.status} ${r.body.name}`) }
      return out
    }
    const real = await statuses('admin')
    const ghost = await statuses('ghost-user')
    assert.deepEqual(ghost, real)
    assert.deepEqual(real, [...Array(5).fill('401 LoginFailedError'), '423 AccountLockedError', '423 AccountLockedError'])
  } finally { await t.close() }
})

test('throttled logins are logged and audited once a minute with a count, not once each', async () => {
  const t = await startTestDaemon({ accounts: { maxFailuresPerAddress: 3 } })
  try {
    const c = new ApiClient(t.daemon.url)
    for (let i = 0; i < 3; i++) assert.equal((await c.login(`ghost${i}`, 'not the password')).status, 401)
    for (let i = 0; i < 50; i++) assert.equal((await c.login('admin', ADMIN_PASSWORD)).status, 429)
    const throttleLines = async (): Promise<string[]> => (await t.daemon.logs.query({ type: 'login' })).map(e => e.message).filter(m => /throttled/.test(m))
    assert.equal((await throttleLines()).length, 1)
    await t.clock.advance(61_000)
    assert.deepEqual((await throttleLines()).map(m => m.replace(/127\.0\.0\.1|::1|::ffff:127\.0\.0\.1/, 'IP')), ['49 more logins from IP were throttled in the last minute', 'Logins from IP throttled after repeated failures'])
    const audit = await t.daemon.logs.auditTrail()
    assert.deepEqual(audit.filter(e => e.action === 'auth.throttled').map(e => (e.detail as { count: number }).count), [1, 49])
    assert.equal(audit.filter(e => e.action === 'auth.login.failed').length, 3)
  } finally { await t.close() }
})

test('logins, failed logins and logouts are in the audit trail', async () => {
  const t = await startTestDaemon()
  try {
    const c = new ApiClient(t.daemon.url)
    await c.login('admin', 'a wrong password')
    await c.login('admin', ADMIN_PASSWORD)
    await c.post('/api/auth/logout')
    const actions = (await t.daemon.logs.auditTrail()).map(e => e.action)
    for (const a of ['auth.login.failed', 'auth.login', 'auth.logout']) assert.ok(actions.includes(a), `${a} in ${actions.join(', ')}`)
  } finally { await t.close() }
})

test('password hashes run on their own threads, at most the configured number at once, with a bounded queue', async () => {
  const hasher = createPasswordHasher({ threads: 1, maxQueue: 3 })
  try {
    const cost = { logN: 12, r: 8, p: 1 }
    const stored = await hashPassword('the right password', cost)
    const results = await Promise.allSettled(Array.from({ length: 8 }, async (_, i) => await hasher.verify(i === 0 ? 'the right password' : 'a wrong one', stored)))
    assert.deepEqual(results.slice(0, 4).map(r => r.status === 'fulfilled' ? r.value : 'refused'), [true, false, false, false])
    assert.deepEqual(results.slice(4).map(statusOf), Array(4).fill('PasswordCheckBusyError'))
    assert.equal(hasher.stats().maxRunning, 1)
    assert.equal(await hasher.verify('the right password', await hasher.hash('the right password', cost)), true, 'its hashes verify like the others')
  } finally { await hasher.close() }
})

test('a burst of logins waits for the hashing threads while health and a logged-in user are answered', async () => {
  const t = await startTestDaemon({ accounts: { maxFailuresPerAddress: 1000, hashQueue: 20, scryptCost: { logN: 14, r: 8, p: 1 } } })
  try {
    const admin = new ApiClient(t.daemon.url)
    assert.equal((await admin.login('admin', ADMIN_PASSWORD)).status, 200)
    let settled = 0
    const burst = Promise.all(Array.from({ length: 60 }, async (_, i) => {
      const r = await new ApiClient(t.daemon.url).login(`visitor${i}`, 'some wrong password')
      settled++
      return `${r.status} ${r.body.name}`
    }))
    const health = await admin.get('/api/health')
    const tasks = await admin.get('/api/tasks')
    const settledMeanwhile = settled
    const answers = await burst
    assert.equal(health.status, 200)
    assert.equal(tasks.status, 200)
    assert.ok(settledMeanwhile < 60, 'health and the tasks were answered before the burst was through')
    assert.ok(answers.some(a => a === '503 PasswordCheckBusyError'), 'checks beyond the queue are refused, not queued without end')
    assert.ok(answers.every(a => a === '401 LoginFailedError' || a === '503 PasswordCheckBusyError'), answers.join(', '))
    assert.equal(t.daemon.accounts.hashing().maxRunning, 1)
  } finally { await t.close() }
})

test('common, breached and name-based passwords are refused (M5, ASVS 2.1.7)', async () => {
  for (const weak of ['password1234', 'passwordpassword', 'Password123!', 'qwertyuiop123']) assert.match(passwordProblem(weak, 'ops02') ?? '', /common|guess/, weak)
  assert.match(passwordProblem('my ops02 account key', 'ops02') ?? '', /user name/)
  assert.equal(passwordProblem('copper kettle under seven moons', 'ops02'), undefined)
  const t = await startTestDaemon()
  try {
    const { admin, operator } = await withUsers(t)
    for (const password of ['password1234', 'passwordpassword', 'Password123!', 'ops02 is my name']) {
      const r = await admin.post('/api/users', { name: 'ops02', password, role: 'operator' })
      assert.equal(r.status, 400, password)
      assert.equal(r.body.name, 'WeakPasswordError')
    }
    assert.equal((await admin.post('/api/users', { name: 'ops02', password: 'copper kettle under seven moons', role: 'operator' })).status, 201)
    const changed = await operator.post('/api/auth/password', { currentPassword: 'operator password 1', newPassword: 'Password123!' })
    assert.equal(changed.body.name, 'WeakPasswordError')
  } finally { await t.close() }
})
