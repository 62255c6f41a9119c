import type { Clock } from '../clock/index.ts'

/**
 * The limits every password and USB-key check passes before a hash is computed (ASVS 2.2.1),
 * taken atomically so a burst is limited exactly like a sequence:
 * - per address: failures in the last `windowMs` plus checks under way may not reach
 *   `maxPerAddress` (else 429);
 * - per user name (known or not): checks run one at a time, in arrival order, each seeing the
 *   failures and lock of the ones before it; at most `maxWaitingPerName` wait (else 429).
 * Names that belong to no user are locked in memory like users are on disk, so the answers do
 * not tell which names exist.
 */
export interface LoginGate {
  /** Reserves a check from `ip`; throws (via `refuse`) when the address is at its limit. Call the returned release once the check ends. */
  enterAddress: (ip: string) => (() => void) | undefined
  /** Runs `check` after the checks of the same name that came before it; undefined when too many wait. */
  byName: <T>(name: string, check: () => Promise<T>) => Promise<T> | undefined
  addressFailure: (ip: string) => void
  /** A failure for a name no user has; returns the lock end when it locks now. */
  unknownFailure: (name: string) => Date | undefined
  unknownLockedUntil: (name: string) => Date | undefined
}

export interface LoginGateInit { maxPerAddress: number, maxFailures: number, windowMs: number, maxWaitingPerName?: number }

/** Names and addresses kept in memory at most; the oldest idle ones go first. */
const MAX_TRACKED = 10_000

export function createLoginGate (clock: Clock, init: LoginGateInit): LoginGate {
  const addresses = new Map<string, { failures: number[], inflight: number }>()
  const names = new Map<string, { queue: Promise<unknown>, waiting: number, failures: number[], lockedUntil?: number }>()
  const now = (): number => clock.now().getTime()
  const maxWaiting = init.maxWaitingPerName ?? init.maxFailures

  const trim = <V extends { failures: number[] }>(map: Map<string, V>, idle: (v: V) => boolean): void => {
    if (map.size <= MAX_TRACKED) return
    for (const [k, v] of map) {
      if (idle(v)) map.delete(k)
      if (map.size <= MAX_TRACKED * 0.9) break
    }
  }
  const address = (ip: string): { failures: number[], inflight: number } => {
    let a = addresses.get(ip)
    if (a === undefined) { a = { failures: [], inflight: 0 }; addresses.set(ip, a); trim(addresses, v => v.inflight === 0) }
    const cutoff = now() - init.windowMs
    a.failures = a.failures.filter(t => t > cutoff)
    return a
  }
  const nameState = (name: string): { queue: Promise<unknown>, waiting: number, failures: number[], lockedUntil?: number } => {
    const key = name.normalize('NFC').toLowerCase()
    let n = names.get(key)
    if (n === undefined) { n = { queue: Promise.resolve(), waiting: 0, failures: [] }; names.set(key, n); trim(names, v => v.waiting === 0 && (v.lockedUntil ?? 0) < now()) }
    const cutoff = now() - init.windowMs
    n.failures = n.failures.filter(t => t > cutoff)
    return n
  }

  return {
    enterAddress (ip) {
      const a = address(ip)
      if (a.failures.length + a.inflight >= init.maxPerAddress) return undefined
      a.inflight++
      let released = false
      return () => { if (!released) { released = true; a.inflight-- } }
    },
    byName (name, check) {
      const n = nameState(name)
      if (n.waiting >= maxWaiting) return undefined
      n.waiting++
      const run = n.queue.then(check, check).finally(() => { n.waiting-- })
      n.queue = run.catch(() => {})
      return run
    },
    addressFailure (ip) { address(ip).failures.push(now()) },
    unknownFailure (name) {
      const n = nameState(name)
      n.failures.push(now())
      if (n.failures.length < init.maxFailures) return undefined
      n.failures = []
      n.lockedUntil = now() + init.windowMs
      return new Date(n.lockedUntil)
    },
    unknownLockedUntil (name) {
      const until = nameState(name).lockedUntil
      return until !== undefined && until > now() ? new Date(until) : undefined
    }
  }
}

/**
 * Log and audit entries for refused logins, at most two per key and minute: the first refusal
 * at once, then one line that counts the rest (a burst of 300 throttled logins would otherwise
 * write 300 entries, each able to fire webhooks).
 */
export function createRefusalLog (clock: Clock, write: (key: string, first: boolean, count: number) => Promise<void>, windowMs = 60_000): { refused: (key: string) => void } {
  const open = new Map<string, { count: number }>()
  return {
    refused (key) {
      const w = open.get(key)
      if (w !== undefined) { w.count++; return }
      const entry = { count: 0 }
      open.set(key, entry)
      void write(key, true, 1).catch(() => {})
      clock.at(new Date(clock.now().getTime() + windowMs), async () => {
        open.delete(key)
        if (entry.count > 0) await write(key, false, entry.count).catch(() => {})
      })
    }
  }
}
