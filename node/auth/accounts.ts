import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { StateStore } from '../state/index.ts'
import type { Clock } from '../clock/index.ts'
import { said, saidError, type LogBook, type LogText } from '../logs/index.ts'
import { createPasswordHasher, type ScryptCost, DEFAULT_SCRYPT_COST } from './password-hash.ts'
import { passwordProblem } from './password-policy.ts'
import { createLoginGate, createRefusalLog } from './login-gate.ts'
import { checkOperatorCertificate, createLoginChallenges, type LoginChallenge, type LoginChallenges, type LoginResponse } from '../../crypto/index.ts'
import { levelChallengeStore } from './challenge-store.ts'
import {
  AccountLockedError, CertificateInvalidError, LoginFailedError, LoginThrottledError, NotAuthenticatedError, SessionExpiredError,
  TokenChallengeError, UserNameTakenError, WeakPasswordError
} from './errors.ts'

export const ROLES = ['admin', 'operator', 'auditor'] as const
export type Role = typeof ROLES[number]

export interface NotificationPrefs {
  enabled: boolean
  types: string[]
  levels: string[]
  /** immediate: one mail per entry; digest: one mail a day at `digestTime` in `timeZone`. */
  mode: 'immediate' | 'digest'
  digestTime: string
  timeZone: string
  lastDigestAt?: string
}

export interface ReportPrefs {
  enabled: boolean
  cycle: 'day' | 'week' | 'month' | 'year'
  types: Array<'clients' | 'tasks'>
  lastSentAt?: string
}

export interface User {
  id: string
  name: string
  role: Role
  email?: string
  enabled: boolean
  passwordHash: string
  createdAt: string
  lastLoginAt?: string
  passwordChangedAt: string
  /** PEM certificate or public key of the enrolled USB key; login then needs its signature too. */
  certificate?: string
  certificateFingerprint?: string
  failedLogins: number
  lockedUntil?: string
  notifications?: NotificationPrefs
  reports?: ReportPrefs
}

export type PublicUser = Omit<User, 'passwordHash' | 'certificate' | 'failedLogins'> & { tokenEnrolled: boolean, locked: boolean }

export interface Session {
  /** Public id, shown in the session list; not the cookie secret. */
  id: string
  /** SHA-256 of the cookie secret: a leaked state store gives no usable sessions. */
  secretHash: string
  userId: string
  createdAt: string
  lastSeenAt: string
  ip: string
  userAgent: string
  csrfToken: string
  reauthAt?: string
}

/** A login that passed the password step and waits for the USB key's signature. */
interface PendingLogin { attemptId: string, userId: string, expiresAt: string, ip: string }

export interface AccountsInit {
  scryptCost?: ScryptCost
  /** Idle timeout (ASVS 3.3.2: ≤ 30 min at L2). */
  idleTimeoutMs?: number
  /** Absolute session lifetime (ASVS 3.3.2: ≤ 12 h). */
  absoluteTimeoutMs?: number
  maxFailures?: number
  lockoutMs?: number
  /** Failed logins from one address within `lockoutMs` before further attempts get 429. */
  maxFailuresPerAddress?: number
  reauthWindowMs?: number
  /** How long a USB-key challenge may be answered (default 2 min: PIN entry takes time). */
  challengeTtlMs?: number
  /** The console's origin as browsers report it (e.g. https://node.example:8443); signed into token challenges. */
  origin?: () => string
  /** Threads that compute password hashes (default 1) and checks that may wait for one (default 64; more get 503). */
  hashThreads?: number
  hashQueue?: number
}

export type LoginOutcome =
  | { step: 'done', user: PublicUser, session: Session, secret: string }
  /** `keyFingerprint`: the SHA-256 fingerprint of the enrolled certificate, so the console finds that key among the tokens plugged in. */
  | { step: 'token', challenge: LoginChallenge, keyFingerprint?: string }

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex')
const token = (n = 32): string => randomBytes(n).toString('base64url')

