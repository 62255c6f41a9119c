// A TapeLibrary (tape-library.ts) on a SCSI medium changer and its `st` drives, as `mtx` drives
// one: INQUIRY and TEST UNIT READY to check it, the element address assignment page for where
// its slots and drives are, READ ELEMENT STATUS with volume tags for which barcode is where,
// and MOVE MEDIUM between a slot and a drive. Failed commands are worded from their sense data.
import { ArchiveDeviceInvalidError, ArchiveDeviceUnavailableError, TapeDeviceError } from './errors.ts'
import { decodeMtget, encodeMtop, MTGET_SIZE, MTIOCGET, MTIOCTOP, MtOp } from './mtio.ts'
import {
  describeSense, DEVICE_TYPE_CHANGER, elementAddressModeSenseCdb, ElementType, inquiryCdb, moveMediumCdb, parseElementAddressPage, parseElementStatus, parseInquiry,
  parseSense, readElementStatusCdb, SCSI_STATUS_GOOD, SenseKey, testUnitReadyCdb, type ElementAddresses, type ElementStatus, type ElementTypeCode, type Inquiry
} from './smc-commands.ts'
import { openStDrive, type StDrive } from './st-drive.ts'
import type { TapeLibrary } from './tape-library.ts'
import type { SgDirection, SgPort, StPort } from './tape-port.ts'

/** A MOVE MEDIUM can take a minute or more on a large library. */
const MOVE_TIMEOUT_MS = 10 * 60_000
const QUERY_TIMEOUT_MS = 60_000
/** How long a drive may take to thread a cartridge after MOVE MEDIUM before its st node reports it online. */
const LOAD_TIMEOUT_MS = 5 * 60_000

export interface ScsiTapeLibraryInit {
  /** The library's name, as errors give it. */
  device: string
  changer: SgPort
  /** Openers of the drives' `st` nodes, in the changer's drive order (data transfer element 0 first). */
  drives: Array<() => StPort>
  recordSize?: number
  /** How long to wait for a drive to report a cartridge online after moving one in (default 5 minutes). */
  loadTimeoutMs?: number
}

export interface ScsiTapeLibrary extends TapeLibrary {
  /** The changer's INQUIRY data. */
  readonly inquiry: Inquiry
  /** Slots and drives with their barcodes, as READ ELEMENT STATUS gives them now. */
  elements: () => ElementStatus[]
  /** Ends what every drive holds open and closes the ports. */
  close: () => void
}

