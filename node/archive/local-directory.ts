// Archive medium on a local folder (a second disk or a NAS mount, F20 "local directory"): each
// object a file, written under a temporary name, synced, then renamed into place and the
// folder synced, so a crash leaves it whole or absent. A deferred write (packs) skips both
// syncs; `sync` does them later for many files at once.
import { closeSync, constants, fsyncSync, openSync } from 'node:fs'
import { copyFile, mkdir, open, readdir, rename, rm, stat, truncate } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { isDiskFull } from '../../chunkstore/index.ts'
import { throwIfAborted, type AbortOptions } from '../../crypto/index.ts'
import type { ArchiveMedium } from './archive-medium.ts'
import { ArchiveDamagedError, ArchiveDeviceFullError, ArchiveDeviceInvalidError, ArchiveDeviceUnavailableError } from './errors.ts'

export interface LocalDirectoryInit {
  /** The device's name. */
  device: string
  /** The folder; it must exist (a mount point that is not mounted must not be filled instead). */
  dir: string
}

/**
 * Copies, writes and syncs at once: two copies keep both cores of a small machine busy in the
 * kernel, and two syncs behind them (the pack store syncs one batch while it copies the next)
 * fill libuv's pool of four without making a copy wait for a thread.
 */
const AT_ONCE = 2

const syncDir = (dir: string): void => {
  const fd = openSync(dir, constants.O_RDONLY)
  try { fsyncSync(fd) } finally { closeSync(fd) }
}

export async function localDirectoryMedium (init: LocalDirectoryInit): Promise<ArchiveMedium> {
  const { device, dir } = init
  const st = await stat(dir).catch(() => undefined)
  if (st?.isDirectory() !== true) throw new ArchiveDeviceUnavailableError(device, `the folder ${dir} does not exist (mount the disk or share there, or create the folder)`)
  const fail = (err: unknown): never => {
    if (isDiskFull(err)) throw new ArchiveDeviceFullError(device, { cause: err })
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') throw new ArchiveDeviceUnavailableError(device, `${dir} refuses writes (${code})`, { cause: err })
    throw err
  }
  /** Folders made (or found) by this process: a run writes dozens of objects into the same few. */
  const made = new Set<string>()
  /** Fills a temporary file beside `name`, syncs it (unless deferred), renames it into place and syncs the folder. */
  const place = async (name: string, fill: (temp: string) => Promise<void>, options?: AbortOptions & { defer?: boolean }): Promise<void> => {
    throwIfAborted(options?.signal, `Writing ${name} to ${device}`)
    const path = join(dir, name)
    const temp = join(dirname(path), `.tmp-${randomBytes(6).toString('hex')}`)
    try {
      if (!made.has(dirname(path))) {
        await mkdir(dirname(path), { recursive: true })
        made.add(dirname(path))
      }
      await fill(temp)
      if (options?.defer !== true) {
        const fh = await open(temp, 'r')
        try { await fh.sync() } finally { await fh.close() }
      }
      await rename(temp, path)
      if (options?.defer !== true) syncDir(dirname(path))
    } catch (err) {
      await rm(temp, { force: true })
      fail(err)
    }
  }
  return {
    device,
    concurrency: AT_ONCE,
    async write (name, bytes, options) {
      await place(name, async temp => {
        const fh = await open(temp, 'wx', 0o600)
        try { await fh.writeFile(bytes) } finally { await fh.close() }
      }, options)
    },
    /** The kernel copies (copy_file_range, as `cp` does): the bytes never pass through this process. */
    async copyFile (name, path, length, options) {
      await place(name, async temp => {
        await copyFile(path, temp, constants.COPYFILE_EXCL)
        const size = (await stat(temp)).size
        if (size < length) throw new ArchiveDeviceInvalidError(`${path} holds ${size} bytes, fewer than the ${length} to copy to ${device}`)
        if (size > length) await truncate(temp, length)
      }, options)
    },
    localPath: name => join(dir, name),
    async read (name, options = {}) {
      throwIfAborted(options.signal, `Reading ${name} from ${device}`)
      const fh = await open(join(dir, name), 'r').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') throw new ArchiveDamagedError(device, name, 'it is missing', { cause: err })
        throw err
      })
      try {
        const offset = options.offset ?? 0
        const length = options.length ?? (await fh.stat()).size - offset
        const out = Buffer.allocUnsafe(Math.max(0, length))
        const { bytesRead } = await fh.read(out, 0, out.length, offset)
        if (bytesRead < out.length) throw new ArchiveDamagedError(device, name, `${bytesRead} of ${out.length} bytes at ${offset} are there: cut off`)
        return out
      } finally { await fh.close() }
    },
    /** Each file synced (several at once, so the disk sees them together), then each folder once. */
    async sync (names, options) {
      throwIfAborted(options?.signal, `Syncing ${device}`)
      try {
        for (let at = 0; at < names.length; at += AT_ONCE) {
          await Promise.all(names.slice(at, at + AT_ONCE).map(async n => {
            const fh = await open(join(dir, n), 'r')
            try { await fh.sync() } finally { await fh.close() }
          }))
        }
        for (const d of new Set(names.map(n => dirname(join(dir, n))))) syncDir(d)
      } catch (err) { fail(err) }
    },
    async remove (name, options) {
      throwIfAborted(options?.signal, `Removing ${name} from ${device}`)
      const path = join(dir, name)
      try {
        await rm(path, { force: true })
        syncDir(dirname(path))
      } catch (err) { fail(err) }
      return 'removed'
    },
    async * list (prefix, options) {
      const names = await readdir(join(dir, prefix)).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return []
        throw err
      })
      for (const n of names) {
        throwIfAborted(options?.signal, `Listing ${device}`)
        if (!n.startsWith('.tmp-')) yield `${prefix}${n}`
      }
    }
  }
}