export function publicUser (u: User, now: Date): PublicUser {
  const { passwordHash: _h, certificate, failedLogins: _f, ...rest } = u
  return { ...rest, tokenEnrolled: certificate !== undefined, locked: u.lockedUntil !== undefined && Date.parse(u.lockedUntil) > now.getTime() }
}

/** Who changed something, as the audit trail records it. */
export interface ChangedBy { user: string, source: string }

/**
 * Users, passwords, sessions and the USB-key login step (F25, F27).
 *
 * Contract:
 * - Passwords are kept only as scrypt hashes, session secrets only as SHA-256; nothing secret is
 *   logged. Every change of a user is audited with who made it.
 * - Logins are limited per address and per name before any hash is computed; a name of no user
 *   is answered exactly like a user's (401, then 423 once locked); too many checks at once get
 *   PasswordCheckBusyError instead of a queue without end.
 * - `authenticate` refreshes a session's idle timer and throws NotAuthenticatedError or
 *   SessionExpiredError; `stop` ends the hashing threads (after it, no login works).
 */
export interface Accounts {
  createUser: (input: { name: string, password: string, role: Role, email?: string }, by: ChangedBy) => Promise<User>
  hasUsers: () => Promise<boolean>
  listUsers: () => Promise<User[]>
  getUser: (id: string) => Promise<User>
  /** Applies `change` to the stored user and audits it as `audit.action`. */
  updateUser: (id: string, change: (u: User) => void, audit: ChangedBy & { action: string, detail?: unknown }) => Promise<User>
  /** Sets a password (checked against the policy) and ends the user's sessions but `keepSession`. */
  setPassword: (id: string, password: string, by: ChangedBy, keepSession?: string) => Promise<void>
  /**
   * Enrols a USB key's certificate. With `proof` (the console's flow, issue 19) the token must
   * first have signed the challenge `enrolChallenge` issued for this user with that
   * certificate's key — the key is there and its PIN known; without it (`cairn token enroll`'s
   * PEM, scripts) the certificate is checked only.
   */
  enrolCertificate: (id: string, certificate: string, by: ChangedBy, proof?: LoginResponse) => Promise<User>
  /** A challenge for the user's USB key to sign before its certificate is enrolled (single use, one minute). */
  enrolChallenge: (id: string) => Promise<LoginChallenge>
  /** Removes the user and every session of theirs. */
  removeUser: (id: string, by: ChangedBy) => Promise<void>
  /** Step one of login. Users with an enrolled USB key get a challenge to sign instead of a session. */
  login: (name: string, password: string, ip: string, userAgent: string) => Promise<LoginOutcome>
  /**
   * Step two for users with a USB key: the token's signature over the challenge (F27,
   * crypto/login-challenge). It passes the same address limit as step one; a failure counts
   * against the user only when it answers a pending password step of that user.
   */
  completeTokenLogin: (response: LoginResponse, ip: string, userAgent: string) => Promise<LoginOutcome>
  /** The session for a cookie secret, with its user. */
  authenticate: (secret: string | undefined) => Promise<{ session: Session, user: User }>
  checkCsrf: (session: Session, header: string | undefined) => boolean
  /** Confirms the session's user's password again (changes that need it: doc/api.md "Re-authentication"). */
  reauthenticate: (session: Session, user: User, password: string, ip: string) => Promise<void>
  recentlyAuthenticated: (session: Session) => boolean
  sessionsOf: (userId: string) => Promise<Session[]>
  endSession: (session: Session) => Promise<void>
  /** Password checks under way and waiting (the hashing threads' queue). */
  hashing: () => { running: number, waiting: number, maxRunning: number }
  stop: () => Promise<void>
  readonly timeouts: { idleMs: number, absoluteMs: number }
}

export interface AccountsComponents {
  state: StateStore
  clock: Clock
  logs: LogBook
}

