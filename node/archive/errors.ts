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
