// The virtual tape library's second face: the low-level ports (tape-port.ts) of a SCSI medium
// changer and of Linux `st` drives, over the library's own files. It reads the bytes the
// device-control layer builds (mtop, CDBs) and answers as the kernel's st driver and a changer
// would (mtget, element status, sense data, errno), so that the code written for real hardware
// (st-drive.ts, scsi-changer.ts) runs in tests and on machines without hardware.
//
// What it emulates, and how a real st driver compares:
// - Position is a file number and a byte in it; a filemark takes no bytes of the image. Records
//   are the block size set with MTSETBLK; reads and writes are whole records.
// - Writing (data or filemarks) anywhere makes that point the end of data, as on tape.
// - Rewinding, spacing back or taking the drive offline right after writing writes a filemark
//   first, as st does.
// - The cartridge's capacity is the early-warning point: the first write that would go past it
//   records nothing and fails with ENOSPC; after that, EW_ZONE bytes more are accepted (to end
//   the file), then EIO.
import { closeSync, fsyncSync, openSync, readSync, statSync, writeSync } from 'node:fs'
import { cartridgeImage, readCartridgeState, readLibraryState, writeCartridgeState, writeLibraryState, type CartridgeState } from './virtual-tape-library.ts'
import { decodeMtop, encodeMtget, encodeMtpos, Gmt, MTIOCGET, MTIOCPOS, MTIOCTOP, MtOp } from './mtio.ts'
import {
  decodeMoveMediumCdb, decodeReadElementStatusCdb, DEVICE_TYPE_CHANGER, ElementType, encodeElementAddressPage, encodeElementStatus, encodeInquiry, encodeSense,
  ScsiOp, SCSI_STATUS_CHECK_CONDITION, SCSI_STATUS_GOOD, SenseKey, type ElementStatus
} from './smc-commands.ts'
import { errnoError, type SgPort, type SgResult, type StPort } from './tape-port.ts'

export const VTL_STORAGE_BASE = 0x1000
export const VTL_DRIVE_BASE = 0x100
const EW_ZONE_RECORDS = 4

export interface VtlDeviceFace {
  /** The changer, as if /dev/sgN. */
  changer: SgPort
  /** Drive `i`, as if /dev/nst<i>. */
  drive: (i: number) => StPort
}

export function vtlDeviceFace (dir: string): VtlDeviceFace {
  return { changer: vtlChanger(dir), drive: i => vtlStDrive(dir, i) }
}

function vtlChanger (dir: string): SgPort {
  const path = `${dir}#changer`
  const good = (resid = 0): SgResult => ({ status: SCSI_STATUS_GOOD, sense: new Uint8Array(0), hostStatus: 0, driverStatus: 0, resid })
  const check = (key: number, asc: number, ascq: number): SgResult => ({ status: SCSI_STATUS_CHECK_CONDITION, sense: encodeSense({ key, asc, ascq }), hostStatus: 0, driverStatus: 0, resid: 0 })
  const answer = (data: Uint8Array | undefined, bytes: Uint8Array): SgResult => {
    if (data === undefined) return good()
    const n = Math.min(data.length, bytes.length)
    data.set(bytes.subarray(0, n))
    return good(data.length - n)
  }
  /** Element address → where it is in library.json. */
  const locate = (address: number, slots: number, drives: number): { kind: 'slots' | 'drives', i: number } | undefined => {
    if (address >= VTL_STORAGE_BASE && address < VTL_STORAGE_BASE + slots) return { kind: 'slots', i: address - VTL_STORAGE_BASE }
    if (address >= VTL_DRIVE_BASE && address < VTL_DRIVE_BASE + drives) return { kind: 'drives', i: address - VTL_DRIVE_BASE }
    return undefined
  }
  return {
    path,
    sgIo (cdb, _direction, data) {
      const lib = readLibraryState(dir)
      switch (cdb[0]) {
        case ScsiOp.TEST_UNIT_READY:
        case ScsiOp.INITIALIZE_ELEMENT_STATUS:
          return good()
        case ScsiOp.INQUIRY:
          return answer(data, encodeInquiry({ deviceType: DEVICE_TYPE_CHANGER, vendor: 'CAIRN', product: 'VIRTUAL LIBRARY', revision: '0001' }))
        case ScsiOp.MODE_SENSE_6:
          if ((cdb[2] & 0x3f) !== 0x1d) return check(SenseKey.ILLEGAL_REQUEST, 0x24, 0)
          return answer(data, encodeElementAddressPage({
            transport: { first: 0, count: 1 },
            storage: { first: VTL_STORAGE_BASE, count: lib.slots.length },
            importExport: { first: 0, count: 0 },
            drive: { first: VTL_DRIVE_BASE, count: lib.drives.length }
          }))
        case ScsiOp.READ_ELEMENT_STATUS: {
          const r = decodeReadElementStatusCdb(cdb)
          const all: ElementStatus[] = [
            ...lib.slots.map((b, i) => ({ type: ElementType.STORAGE, address: VTL_STORAGE_BASE + i, full: b !== null, ...(b !== null && r.voltag ? { barcode: b } : {}), asc: 0, ascq: 0 })),
            ...lib.drives.map((b, i) => ({ type: ElementType.DRIVE, address: VTL_DRIVE_BASE + i, full: b !== null, ...(b !== null && r.voltag ? { barcode: b } : {}), asc: 0, ascq: 0 }))
          ]
          const chosen = all.filter(e => (r.type === ElementType.ALL || e.type === r.type) && e.address >= r.first).slice(0, r.count)
          return answer(data?.subarray(0, r.allocation), encodeElementStatus(chosen))
        }
        case ScsiOp.MOVE_MEDIUM: {
          const m = decodeMoveMediumCdb(cdb)
          const from = locate(m.source, lib.slots.length, lib.drives.length)
          const to = locate(m.destination, lib.slots.length, lib.drives.length)
          if (m.transport !== 0 || from === undefined || to === undefined) return check(SenseKey.ILLEGAL_REQUEST, 0x21, 0x01)
          const barcode = lib[from.kind][from.i]
          if (barcode === null) return check(SenseKey.ILLEGAL_REQUEST, 0x3b, 0x0e)
          if (lib[to.kind][to.i] !== null) return check(SenseKey.ILLEGAL_REQUEST, 0x3b, 0x0d)
          lib[from.kind][from.i] = null
          lib[to.kind][to.i] = barcode
          writeLibraryState(dir, lib)
          return good()
        }
        default:
          return check(SenseKey.ILLEGAL_REQUEST, 0x20, 0)
      }
    },
    close () {}
  }
}