export function openScsiTapeLibrary (init: ScsiTapeLibraryInit): ScsiTapeLibrary {
  const { device, changer } = init
  const loaded = new Map<number, StDrive>()

  const command = (name: string, cdb: Uint8Array, direction: SgDirection, data: Uint8Array | undefined, timeoutMs = QUERY_TIMEOUT_MS): void => {
    let r
    try {
      r = changer.sgIo(cdb, direction, data, timeoutMs)
    } catch (err) {
      throw new ArchiveDeviceUnavailableError(device, `the changer ${changer.path} did not take ${name} (${(err as { code?: string }).code ?? String(err)})`, { cause: err })
    }
    if (r.status === SCSI_STATUS_GOOD && r.hostStatus === 0 && (r.driverStatus & 0x0f) === 0) return
    const sense = parseSense(r.sense)
    if (sense === undefined) throw new TapeDeviceError(device, changer.path, name, `SCSI status ${r.status}, host status ${r.hostStatus}, driver status ${r.driverStatus}`)
    const what = describeSense(sense)
    if (sense.key === SenseKey.NOT_READY || sense.key === SenseKey.UNIT_ATTENTION) throw new ArchiveDeviceUnavailableError(device, `the changer ${changer.path} answered ${name} with ${what}`)
    throw new TapeDeviceError(device, changer.path, name, what)
  }
  const fetch = (name: string, cdb: Uint8Array, length: number): Uint8Array => {
    const data = new Uint8Array(length)
    command(name, cdb, 'from-device', data)
    return data
  }

  const inquiry = parseInquiry(fetch('INQUIRY', inquiryCdb(96), 96))
  if (inquiry.deviceType !== DEVICE_TYPE_CHANGER) throw new ArchiveDeviceInvalidError(`${changer.path} of tape library ${device} is not a medium changer (SCSI device type ${inquiry.deviceType}: ${inquiry.vendor} ${inquiry.product}); give the changer's /dev/sg node`)
  command('TEST UNIT READY', testUnitReadyCdb(), 'none', undefined)
  const addresses: ElementAddresses = parseElementAddressPage(fetch('MODE SENSE (element address assignment)', elementAddressModeSenseCdb(), 0xff))
  if (addresses.drive.count < init.drives.length) throw new ArchiveDeviceInvalidError(`The changer ${changer.path} of tape library ${device} has ${addresses.drive.count} drive(s); ${init.drives.length} were given`)
  const transport = addresses.transport.first

  const status = (type: ElementTypeCode, range: { first: number, count: number }): ElementStatus[] =>
    range.count === 0 ? [] : parseElementStatus(fetch('READ ELEMENT STATUS', readElementStatusCdb(type, range.first, range.count, 8 + 8 + 48 * range.count), 8 + 8 + 48 * range.count))
  const elements = (): ElementStatus[] => [...status(ElementType.STORAGE, addresses.storage), ...status(ElementType.DRIVE, addresses.drive)]
  const driveAddress = (d: number): number => addresses.drive.first + d
  const move = (from: number, to: number): void => { command(`MOVE MEDIUM ${from} to ${to}`, moveMediumCdb(transport, from, to), 'none', undefined, MOVE_TIMEOUT_MS) }

  /** Lets go of drive `d`'s cartridge (its open file ended), ejected, and moves it to its source slot or a free one. */
  const putBack = (d: number, all: ElementStatus[]): void => {
    const drive = all.find(e => e.type === ElementType.DRIVE && e.address === driveAddress(d))
    if (drive === undefined || !drive.full) return
    loaded.get(d)?.release()
    loaded.delete(d)
    // A drive ejects before the changer can take its cartridge (what `mt offline` does).
    const port = init.drives[d]()
    try { port.ioctl(MTIOCTOP, encodeMtop(MtOp.MTOFFL, 1)) } catch (err) {
      if ((err as { code?: string }).code !== 'ENOMEDIUM') throw new TapeDeviceError(device, port.path, 'MTOFFL', (err as { code?: string }).code ?? String(err), { cause: err })
    } finally { port.close() }
    const free = all.filter(e => e.type === ElementType.STORAGE && !e.full)
    const to = free.find(e => e.address === drive.source) ?? free[0]
    if (to === undefined) throw new ArchiveDeviceInvalidError(`Tape library ${device} has no free slot to put ${drive.barcode ?? 'the cartridge'} of drive ${d} back in`)
    move(drive.address, to.address)
    to.full = true
    drive.full = false
  }

  /**
   * Drive `d`'s port once its cartridge is threaded: a drive takes seconds to a minute after MOVE
   * MEDIUM. Opened afresh each time, as st reads a new cartridge's state on open.
   */
  const whenLoaded = (d: number): StPort => {
    const until = Date.now() + (init.loadTimeoutMs ?? LOAD_TIMEOUT_MS)
    for (;;) {
      const port = init.drives[d]()
      let online = false
      try {
        const b = new Uint8Array(MTGET_SIZE)
        port.ioctl(MTIOCGET, b)
        online = decodeMtget(b).online
      } catch (err) {
        port.close()
        throw new TapeDeviceError(device, port.path, 'MTIOCGET', (err as { code?: string }).code ?? String(err), { cause: err })
      }
      if (online || Date.now() >= until) return port
      port.close()
      // The tape calls are synchronous (doc/design.md "Real tape hardware"): wait without spinning.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000)
    }
  }

  return {
    inquiry,
    elements,
    cartridges: () => elements().flatMap(e => e.full && e.barcode !== undefined ? [e.barcode] : []),
    load (barcode, d = 0) {
      if (d >= init.drives.length) throw new ArchiveDeviceInvalidError(`Tape library ${device} has ${init.drives.length} drive(s) configured; there is no drive ${d}`)
      // A drive opened earlier lets go first: loading again reads the cartridge's state afresh (its tab may have moved).
      loaded.get(d)?.release()
      loaded.delete(d)
      let all = elements()
      const where = all.find(e => e.full && e.barcode === barcode)
      if (where?.type === ElementType.DRIVE && where.address === driveAddress(d)) {
        // Already in the drive: used where it is.
      } else {
        // As the virtual library does: whatever is in this drive, and the cartridge if it sits in another drive, go back to a slot first.
        putBack(d, all)
        if (where?.type === ElementType.DRIVE) putBack(where.address - addresses.drive.first, all)
        all = elements()
        const slot = all.find(e => e.type === ElementType.STORAGE && e.full && e.barcode === barcode)
        if (slot === undefined) throw new ArchiveDeviceUnavailableError(device, `no cartridge ${barcode} in a slot of the library (its barcode label was not read in any slot)`)
        move(slot.address, driveAddress(d))
      }
      const drive = openStDrive({ device, barcode, port: whenLoaded(d), recordSize: init.recordSize })
      loaded.set(d, drive)
      return drive
    },
    unload (d = 0) {
      putBack(d, elements())
    },
    close () {
      let first: unknown
      for (const [d, drive] of loaded) {
        try { drive.release() } catch (err) { first ??= err }
        loaded.delete(d)
      }
      changer.close()
      if (first !== undefined) throw first
    }
  }
}
