// A device's write lock kept as objects on its medium (issue 16), for a medium shared between
// processes that has no exclusive create: S3, whose conditional PUT (If-None-Match) not every
// server honours (s3rver, the one the tests run, ignores it). restic's lock protocol is the
// model: it needs only PUT, LIST, GET and DELETE, each seen in order by the others. Every writer
// puts its own object `locks/<random id>.json`, then lists `locks/`: with no other live lock
// there, it holds the device; with one, it deletes its own, waits a jittered while and tries
// again (two that race both see each other and both back off). The holder writes its object again
// every `refreshMs`; one not written for `staleMs` — or left by a process of this host that is
// gone — is stale: it does not count, and the next writer deletes it. Release deletes the object.
// Format and protocol: doc/design.md "Archive device layout" ("One writer at a time").
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { throwIfAborted } from '../../crypto/index.ts'
import type { ArchiveMedium } from './archive-medium.ts'
import { ArchiveDamagedError, ArchiveFormatError } from './errors.ts'

export const LOCKS = 'locks/'

/** A lock object, version 1: who holds the device, since when, and when it last said so. */
export interface LockRecord {
  version: 1
  host: string
  pid: number
  purpose: string
  /** When the lock was taken (ISO 8601). */
  since: string
  /** When the holder last wrote the object (ISO 8601); staleness counts from here. */
  time: string
  /** Written over a lock the medium would not delete (a bucket's default retention): it does not count. */
  released?: true
}

export function encodeLockRecord (r: LockRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(r))
}

export function decodeLockRecord (bytes: Uint8Array): LockRecord {
  let v: unknown
  try { v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) } catch (err) { throw new ArchiveFormatError('a lock object that is not JSON', { cause: err }) }
  const r = v as Partial<LockRecord>
  if (r.version !== 1) throw new ArchiveFormatError(`a lock object of version ${String(r.version)}`)
  if (typeof r.host !== 'string' || !Number.isInteger(r.pid) || typeof r.purpose !== 'string' || typeof r.since !== 'string' || !Number.isFinite(Date.parse(r.time ?? ''))) throw new ArchiveFormatError('a lock object without host, pid, purpose, since and time')
  return { version: 1, host: r.host, pid: r.pid!, purpose: r.purpose, since: r.since, time: r.time!, ...(r.released === true ? { released: true as const } : {}) }
}

export interface LockObjectsOptions {
  purpose: string
  signal?: AbortSignal
  /** Told once, before waiting, who holds the device (undefined: a lock object that does not decode) and which object is theirs. */
  onWait?: (holder: LockRecord | undefined, name: string) => void | Promise<void>
  /** Mean pause between tries (default 1 s); each is jittered by ±50 % so racing writers part. */
  pollMs?: number
  /** How often the holder writes its object again (default 60 s). */
  refreshMs?: number
  /** A lock object not written for this long is stale (default 5 × refreshMs). */
  staleMs?: number
}

/**
 * Between a writer's PUT and its LIST: a server whose listing lags its writes still shows each
 * racer the other's object (restic waits the same 200 ms).
 */
const SETTLE_MS = 200

/** Waits `ms`, or less when `signal` stops it (the caller's throwIfAborted then says so). */
export const pause = async (ms: number, signal?: AbortSignal): Promise<void> => await new Promise((resolve) => {
  if (signal?.aborted === true) { resolve(); return }
  const stop = (): void => { clearTimeout(timer); resolve() }
  const timer = setTimeout(() => { signal?.removeEventListener('abort', stop); resolve() }, ms)
  signal?.addEventListener('abort', stop, { once: true })
})

/** Whether process `pid` of this host is running (one of another user: EPERM, yet running). */
export const alive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

/** Whether `r` no longer counts: released, not written for `staleMs`, or its process (on this host, not this one) gone. */
export function isStale (r: LockRecord, staleMs: number, now = Date.now()): boolean {
  if (r.released === true) return true
  if (now - Date.parse(r.time) > staleMs) return true
  return r.host === hostname() && r.pid !== process.pid && !alive(r.pid)
}

/** Takes the write lock kept on `medium`; resolves with its release once held. A stop of `signal` ends the wait (OperationAbortedError). */
export async function lockObjects (medium: ArchiveMedium, options: LockObjectsOptions): Promise<() => Promise<void>> {
  const refreshMs = options.refreshMs ?? 60_000
  const staleMs = options.staleMs ?? 5 * refreshMs
  const pollMs = options.pollMs ?? 1000
  const since = new Date().toISOString()
  const record = (): LockRecord => ({ version: 1, host: hostname(), pid: process.pid, purpose: options.purpose, since, time: new Date().toISOString() })
  const unretained = { retain: false as const }
  let told = false
  for (;;) {
    throwIfAborted(options.signal, `Waiting for ${options.purpose}`)
    const mine = `${LOCKS}${randomBytes(16).toString('hex')}.json`
    await medium.write(mine, encodeLockRecord(record()), { ...unretained, signal: options.signal })
    let held: { name: string, holder: LockRecord | undefined } | undefined
    try {
      await pause(SETTLE_MS, options.signal)
      throwIfAborted(options.signal, `Waiting for ${options.purpose}`)
      for await (const name of medium.list(LOCKS, { signal: options.signal })) {
        if (name === mine || !name.endsWith('.json')) continue
        let holder: LockRecord | undefined
        try {
          holder = decodeLockRecord(await medium.read(name, { signal: options.signal }))
        } catch (err) {
          if (err instanceof ArchiveDamagedError) continue // released between the listing and the read
          throwIfAborted(options.signal, `Waiting for ${options.purpose}`)
          // Not decoded, or not read this time (a server may drop a read of an object being written
          // again): it counts, its holder unknown, and the next round reads it again.
        }
        if (holder !== undefined && isStale(holder, staleMs)) {
          // Best effort: a stale lock does not count whether or not it can be deleted.
          await medium.remove?.(name, { signal: options.signal }).catch(() => {})
          continue
        }
        // The wait names a holder it could read, where there is one.
        if (held === undefined || (held.holder === undefined && holder !== undefined)) held = { name, holder }
      }
    } catch (err) {
      await medium.remove?.(mine).catch(() => {})
      throw err
    }
    if (held === undefined) return holding(medium, mine, record, refreshMs)
    // Not with the signal: a stop must not leave this writer's object behind to block the next.
    await medium.remove?.(mine)
    if (!told) { told = true; await options.onWait?.(held.holder, held.name) }
    await pause(pollMs * (0.5 + Math.random()), options.signal)
  }
}

/** The held lock: its object written again every `refreshMs` until released. */
function holding (medium: ArchiveMedium, name: string, record: () => LockRecord, refreshMs: number): () => Promise<void> {
  let refreshing: Promise<void> = Promise.resolve()
  let lost = false
  const refresh = async (): Promise<void> => {
    // One deleted meanwhile was judged stale by another writer: written again it would be a second holder's.
    try { await medium.read(name, { length: 1 }) } catch (err) { if (err instanceof ArchiveDamagedError) lost = true; return }
    await medium.write(name, encodeLockRecord(record()), { retain: false }).catch(() => {})
  }
  const timer = setInterval(() => { if (!lost) refreshing = refreshing.then(refresh) }, refreshMs)
  // A holder's refresh does not keep a process alive that has nothing else to do.
  timer.unref()
  return async () => {
    clearInterval(timer)
    await refreshing
    if (lost) return
    const r = await medium.remove?.(name)
    // A bucket whose default retention held the object: a later version says it no longer counts.
    if (r === 'locked') await medium.write(name, encodeLockRecord({ ...record(), released: true }), { retain: false })
  }
}
