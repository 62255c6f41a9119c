// Real tape hardware's ports (tape-port.ts): /dev/nst* and /dev/sg* opened with Node's fs, and
// the two system calls Node lacks from the native addon (native/tape-ioctl.c, built by
// native/build.js at `npm install`). The addon is loaded only when a real device is opened; a
// machine without it (no compiler at install time, not Linux) gets a clear error then.
import { closeSync, constants, openSync, readSync, writeSync } from 'node:fs'
import { createRequire } from 'node:module'
import { constants as osConstants } from 'node:os'
import { join } from 'node:path'
import { projectRoot } from '../project-root.ts'
import { ArchiveDeviceUnavailableError } from './errors.ts'
import { errnoError, type SgDirection, type SgPort, type StPort } from './tape-port.ts'

interface Addon {
  ioctl: (fd: number, request: number, buf: Uint8Array | null) => number
  sgIo: (fd: number, cdb: Uint8Array, direction: number, data: Uint8Array | null, sense: Uint8Array, timeoutMs: number) => number | { status: number, hostStatus: number, driverStatus: number, resid: number, senseLength: number }
}

const ADDON = 'node/archive/native/build/Release/tape_ioctl.node'
const NAME_OF_ERRNO = new Map(Object.entries(osConstants.errno).map(([name, n]) => [n, name]))
const errnoName = (n: number): string => NAME_OF_ERRNO.get(n) ?? `errno ${n}`
let addon: Addon | undefined

/** The addon, loaded on first use; `device` names the tape library in the error when it is not built. */
export function tapeAddon (device: string): Addon {
  if (addon !== undefined) return addon
  const path = join(projectRoot(), ADDON)
  try {
    addon = createRequire(import.meta.url)(path) as Addon
  } catch (err) {
    throw new ArchiveDeviceUnavailableError(device, `the tape addon (${ADDON}) is not built, so real tape drives and changers cannot be driven; build it with "node node/archive/native/build.js" (needs a C compiler and make)`, { cause: err })
  }
  return addon
}

const DIRECTION: Record<SgDirection, number> = { none: -1, 'to-device': -2, 'from-device': -3 }

/**
 * Opens an `st` node read-write, or read-only when the cartridge is write-protected (the driver
 * refuses read-write with EROFS then). O_NONBLOCK: open does not wait for a cartridge.
 */
export function openStPort (device: string, path: string): StPort {
  const a = tapeAddon(device)
  let fd: number
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK)
  } catch (err) {
    if ((err as { code?: string }).code !== 'EROFS' && (err as { code?: string }).code !== 'EACCES') throw err
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
  }
  return {
    path,
    ioctl (request, buf) {
      const r = a.ioctl(fd, request, buf)
      if (r < 0) throw errnoError(errnoName(-r), 'ioctl', path)
    },
    read: buf => readSync(fd, buf, 0, buf.length, null),
    write: buf => writeSync(fd, buf, 0, buf.length, null),
    close: () => { closeSync(fd) }
  }
}

export function openSgPort (device: string, path: string): SgPort {
  const a = tapeAddon(device)
  const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK)
  return {
    path,
    sgIo (cdb, direction, data, timeoutMs) {
      const sense = new Uint8Array(64)
      const r = a.sgIo(fd, cdb, DIRECTION[direction], data ?? null, sense, timeoutMs)
      if (typeof r === 'number') throw errnoError(errnoName(-r), 'SG_IO', path)
      return { status: r.status, hostStatus: r.hostStatus, driverStatus: r.driverStatus, resid: r.resid, sense: sense.subarray(0, r.senseLength) }
    },
    close: () => { closeSync(fd) }
  }
}