function vtlStDrive (dir: string, index: number): StPort {
  const path = `${dir}#nst${index}`
  let record = 0
  /** Where the drive is on the cartridge it holds; reset when another is loaded. */
  let at: { barcode: string, file: number, byte: number, wrote: boolean, warned: boolean, afterMark: boolean } | undefined
  const fail = (code: string, syscall: string): never => { throw errnoError(code, syscall, path) }

  const mounted = (syscall: string): { barcode: string, st: CartridgeState, pos: NonNullable<typeof at> } => {
    const barcode = readLibraryState(dir).drives[index]
    if (barcode === null || barcode === undefined) { at = undefined; return fail('ENOMEDIUM', syscall) }
    if (at?.barcode !== barcode) at = { barcode, file: 0, byte: 0, wrote: false, warned: false, afterMark: false }
    // An image cut short (as the library's own face reads it): the tape ends where the image does.
    const st = readCartridgeState(dir, barcode)
    const size = statSync(cartridgeImage(dir, barcode)).size
    // A record the cut went through is not on the tape either.
    const eod = record > 0 ? size - (size % record) : size
    return { barcode, st: size < st.eod ? { ...st, eod, marks: st.marks.filter(m => m <= eod) } : st, pos: at }
  }
  const start = (st: CartridgeState, f: number): number => f === 0 ? 0 : st.marks[f - 1]
  const end = (st: CartridgeState, f: number): number => f < st.marks.length ? st.marks[f] : st.eod
  const records = (bytes: number): number => record === 0 ? (bytes > 0 ? 1 : 0) : Math.ceil(bytes / record)
  /** Drops everything from the position on: the end of data moves here. */
  const truncateHere = (barcode: string, st: CartridgeState, pos: NonNullable<typeof at>): CartridgeState => ({ ...st, marks: st.marks.slice(0, pos.file), eod: pos.byte })
  const writeMarks = (barcode: string, st: CartridgeState, pos: NonNullable<typeof at>, count: number): void => {
    if (st.writeProtected) fail('EACCES', 'ioctl')
    const t = truncateHere(barcode, st, pos)
    writeCartridgeState(dir, barcode, { ...t, marks: [...t.marks, ...Array<number>(count).fill(pos.byte)] })
    pos.file += count
    pos.wrote = false
  }
  /** st writes a filemark before the tape moves back after a write. */
  const markIfWritten = (barcode: string, st: CartridgeState, pos: NonNullable<typeof at>): CartridgeState => {
    if (!pos.wrote) return st
    writeMarks(barcode, st, pos, 1)
    return readCartridgeState(dir, barcode)
  }

  const op = (code: number, count: number): void => {
    const m = mounted('ioctl')
    const { barcode, pos } = m
    let { st } = m
    pos.afterMark = false
    switch (code) {
      case MtOp.MTNOP: case MtOp.MTLOAD: case MtOp.MTUNLOAD: return
      case MtOp.MTSETBLK: record = count; return
      case MtOp.MTREW: case MtOp.MTOFFL:
        markIfWritten(barcode, st, pos)
        pos.file = 0; pos.byte = 0
        return
      case MtOp.MTEOM:
        pos.file = st.marks.length; pos.byte = st.eod; pos.wrote = false
        return
      case MtOp.MTWEOF:
        writeMarks(barcode, st, pos, count)
        return
      case MtOp.MTFSF:
        for (let k = 0; k < count; k++) {
          if (pos.file >= st.marks.length) { pos.byte = st.eod; pos.wrote = false; fail('EIO', 'ioctl') }
          pos.file++
          pos.byte = start(st, pos.file)
          pos.afterMark = true
        }
        pos.wrote = false
        return
      case MtOp.MTBSF:
        st = markIfWritten(barcode, st, pos)
        for (let k = 0; k < count; k++) {
          if (pos.file === 0) { pos.byte = 0; fail('EIO', 'ioctl') }
          pos.file--
          pos.byte = end(st, pos.file)
        }
        return
      case MtOp.MTFSR: case MtOp.MTBSR: {
        if (record === 0) fail('EINVAL', 'ioctl')
        const to = pos.byte + (code === MtOp.MTFSR ? 1 : -1) * count * record
        pos.wrote = false
        if (to > end(st, pos.file)) { pos.byte = end(st, pos.file); fail('EIO', 'ioctl') }
        if (to < start(st, pos.file)) { pos.byte = start(st, pos.file); fail('EIO', 'ioctl') }
        pos.byte = to
        return
      }
      default:
        fail('EINVAL', 'ioctl')
    }
  }

  return {
    path,
    ioctl (request, buf) {
      if (request === MTIOCTOP) { const { op: code, count } = decodeMtop(buf); op(code, count); return }
      if (request === MTIOCGET) {
        const barcode = readLibraryState(dir).drives[index]
        if (barcode === null || barcode === undefined) { Buffer.from(buf.buffer, buf.byteOffset).set(encodeMtget({ blockSize: record, gstat: Gmt.DR_OPEN, fileNo: -1, blockNo: -1 })); return }
        const { st, pos } = mounted('ioctl')
        const s = start(st, pos.file)
        const gstat = Gmt.ONLINE |
          (st.writeProtected ? Gmt.WR_PROT : 0) |
          (pos.file === 0 && pos.byte === 0 ? Gmt.BOT : 0) |
          (pos.file === st.marks.length && pos.byte === st.eod ? Gmt.EOD : 0) |
          (pos.byte >= st.capacity ? Gmt.EOT : 0) |
          (pos.afterMark ? Gmt.EOF : 0)
        Buffer.from(buf.buffer, buf.byteOffset).set(encodeMtget({ type: 0x72, blockSize: record, gstat: gstat >>> 0, fileNo: pos.file, blockNo: records(pos.byte - s) }))
        return
      }
      if (request === MTIOCPOS) {
        const { st, pos } = mounted('ioctl')
        // READ POSITION's logical object number: the records and filemarks before the position.
        let block = 0
        for (let f = 0; f < pos.file; f++) block += records(end(st, f) - start(st, f)) + 1
        block += records(pos.byte - start(st, pos.file))
        Buffer.from(buf.buffer, buf.byteOffset).set(encodeMtpos(block))
        return
      }
      fail('ENOTTY', 'ioctl')
    },
    read (buf) {
      const { barcode, st, pos } = mounted('read')
      if (record > 0 && buf.length % record !== 0) fail('EINVAL', 'read')
      pos.wrote = false
      const e = end(st, pos.file)
      if (pos.byte >= e) {
        if (pos.file < st.marks.length) { pos.file++; pos.byte = start(st, pos.file); pos.afterMark = true; return 0 }
        return fail('EIO', 'read')
      }
      pos.afterMark = false
      const n = Math.min(buf.length, e - pos.byte)
      const out = Buffer.from(buf.buffer, buf.byteOffset, buf.length)
      const fd = openSync(cartridgeImage(dir, barcode), 'r')
      try {
        const got = readSync(fd, out, 0, n, pos.byte)
        // Records a plain write left short read back padded with zeros: a fixed-block drive's record is whole.
        const whole = record > 0 ? Math.min(buf.length, records(got) * record) : got
        out.fill(0, got, whole)
        pos.byte += got
        return whole
      } finally { closeSync(fd) }
    },
    write (buf) {
      const m = mounted('write')
      const { barcode, pos } = m
      let { st } = m
      if (st.writeProtected) fail('EACCES', 'write')
      if (record > 0 && buf.length % record !== 0) fail('EINVAL', 'write')
      st = truncateHere(barcode, st, pos)
      if (pos.byte + buf.length > st.capacity) {
        if (!pos.warned) { pos.warned = true; fail('ENOSPC', 'write') }
        if (pos.byte + buf.length > st.capacity + EW_ZONE_RECORDS * Math.max(record, 512)) fail('EIO', 'write')
      }
      const fd = openSync(cartridgeImage(dir, barcode), 'r+')
      try {
        let done = 0
        while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, pos.byte + done)
        fsyncSync(fd)
      } finally { closeSync(fd) }
      pos.byte += buf.length
      pos.wrote = true
      writeCartridgeState(dir, barcode, { ...st, eod: pos.byte })
      return buf.length
    },
    close () {}
  }
}
