// One writer at a time on an archive device (issue 16): an archive run deduplicates against the
// packs it finds when it opens the device, and expiry removes packs no recorded set needs — so a
// run that expires sets while another run, which found blocks in those packs, has not yet
// recorded its set would delete what that set needs. Whoever writes to a device (an archive job,
// `cairn archive run`) holds its lock from before it reads the catalogues until it has recorded
// its set and expired; a second writer waits.
//   - A folder device, and a tape library (the library as a whole: one changer), have a lock file
//     (`<folder>/lock`, `<library>/lock`) made with O_EXCL: `{ version: 1, host, pid, purpose,
//     since }`. One left by a process of this host that is gone is taken over; one of another
//     host stays until removed by hand (the wait says which file and who holds it).
//   - An S3 device has lock objects in the bucket (lock-objects.ts, restic's protocol: no
//     conditional PUT, which not every S3 server honours): a holder refreshes its object, and one
//     not refreshed for five minutes, or whose process on this host is gone, is taken over.
//   - Every device is also locked within this process (two archive tasks of one daemon on one
//     bucket run one after the other, without a round of lock objects between them).
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { open, readFile, rename, rm, stat } from 'node:fs/promises'
import { throwIfAborted, type AbortOptions } from '../../crypto/index.ts'
import type { ArchiveMedium } from './archive-medium.ts'
import { alive, lockObjects, pause } from './lock-objects.ts'

export interface LockHolder { host: string, pid: number, purpose: string, since: string }

export interface LockOptions extends AbortOptions {
  /** What the holder does, for whoever waits ("archive job …"). */
  purpose: string
  /**
   * Told once when the device is held by someone else, before waiting: who (a lock file or object
   * that does not decode: undefined) and `where` their lock is, to remove by hand if that process
   * is gone (held by this process: undefined).
   */
  onWait?: (holder: LockHolder | undefined, where: string | undefined) => void | Promise<void>
  /** How often to look again (default 1 s). */
  pollMs?: number
  /** Lock objects (S3): how often the holder writes its object again (default 60 s); one not written for 5 × this is stale. */
  refreshMs?: number
}

/** Where a device's lock lives between processes: a lock file, or lock objects on its medium (`where`: how to name them, e.g. s3://bucket/prefix/). */
export type LockPlace = { file: string } | { medium: ArchiveMedium, where: string }

export type Release = () => Promise<void>

const inProcess = new Map<string, { done: Promise<void>, holder: LockHolder }>()

const me = (purpose: string): LockHolder => ({ host: hostname(), pid: process.pid, purpose, since: new Date().toISOString() })

/** The lock of `key` within this process: waits for the holder before it. */
async function lockHere (key: string, options: LockOptions): Promise<Release> {
  let told = false
  for (;;) {
    const held = inProcess.get(key)
    if (held === undefined) break
    if (!told) { told = true; await options.onWait?.(held.holder, undefined) }
    await Promise.race([held.done, pause(options.pollMs ?? 1000, options.signal)])
    throwIfAborted(options.signal, `Waiting for ${options.purpose}`)
  }
  let done!: () => void
  inProcess.set(key, { done: new Promise<void>(resolve => { done = resolve }), holder: me(options.purpose) })
  return async () => { inProcess.delete(key); done() }
}

/** The lock file `file`: made with O_EXCL; a stale one (its process on this host gone, or never written for a minute) taken over. */
async function lockFile (file: string, options: LockOptions): Promise<Release> {
  const body = JSON.stringify({ version: 1, ...me(options.purpose), token: randomBytes(8).toString('hex') })
  let told = false
  for (;;) {
    throwIfAborted(options.signal, `Waiting for ${options.purpose}`)
    try {
      const h = await open(file, 'wx', 0o644)
      try { await h.writeFile(body); await h.sync() } finally { await h.close() }
      return async () => { if (await readFile(file, 'utf8').catch(() => '') === body) await rm(file, { force: true }) }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    let holder: LockHolder | undefined
    try { holder = JSON.parse(await readFile(file, 'utf8')) as LockHolder } catch { holder = undefined }
    const age = await stat(file).then(s => Date.now() - s.mtimeMs, () => 0)
    const stale = holder !== undefined ? holder.host === hostname() && holder.pid !== process.pid && !alive(holder.pid) : age > 60_000
    if (stale) {
      // Moved aside first: of two processes taking it over, one renames it, the other finds it gone and tries again.
      const aside = `${file}.stale-${randomBytes(6).toString('hex')}`
      if (await rename(file, aside).then(() => true, () => false)) await rm(aside, { force: true })
      continue
    }
    if (!told) { told = true; await options.onWait?.(holder, file) }
    await pause(options.pollMs ?? 1000, options.signal)
  }
}

/**
 * Takes the device's write lock: within this process by `key`, and between processes at
 * `place` where the device has one. Resolves with its release once held; waits meanwhile (a
 * stop of the caller's signal ends the wait).
 */
export async function lockDevice (key: string, place: LockPlace | undefined, options: LockOptions): Promise<Release> {
  const here = await lockHere(key, options)
  if (place === undefined) return here
  try {
    const there = 'file' in place
      ? await lockFile(place.file, options)
      : await lockObjects(place.medium, {
        ...options,
        onWait: async (holder, name) => { await options.onWait?.(holder, place.where + name) }
      })
    return async () => { try { await there() } finally { await here() } }
  } catch (err) { await here(); throw err }
}
