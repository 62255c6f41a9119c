// Errors of archive devices (F20). Each names the device and what to do; none of them
// changes what the device held before.
import { CairnError, type CairnErrorOptions } from '../../crypto/index.ts'

/** The device's medium cannot be reached or read at all (a missing folder, an unmounted NAS). */
export class ArchiveDeviceUnavailableError extends CairnError {
  static override readonly code = 'ARCHIVE_DEVICE_UNAVAILABLE'
  override readonly name = 'ArchiveDeviceUnavailableError'
  constructor (device: string, detail: string, options?: CairnErrorOptions) {
    super(`Archive device ${device} cannot be used: ${detail}. Nothing archived before is lost; once that is put right, "cairn archive device test" checks it.`, { ...options, params: { device, detail } })
  }
}

/** The device is full: what was archived before is kept; free space or add a device and run again. */
export class ArchiveDeviceFullError extends CairnError {
  static override readonly code = 'ARCHIVE_DEVICE_FULL'
  override readonly name = 'ArchiveDeviceFullError'
  constructor (device: string, options?: CairnErrorOptions) {
    super(`Archive device ${device} is full. What was archived before is kept and intact; free space on it (or choose another device) and run the archive again: it continues where it stopped.`, { ...options, params: { device } })
  }
}

/** A pack or catalogue on the device does not decode: damaged or not written by Cairn. */
export class ArchiveDamagedError extends CairnError {
  static override readonly code = 'ARCHIVE_DAMAGED'
  override readonly name = 'ArchiveDamagedError'
  constructor (device: string, what: string, detail: string, options?: CairnErrorOptions) {
    super(`Archive device ${device}: ${what} is damaged (${detail}). Run "cairn archive verify" to see which blocks are affected; an archive run writes them again from the store.`, { ...options, params: { device, what, detail } })
  }
}

/** A cartridge's write-protect tab is set: nothing was written to it. */
export class TapeWriteProtectedError extends CairnError {
  static override readonly code = 'TAPE_WRITE_PROTECTED'
  override readonly name = 'TapeWriteProtectedError'
  constructor (device: string, barcodes: string[], options?: CairnErrorOptions) {
    super(`Tape library ${device}: no cartridge of the pool can be written; ${barcodes.join(', ')} ${barcodes.length === 1 ? 'is' : 'are'} write-protected. Slide the write-protect tab back (or add a writable cartridge to the pool) and run again; nothing on the tapes was changed.`, { ...options, params: { device, barcodes: barcodes.join(',') } })
  }
}

/** The cartridge in the drive is not the one the changer (or the catalogue) says it is. */
export class WrongCartridgeError extends CairnError {
  static override readonly code = 'TAPE_WRONG_CARTRIDGE'
  override readonly name = 'WrongCartridgeError'
  constructor (device: string, expected: string, found: string, options?: CairnErrorOptions) {
    super(`Tape library ${device}: the cartridge in slot for ${expected} is labelled ${found}. Put ${expected} back in its slot (or run an inventory of the library) and run again; nothing was written.`, { ...options, params: { device, expected, found } })
  }
}

/** The end of the medium was reached: the bytes of this write were not recorded on it. */
export class TapeEndOfMediaError extends CairnError {
  static override readonly code = 'TAPE_END_OF_MEDIA'
  override readonly name = 'TapeEndOfMediaError'
  constructor (barcode: string, options?: CairnErrorOptions) {
    super(`Cartridge ${barcode} is full (end of medium). The archive continues on the next cartridge of the pool; load one if there is none.`, { ...options, params: { barcode } })
  }
}

export class ArchiveDeviceNotFoundError extends CairnError {
  static override readonly code = 'ARCHIVE_DEVICE_NOT_FOUND'
  override readonly name = 'ArchiveDeviceNotFoundError'
  constructor (device: string, options?: CairnErrorOptions) {
    super(`No archive device named ${device}. "cairn archive device list" shows them; "cairn archive device add" adds one.`, { ...options, params: { device } })
  }
}

export class ArchiveDeviceInvalidError extends CairnError {
  static override readonly code = 'ARCHIVE_DEVICE_INVALID'
  override readonly name = 'ArchiveDeviceInvalidError'
  constructor (detail: string, options?: CairnErrorOptions) {
    super(`${detail}. Nothing was changed.`, { ...options, params: { detail } })
  }
}

/** Bytes that are not a pack, catalogue or tar header of the version this reads; the caller names the device and the object. */
export class ArchiveFormatError extends CairnError {
  static override readonly code = 'ARCHIVE_FORMAT_INVALID'
  override readonly name = 'ArchiveFormatError'
  constructor (detail: string, options?: CairnErrorOptions) {
    super(`Not an archive object this version reads: ${detail}.`, { ...options, params: { detail } })
  }
}

/** A tape drive or medium changer refused a command (SCSI sense, or an errno of the `st` driver) for a reason other than those above. */
export class TapeDeviceError extends CairnError {
  static override readonly code = 'TAPE_DEVICE_FAILED'
  override readonly name = 'TapeDeviceError'
  constructor (device: string, node: string, command: string, detail: string, options?: CairnErrorOptions) {
    super(`Tape library ${device}: ${command} on ${node} failed: ${detail}. Check the library's panel or log (and \`mt -f ${node} status\` or \`mtx -f ${node} status\`), then run again; what was archived before is intact.`, { ...options, params: { device, node, command, detail } })
  }
}

/**
 * A system call's failure as a tape port (tape-port.ts) reports it, shaped like Node's own
 * (`code` the errno's name), so the addon's calls and fs's read/write fail alike. Not a
 * CairnError: it never leaves the tape code, where the drive and the changer turn it into one
 * naming the device.
 */
export class ErrnoError extends Error {
  override readonly name = 'ErrnoError'
  constructor (readonly code: string, readonly syscall: string, readonly path: string) {
    super(`${code}: ${syscall} ${path}`)
  }
}
