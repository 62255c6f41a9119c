// The low-level face of tape hardware that the `st` drive (st-drive.ts) and the SCSI changer
// (scsi-changer.ts) are written against: exactly the system calls they make. Two things give
// it: the device nodes through the native addon (tape-ioctl.ts), and the virtual tape library's
// device face (vtl-device-face.ts), which emulates the kernel's st driver and a changer so the
// same code runs in tests.
import { ErrnoError } from './errors.ts'

/** An `st` device node (/dev/nstN: no rewind on close), opened. */
export interface StPort {
  /** The device node, as errors name it. */
  readonly path: string
  /** ioctl(2) with MTIOCTOP/MTIOCGET/MTIOCPOS; throws an error with the errno's `code` (EIO, ENOSPC, EACCES, …). */
  ioctl: (request: number, buf: Uint8Array) => void
  /** read(2): bytes read, 0 at a filemark (then positioned after it); throws with `code` (EIO at end of data). */
  read: (buf: Uint8Array) => number
  /** write(2) of whole records: bytes written; throws with `code` (ENOSPC at the early warning, EACCES write-protected). */
  write: (buf: Uint8Array) => number
  close: () => void
}

export type SgDirection = 'none' | 'to-device' | 'from-device'

export interface SgResult {
  /** SCSI status: 0 GOOD, 2 CHECK CONDITION (then `sense`). */
  status: number
  sense: Uint8Array
  hostStatus: number
  driverStatus: number
  /** Bytes of `data` not transferred. */
  resid: number
}

/** A SCSI generic node (/dev/sgN) of a medium changer, opened. */
export interface SgPort {
  readonly path: string
  /** The SG_IO ioctl; throws with the errno's `code` when the command could not be sent at all. */
  sgIo: (cdb: Uint8Array, direction: SgDirection, data: Uint8Array | undefined, timeoutMs: number) => SgResult
  close: () => void
}

export const errnoError = (code: string, syscall: string, path: string): ErrnoError => new ErrnoError(code, syscall, path)
