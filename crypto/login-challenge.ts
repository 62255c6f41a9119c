import { randomBytes, verify as verifySignature, X509Certificate } from 'node:crypto'
import {
  ChallengeExpiredError, ChallengeMismatchError, ChallengeReplayedError, ChallengeUnknownError, InternalError, SignatureInvalidError
} from './errors.ts'
import { checkOperatorCertificate, type OperatorCertificate } from './operator-certificate.ts'

/*
 * USB-key login (F27), challenge–response. The server issues a challenge bound to one login
 * attempt of one user; the operator's token signs `loginChallengeMessage(...)` with SHA-256;
 * the server verifies it against the operator's enrolled certificate. Each challenge is
 * answered at most once, whatever the outcome.
 *
 * Signed message, version 1 (all lengths big-endian, strings UTF-8):
 *
 *   "cairn-login-v1" 0x00                      15 bytes, domain separation
 *   u16 len || nonce                           32 random bytes
 *   u16 len || origin                          the console's origin, WHATWG-serialised
 *                                              ("https://console.example:8443", no path)
 *   u16 len || user                            the user name, NFC-normalised
 *   u16 len || attemptId                       the login attempt (after the password step)
 *   u64 expiresAt                              ms since the Unix epoch
 *
 * Every field is length-prefixed, so no two field tuples encode to the same bytes. The origin
 * is the one the browser reports to the signing helper (its `Origin` header), not one the page
 * chooses, so a signature obtained by a look-alike site does not verify for the real console.
 */
export const LOGIN_MESSAGE_MAGIC = 'cairn-login-v1'
const NONCE_BYTES = 32
export const DEFAULT_CHALLENGE_TTL_MS = 60_000

/** What the server sends to the browser, and the browser hands to the signing helper. */
export interface LoginChallenge {
  version: 1
  /** base64url of 32 random bytes. */
  nonce: string
  user: string
  attemptId: string
  expiresAt: number
}

/** What the browser sends back after the token signed. */
export interface LoginResponse {
  nonce: string
  user: string
  attemptId: string
  /** The origin the signing helper put into the signed message. */
  origin: string
  /** base64 of a DER ECDSA or PKCS#1 v1.5 signature over the message, SHA-256. */
  signature: string
}

export interface IssuedChallenge extends LoginChallenge {
  origin: string
  issuedAt: number
}

export type ChallengeTake =
  | { status: 'fresh', challenge: IssuedChallenge }
  | { status: 'used' }
  | { status: 'unknown' }

/** Where issued challenges live until answered or expired; the daemon persists them. */
export interface ChallengeStore {
  /** Records a new challenge; its nonce is unique. */
  put: (challenge: IssuedChallenge) => Promise<void>
  /**
   * Marks the challenge with this nonce used and returns it. MUST be atomic: of any number of
   * concurrent or later takes of one nonce, at most one returns `fresh`. A used challenge
   * answers `used` until it has expired at least; after that it may be forgotten (`unknown`).
   */
  take: (nonce: string) => Promise<ChallengeTake>
  /** Forgets challenges that expired before `now`. */
  purgeExpired: (now: number) => Promise<void>
}

/** An in-memory store: right for one process; a restart forgets outstanding challenges. */
export function createMemoryChallengeStore ({ maxEntries = 10_000 } = {}): ChallengeStore {
  const entries = new Map<string, { challenge: IssuedChallenge, used: boolean }>()
  return {
    async put (challenge) {
      if (entries.has(challenge.nonce)) throw new InternalError('duplicate challenge nonce')
      if (entries.size >= maxEntries) {
        // Oldest first (Map keeps insertion order): a flood of logins evicts stale challenges,
        // which then fail as unknown rather than growing memory without bound.
        const oldest = entries.keys().next().value
        if (oldest !== undefined) entries.delete(oldest)
      }
      entries.set(challenge.nonce, { challenge, used: false })
    },
    async take (nonce) {
      const entry = entries.get(nonce)
      if (entry === undefined) return { status: 'unknown' }
      if (entry.used) return { status: 'used' }
      entry.used = true
      return { status: 'fresh', challenge: entry.challenge }
    },
    async purgeExpired (now) {
      for (const [nonce, entry] of entries) if (entry.challenge.expiresAt < now) entries.delete(nonce)
    }
  }
}

export interface LoginChallengesInit {
  /** The console's origin as browsers send it, e.g. "https://console.example:8443". */
  origin: string
  store?: ChallengeStore
  ttlMs?: number
  now?: () => number
}