export function createAccounts (components: AccountsComponents, init: AccountsInit = {}): Accounts {
  const { state, clock, logs } = components
  const cost = init.scryptCost ?? DEFAULT_SCRYPT_COST
  const idle = init.idleTimeoutMs ?? 30 * 60_000
  const absolute = init.absoluteTimeoutMs ?? 12 * 3600_000
  const maxFailures = init.maxFailures ?? 5
  const lockoutMs = init.lockoutMs ?? 15 * 60_000
  const maxPerAddress = init.maxFailuresPerAddress ?? 20
  const reauthWindow = init.reauthWindowMs ?? 5 * 60_000
  const challengeTtl = init.challengeTtlMs ?? 120_000
  let challenges: LoginChallenges | undefined
  // Made on first use: the origin is known once the API listens.
  const loginChallenges = (): LoginChallenges => (challenges ??= createLoginChallenges({
    origin: init.origin?.() ?? 'https://localhost:8443', store: levelChallengeStore(state), ttlMs: challengeTtl, now: () => clock.now().getTime()
  }))
  const hasher = createPasswordHasher({ threads: init.hashThreads, maxQueue: init.hashQueue })
  const gate = createLoginGate(clock, { maxPerAddress, maxFailures, windowMs: lockoutMs })
  // A hash to compare against when the user does not exist, so timing does not reveal names.
  let dummyHash: Promise<string> | undefined

  const now = (): Date => clock.now()
  const byName = async (name: string): Promise<User | undefined> =>
    (await state.list<User>('users')).find(u => u.name.toLowerCase() === name.toLowerCase())

  // Refusals of throttled addresses and locked names are logged and audited once a minute, counted.
  const refusals = createRefusalLog(clock, async (key, first, count) => {
    const [kind, who, ip] = key.split('\0')
    const message = kind === 'throttled'
      ? (first ? `Logins from ${who} throttled after repeated failures` : `${count} more logins from ${who} were throttled in the last minute`)
      : (first ? `Login refused for locked user [${who}] (from ${ip})` : `${count} more logins for locked user [${who}] were refused in the last minute`)
    const text = kind === 'throttled'
      ? (first ? said('LOGIN_THROTTLED_FROM', { ip: who }) : said('LOGIN_THROTTLED_MORE', { ip: who, n: count }))
      : (first ? said('LOGIN_REFUSED_LOCKED', { user: who, ip }) : said('LOGIN_REFUSED_LOCKED_MORE', { user: who, n: count }))
    await logs.write({ type: 'login', level: 'warning', user: kind === 'throttled' ? 'anonymous' : who, source: kind === 'throttled' ? who : ip, message, text })
    await logs.audit({ user: kind === 'throttled' ? 'anonymous' : who, source: kind === 'throttled' ? who : ip, action: kind === 'throttled' ? 'auth.throttled' : 'auth.locked.refused', target: who, detail: { count } })
  })
  const throttled = (ip: string): LoginThrottledError => { refusals.refused(`throttled\0${ip}`); return new LoginThrottledError() }

  /** Runs one password or USB-key check under the address and name limits (LoginGate). */
  async function gated<T> (ip: string, name: string, check: () => Promise<T>): Promise<T> {
    const release = gate.enterAddress(ip)
    if (release === undefined) throw throttled(ip)
    try {
      const run = gate.byName(name, check)
      if (run === undefined) throw throttled(ip)
      return await run
    } finally { release() }
  }

  /** The lock end of a user or of a name no user has; the same answer either way. */
  const lockedUntil = (user: User | undefined, name: string): string | undefined => {
    if (user === undefined) return gate.unknownLockedUntil(name)?.toISOString()
    return user.lockedUntil !== undefined && Date.parse(user.lockedUntil) > now().getTime() ? user.lockedUntil : undefined
  }

  /** Why a login failed, as a LogText: `why` is one of recordFailure's reasons; `err`, a USB-key check's error. */
  const failureSaid = (name: string, why: string, err?: unknown): LogText =>
    err !== undefined ? said('LOGIN_FAILED_TOKEN', { user: name, ...saidError(err) })
      : said(why === 'wrong password' ? 'LOGIN_FAILED_PASSWORD' : why === 'account disabled' ? 'LOGIN_FAILED_DISABLED' : 'LOGIN_FAILED_REAUTH', { user: name })

  async function recordFailure (user: User | undefined, name: string, ip: string, why: string, err?: unknown): Promise<void> {
    gate.addressFailure(ip)
    await logs.audit({ user: user?.name ?? name, source: ip, action: 'auth.login.failed', target: user?.id ?? '', detail: { why } })
    if (user === undefined) {
      const locked = gate.unknownFailure(name)
      await logs.write({ type: 'login', level: locked !== undefined ? 'error' : 'warning', user: name, source: ip, message: locked !== undefined ? `Unknown user name [${name}] locked until ${locked.toISOString()} after ${maxFailures} failed logins` : `Failed login for unknown user [${name}]`, text: locked !== undefined ? said('UNKNOWN_USER_LOCKED', { user: name, until: locked.toISOString(), failures: maxFailures }) : said('LOGIN_FAILED_UNKNOWN_USER', { user: name }) })
      return
    }
    await state.exclusive(async () => {
      const fresh = await state.require<User>('users', user.id)
      fresh.failedLogins++
      if (fresh.failedLogins >= maxFailures) {
        fresh.lockedUntil = new Date(now().getTime() + lockoutMs).toISOString()
        fresh.failedLogins = 0
        await logs.write({ type: 'login', level: 'error', user: fresh.name, source: ip, ownerId: fresh.id, message: `User [${fresh.name}] locked until ${fresh.lockedUntil} after ${maxFailures} failed logins`, text: said('USER_LOCKED', { user: fresh.name, until: fresh.lockedUntil, failures: maxFailures }) })
        await logs.audit({ user: fresh.name, source: ip, action: 'user.locked', target: fresh.id })
      }
      await state.put('users', fresh.id, fresh)
    })
    await logs.write({ type: 'login', level: 'warning', user: user.name, source: ip, ownerId: user.id, message: `Failed login for user [${user.name}]: ${why}`, text: failureSaid(user.name, why, err) })
  }

  async function openSession (user: User, ip: string, userAgent: string): Promise<LoginOutcome> {
    const secret = token()
    const t = now().toISOString()
    const session: Session = { id: token(12), secretHash: sha256(secret), userId: user.id, createdAt: t, lastSeenAt: t, ip, userAgent: userAgent.slice(0, 200), csrfToken: token(), reauthAt: t }
    await state.exclusive(async () => {
      const fresh = await state.require<User>('users', user.id)
      fresh.failedLogins = 0
      fresh.lastLoginAt = t
      await state.put('users', fresh.id, fresh)
      await state.put('sessions', session.secretHash, session)
    })
    await logs.write({ type: 'login', level: 'info', user: user.name, source: ip, ownerId: user.id, message: `User [${user.name}] logged in`, text: said('USER_LOGGED_IN', { user: user.name }) })
    await logs.audit({ user: user.name, source: ip, action: 'auth.login', target: user.id, detail: { session: session.id } })
    return { step: 'done', user: publicUser(user, now()), session, secret }
  }

  const accounts: Accounts = {
    async createUser (input, by) {
      const problem = passwordProblem(input.password, input.name)
      if (problem !== undefined) throw new WeakPasswordError(problem)
      const passwordHash = await hasher.hash(input.password, cost)
      return await state.exclusive(async () => {
        if (await byName(input.name) !== undefined) throw new UserNameTakenError(input.name)
        const t = now().toISOString()
        const user: User = { id: state.nextId('u'), name: input.name, role: input.role, email: input.email, enabled: true, passwordHash, createdAt: t, passwordChangedAt: t, failedLogins: 0 }
        await state.put('users', user.id, user)
        await logs.audit({ user: by.user, source: by.source, action: 'user.create', target: user.id, detail: { name: user.name, role: user.role } })
        return user
      })
    },

    async hasUsers () { return (await state.list<User>('users', { limit: 1 })).length > 0 },
    async listUsers () { return await state.list<User>('users') },
    async getUser (id) { return await state.require<User>('users', id) },

    async updateUser (id, change, audit) {
      return await state.exclusive(async () => {
        const u = await state.require<User>('users', id)
        change(u)
        await state.put('users', id, u)
        await logs.audit({ user: audit.user, source: audit.source, action: audit.action, target: id, detail: audit.detail })
        return u
      })
    },

    async setPassword (id, password, by, keepSession) {
      const problem = passwordProblem(password, (await state.require<User>('users', id)).name)
      if (problem !== undefined) throw new WeakPasswordError(problem)
      const passwordHash = await hasher.hash(password, cost)
      await accounts.updateUser(id, u => { u.passwordHash = passwordHash; u.passwordChangedAt = now().toISOString() }, { ...by, action: 'user.password' })
      // ASVS 3.3.3: a password change ends the user's other sessions.
      for (const s of await accounts.sessionsOf(id)) if (s.id !== keepSession) await state.del('sessions', s.secretHash)
    },

    async enrolCertificate (id, certificate, by, proof) {
      let fingerprint: string
      try {
        fingerprint = checkOperatorCertificate(certificate, { now: now() }).fingerprint256
      } catch (err) {
        throw new CertificateInvalidError((err as Error).message, { cause: err })
      }
      if (proof !== undefined) {
        // The attempt must be an enrolment of this very user (a login's attempt is stored apart).
        const key = `e:${String(proof.attemptId)}`
        const pending = await state.get<PendingLogin>('logins', key)
        if (pending === undefined || pending.userId !== id) throw new TokenChallengeError('the enrolment attempt is unknown, used or for another user')
        await state.del('logins', key)
        try {
          await loginChallenges().verify(proof, () => certificate)
        } catch (err) {
          throw new TokenChallengeError((err as Error).message, { cause: err })
        }
      }
      return await accounts.updateUser(id, u => { u.certificate = certificate; u.certificateFingerprint = fingerprint }, { ...by, action: 'user.token.enrol', detail: { fingerprint, signedByKey: proof !== undefined } })
    },

    async enrolChallenge (id) {
      const user = await state.require<User>('users', id)
      const pending: PendingLogin = { attemptId: token(16), userId: id, expiresAt: new Date(now().getTime() + challengeTtl).toISOString(), ip: '' }
      await state.put('logins', `e:${pending.attemptId}`, pending)
      return await loginChallenges().issue(user.name, pending.attemptId)
    },

    async removeUser (id, by) {
      await state.exclusive(async () => {
        await state.require<User>('users', id)
        await state.del('users', id)
        await logs.audit({ user: by.user, source: by.source, action: 'user.delete', target: id })
      })
      for (const s of await accounts.sessionsOf(id)) await state.del('sessions', s.secretHash)
    },

    async login (name, password, ip, userAgent) {
      return await gated(ip, name, async () => {
        const user = await byName(name)
        const until = lockedUntil(user, name)
        if (until !== undefined) {
          refusals.refused(`locked\0${user?.name ?? name}\0${ip}`)
          throw new AccountLockedError(until)
        }
        if (user === undefined) {
          dummyHash ??= hasher.hash('not a password of anyone', cost)
          await hasher.verify(password, await dummyHash)
          await recordFailure(undefined, name, ip, 'unknown user')
          throw new LoginFailedError()
        }
        if (!await hasher.verify(password, user.passwordHash) || !user.enabled) {
          await recordFailure(user, name, ip, user.enabled ? 'wrong password' : 'account disabled')
          throw new LoginFailedError()
        }
        if (user.certificate !== undefined) {
          const pending: PendingLogin = { attemptId: token(16), userId: user.id, expiresAt: new Date(now().getTime() + challengeTtl).toISOString(), ip }
          await state.put('logins', `a:${pending.attemptId}`, pending)
          return { step: 'token', challenge: await loginChallenges().issue(user.name, pending.attemptId), keyFingerprint: user.certificateFingerprint }
        }
        return await openSession(user, ip, userAgent)
      })
    },

    async completeTokenLogin (response, ip, userAgent) {
      const release = gate.enterAddress(ip)
      if (release === undefined) throw throttled(ip)
      try {
        let verified: { user: string, attemptId: string }
        try {
          verified = await loginChallenges().verify(response, async (name) => {
            const u = await byName(name)
            if (u?.certificate === undefined) throw new TokenChallengeError('no USB key is enrolled for this user')
            return u.certificate
          })
        } catch (err) {
          const pending = await state.get<PendingLogin>('logins', `a:${String(response.attemptId)}`)
          const u = pending === undefined ? undefined : await state.get<User>('users', pending.userId)
          const why = `USB key check failed: ${(err as Error).name}`
          if (u !== undefined && u.name.toLowerCase() === String(response.user).toLowerCase()) await recordFailure(u, u.name, ip, why, err)
          else {
            gate.addressFailure(ip)
            await logs.write({ type: 'login', level: 'warning', user: String(response.user).slice(0, 64), source: ip, message: `${why} (no pending password step; not counted against the user)`, text: said('LOGIN_TOKEN_NO_PENDING', { user: String(response.user).slice(0, 64), ...saidError(err) }) })
            await logs.audit({ user: String(response.user).slice(0, 64), source: ip, action: 'auth.login.failed', target: '', detail: { why, step: 'token' } })
          }
          if (err instanceof TokenChallengeError) throw err
          throw new TokenChallengeError((err as Error).message, { cause: err })
        }
        const key = `a:${verified.attemptId}`
        const pending = await state.get<PendingLogin>('logins', key)
        await state.del('logins', key)
        const user = pending === undefined ? undefined : await state.get<User>('users', pending.userId)
        if (user === undefined || user.name.normalize('NFC') !== verified.user || !user.enabled) throw new TokenChallengeError('the login attempt is unknown or for another user')
        return await openSession(user, ip, userAgent)
      } finally { release() }
    },

    async authenticate (secret) {
      if (secret === undefined || secret === '') throw new NotAuthenticatedError()
      const key = sha256(secret)
      const session = await state.get<Session>('sessions', key)
      if (session === undefined) throw new NotAuthenticatedError('The session is not valid (logged out or ended); log in again')
      const t = now().getTime()
      if (t - Date.parse(session.lastSeenAt) > idle || t - Date.parse(session.createdAt) > absolute) {
        await state.del('sessions', key)
        throw new SessionExpiredError()
      }
      const user = await state.get<User>('users', session.userId)
      if (user === undefined || !user.enabled) {
        await state.del('sessions', key)
        throw new NotAuthenticatedError('The account was removed or disabled')
      }
      // Write the idle timer back at most every 30 s so busy consoles do not rewrite it per request.
      if (t - Date.parse(session.lastSeenAt) > 30_000) {
        session.lastSeenAt = new Date(t).toISOString()
        await state.put('sessions', key, session)
      }
      return { session, user }
    },

    checkCsrf (session, header) {
      if (header === undefined) return false
      const a = Buffer.from(session.csrfToken)
      const b = Buffer.from(header)
      return a.length === b.length && timingSafeEqual(a, b)
    },

    async reauthenticate (session, user, password, ip) {
      await gated(ip, user.name, async () => {
        if (!await hasher.verify(password, user.passwordHash)) {
          await recordFailure(user, user.name, ip, 'wrong password at re-authentication')
          throw new LoginFailedError()
        }
        session.reauthAt = now().toISOString()
        await state.put('sessions', session.secretHash, session)
      })
    },

    recentlyAuthenticated (session) {
      return session.reauthAt !== undefined && now().getTime() - Date.parse(session.reauthAt) <= reauthWindow
    },

    async sessionsOf (userId) {
      return (await state.list<Session>('sessions')).filter(s => s.userId === userId)
    },

    async endSession (session) { await state.del('sessions', session.secretHash) },

    hashing: () => hasher.stats(),

    async stop () { await hasher.close() },

    timeouts: { idleMs: idle, absoluteMs: absolute }
  }
  return accounts
}