export interface LoginChallenges {
  issue: (user: string, attemptId: string) => Promise<LoginChallenge>
  /**
   * Checks a response and consumes its challenge. `certificateFor` is asked for the
   * certificate of the user the challenge was issued to (never the user the response names).
   * Resolves with that user and attempt, or rejects with ChallengeUnknownError,
   * ChallengeReplayedError, ChallengeExpiredError, ChallengeMismatchError,
   * CertificateRejectedError or SignatureInvalidError.
   */
  verify: (response: LoginResponse, certificateFor: (user: string) => Promise<OperatorCertificate | string> | OperatorCertificate | string) => Promise<{ user: string, attemptId: string }>
}

export function createLoginChallenges (init: LoginChallengesInit): LoginChallenges {
  const origin = canonicalOrigin(init.origin)
  const store = init.store ?? createMemoryChallengeStore()
  const ttlMs = init.ttlMs ?? DEFAULT_CHALLENGE_TTL_MS
  const now = init.now ?? Date.now

  return {
    async issue (user, attemptId) {
      const issuedAt = now()
      await store.purgeExpired(issuedAt)
      const challenge: IssuedChallenge = {
        version: 1,
        nonce: randomBytes(NONCE_BYTES).toString('base64url'),
        user: user.normalize('NFC'),
        attemptId,
        origin,
        issuedAt,
        expiresAt: issuedAt + ttlMs
      }
      await store.put(challenge)
      const { origin: _o, issuedAt: _i, ...wire } = challenge
      return wire
    },

    async verify (response, certificateFor) {
      const taken = await store.take(String(response.nonce))
      if (taken.status === 'unknown') throw new ChallengeUnknownError()
      if (taken.status === 'used') throw new ChallengeReplayedError()
      const challenge = taken.challenge
      const at = now()
      if (at > challenge.expiresAt) throw new ChallengeExpiredError()
      if (String(response.user).normalize('NFC') !== challenge.user) throw new ChallengeMismatchError('user')
      if (response.attemptId !== challenge.attemptId) throw new ChallengeMismatchError('attempt')
      let responseOrigin: string
      try {
        responseOrigin = canonicalOrigin(String(response.origin))
      } catch (err) {
        throw new ChallengeMismatchError('origin', { cause: err })
      }
      if (responseOrigin !== challenge.origin) throw new ChallengeMismatchError('origin')

      const enrolled = await certificateFor(challenge.user)
      // Re-checked at login: an enrolled certificate that has since expired no longer logs in.
      const cert = checkOperatorCertificate(typeof enrolled === 'string' ? enrolled : enrolled.pem, { now: new Date(at) })
      const message = loginChallengeMessage({ ...challenge, origin: challenge.origin })
      let ok = false
      try {
        ok = verifySignature('sha256', message, new X509Certificate(cert.pem).publicKey, Buffer.from(String(response.signature), 'base64'))
      } catch (err) {
        throw new SignatureInvalidError({ cause: err })
      }
      if (!ok) throw new SignatureInvalidError()
      return { user: challenge.user, attemptId: challenge.attemptId }
    }
  }
}

/** The bytes the token signs (format above). `origin` must be the browser-reported origin. */
export function loginChallengeMessage (fields: { nonce: string, origin: string, user: string, attemptId: string, expiresAt: number }): Uint8Array {
  const nonce = Buffer.from(fields.nonce, 'base64url')
  if (nonce.length !== NONCE_BYTES) throw new TypeError(`a login nonce is ${NONCE_BYTES} bytes`)
  if (!Number.isSafeInteger(fields.expiresAt) || fields.expiresAt < 0) throw new TypeError('expiresAt must be a millisecond timestamp')
  const expires = Buffer.alloc(8)
  expires.writeBigUInt64BE(BigInt(fields.expiresAt))
  return new Uint8Array(Buffer.concat([
    Buffer.from(LOGIN_MESSAGE_MAGIC + '\0', 'latin1'),
    field(nonce),
    field(Buffer.from(canonicalOrigin(fields.origin), 'utf8')),
    field(Buffer.from(fields.user.normalize('NFC'), 'utf8')),
    field(Buffer.from(fields.attemptId, 'utf8')),
    expires
  ]))
}

/** The WHATWG serialisation of an http(s) origin; throws TypeError for anything else. */
export function canonicalOrigin (origin: string): string {
  const url = new URL(origin)
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin === 'null') throw new TypeError(`not an http(s) origin: ${origin}`)
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new TypeError(`an origin has no path, query or credentials: ${origin}`)
  }
  return url.origin
}

function field (bytes: Buffer): Buffer {
  if (bytes.length > 0xffff) throw new TypeError('a login message field is at most 65535 bytes')
  const len = Buffer.alloc(2)
  len.writeUInt16BE(bytes.length)
  return Buffer.concat([len, bytes])
}
