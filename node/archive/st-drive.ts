// A TapeDrive (tape-library.ts) on a Linux `st` drive, through its port (tape-port.ts): the
// ioctls `mt` uses and read/write of fixed-size records. A byte offset in a tape file is record
// offset / recordSize, reached with MTFSF and MTFSR; the last record of a file is padded with
// zeros (tar reads past its end-of-archive blocks, and Cairn's reader stops at a zero header).
//
// On load it learns the tape's layout without reading its data: from the start, MTFSF over each
// filemark and MTIOCPOS after it give each file's length in records; MTEOM then gives end of data.
// A file this process did not write therefore counts whole records (its fileSize is an upper
// bound, padded with zeros).
import { ArchiveDeviceUnavailableError, TapeDeviceError, TapeEndOfMediaError, TapeWriteProtectedError } from './errors.ts'
import { decodeMtget, decodeMtpos, encodeMtop, MTGET_SIZE, MTIOCGET, MTIOCPOS, MTIOCTOP, MtOp, MTPOS_SIZE, type MtOpCode, type MtStatus } from './mtio.ts'
import type { TapeDrive } from './tape-library.ts'
import { TAR_BLOCK } from './tar-format.ts'
import type { StPort } from './tape-port.ts'

/** 256 KiB: a record size LTO drives stream well at, and the unit a byte offset is spaced in. */
export const DEFAULT_RECORD_SIZE = 256 << 10
/** Records per write(2): large enough to stream, small enough that an end of medium loses little. */
const RECORDS_PER_WRITE = 16

export interface StDriveInit {
  /** The tape library's name, as errors give it. */
  device: string
  barcode: string
  port: StPort
  recordSize?: number
}

export interface StDrive extends TapeDrive {
  /** Ends an open file (its last record and a filemark) and closes the port: before the changer takes the cartridge. */
  release: () => void
}

const codeOf = (err: unknown): string | undefined => (err as { code?: unknown }).code as string | undefined

export function openStDrive (init: StDriveInit): StDrive {
  const { device, barcode, port } = init
  const R = init.recordSize ?? DEFAULT_RECORD_SIZE
  const fail = (command: string, err: unknown): never => { throw new TapeDeviceError(device, port.path, command, codeOf(err) ?? String(err), { cause: err }) }
  const mt = (op: MtOpCode, count: number): void => { port.ioctl(MTIOCTOP, encodeMtop(op, count)) }
  const status = (): MtStatus => { const b = new Uint8Array(MTGET_SIZE); port.ioctl(MTIOCGET, b); return decodeMtget(b) }
  const position = (): number => { const b = new Uint8Array(MTPOS_SIZE); port.ioctl(MTIOCPOS, b); return decodeMtpos(b) }

  const first = status()
  if (!first.online) throw new ArchiveDeviceUnavailableError(device, `${port.path} reports no cartridge loaded (${barcode} was moved into it)`)
  const writeProtected = first.writeProtected
  try { mt(MtOp.MTSETBLK, R) } catch (err) { fail(`MTSETBLK ${R}`, err) }

  /** Bytes of each file; the last is open (no filemark after it) when `open`. */
  const sizes: number[] = []
  let open = false
  /** Bytes of the open file not yet written: less than one record. */
  let tail = Buffer.alloc(0)
  /** Whether the tape is positioned at end of data, where the next record goes. */
  let atEnd = false
  /** The records last read (file, first record, bytes): the tar headers of a set are read one by one, often several in a record, and are served from here. */
  let lastRead: { file: number, rec: number, bytes: Buffer } | undefined
  /** Records written since the tape last moved: moving back now, st would write a filemark itself. */
  let written = false

  try {
    mt(MtOp.MTREW, 1)
    let before = 0
    for (;;) {
      try { mt(MtOp.MTFSF, 1) } catch (err) { if (codeOf(err) === 'EIO') break; throw err }
      const after = position()
      sizes.push((after - before - 1) * R)
      before = after
    }
    mt(MtOp.MTEOM, 1)
    const eod = position()
    if (eod > before) { sizes.push((eod - before) * R); open = true }
    atEnd = true
  } catch (err) { fail('reading the layout of the tape (MTREW, MTFSF, MTIOCPOS, MTEOM)', err) }

  const toEnd = (): void => {
    if (atEnd) return
    try { mt(MtOp.MTEOM, 1) } catch (err) { fail('MTEOM', err) }
    atEnd = true
  }
  /** Writes whole records; returns how many bytes went to tape before an end of medium. */
  const writeRecords = (bytes: Uint8Array): { written: number, endOfMedium: boolean } => {
    let done = 0
    while (done < bytes.length) {
      const n = Math.min(bytes.length - done, RECORDS_PER_WRITE * R)
      try {
        done += port.write(bytes.subarray(done, done + n))
        written = true
        lastRead = undefined
      } catch (err) {
        const code = codeOf(err)
        if (code === 'ENOSPC' || code === 'EIO' && status().eot) return { written: done, endOfMedium: true }
        if (code === 'EACCES' || code === 'EROFS') throw new TapeWriteProtectedError(device, [barcode], { cause: err })
        fail('write', err)
      }
    }
    return { written: done, endOfMedium: false }
  }
  /** Writes the open file's last record (padded) and a filemark. */
  const endFile = (): void => {
    toEnd()
    if (tail.length > 0) {
      const last = Buffer.alloc(R)
      tail.copy(last)
      if (writeRecords(last).endOfMedium) throw new TapeEndOfMediaError(barcode)
      tail = Buffer.alloc(0)
    }
    try { mt(MtOp.MTWEOF, 1) } catch (err) {
      if (codeOf(err) === 'EACCES' || codeOf(err) === 'EROFS') throw new TapeWriteProtectedError(device, [barcode], { cause: err })
      fail('MTWEOF', err)
    }
    if (!open) sizes.push(0)
    open = false
    written = false
  }
  /** Positions at record `rec` of file `n`, from where the driver says the tape is. */
  const seek = (n: number, rec: number): void => {
    atEnd = false
    const s = status()
    if (s.fileNo === n && s.blockNo >= 0) {
      if (rec > s.blockNo) mt(MtOp.MTFSR, rec - s.blockNo)
      if (rec < s.blockNo) mt(MtOp.MTBSR, s.blockNo - rec)
      return
    }
    if (s.fileNo >= 0 && s.fileNo < n && s.blockNo >= 0) mt(MtOp.MTFSF, n - s.fileNo)
    else { mt(MtOp.MTREW, 1); if (n > 0) mt(MtOp.MTFSF, n) }
    if (rec > 0) mt(MtOp.MTFSR, rec)
  }

  return {
    barcode,
    writeProtected,
    files: () => sizes.length,
    openFile: () => open,
    fileSize: n => sizes[n] ?? 0,
    read (n, offset, length) {
      const want = Math.max(0, Math.min(length, (sizes[n] ?? 0) - offset))
      if (want === 0) return new Uint8Array(0)
      let onTape = (sizes[n] ?? 0) - (open && n === sizes.length - 1 ? tail.length : 0)
      // Bytes still in the last, partial record of the file being written: no tape motion.
      if (offset >= onTape) return Uint8Array.from(tail.subarray(offset - onTape, offset - onTape + want))
      // Moving back after writing: st would write a filemark itself; end the file here, its last record first.
      if (open && written) { endFile(); onTape = sizes[n] }
      const rec = Math.floor(offset / R)
      const skip = offset - rec * R
      const fromTape = Math.min(want, onTape - offset)
      if (want <= TAR_BLOCK && lastRead !== undefined && lastRead.file === n && lastRead.rec <= rec && (rec - lastRead.rec) * R + skip + fromTape <= lastRead.bytes.length) {
        const at = (rec - lastRead.rec) * R + skip
        const cached = lastRead.bytes.subarray(at, at + fromTape)
        if (fromTape === want) return Uint8Array.from(cached)
      }
      const buf = Buffer.alloc(Math.ceil((skip + fromTape) / R) * R)
      let got = 0
      try {
        seek(n, rec)
        while (got < buf.length) {
          const k = port.read(buf.subarray(got))
          if (k === 0) break
          got += k
        }
      } catch (err) {
        if (err instanceof TapeEndOfMediaError || err instanceof TapeWriteProtectedError) throw err
        // A read error (EIO past end of data, a damaged record): what was read is returned; the caller finds it short.
        if (codeOf(err) !== 'EIO') fail(`reading file ${n} at record ${rec}`, err)
      }
      lastRead = { file: n, rec, bytes: buf.subarray(0, got) }
      const out = buf.subarray(skip, Math.min(got, skip + fromTape))
      // The rest of a file being written that is still in memory.
      return out.length === fromTape && fromTape < want ? Uint8Array.from(Buffer.concat([out, tail.subarray(0, want - fromTape)])) : Uint8Array.from(out)
    },
    append (bytes) {
      if (writeProtected) throw new TapeWriteProtectedError(device, [barcode])
      toEnd()
      const all = Buffer.concat([tail, bytes])
      const whole = all.length - (all.length % R)
      const { written: recorded, endOfMedium } = writeRecords(all.subarray(0, whole))
      if (!open) { sizes.push(0); open = true }
      const last = sizes.length - 1
      if (endOfMedium) {
        // Nothing of `bytes` counts: records already on tape end the file with a cut-off member.
        if (recorded > 0) { sizes[last] = sizes[last] - tail.length + recorded; tail = Buffer.alloc(0) }
        throw new TapeEndOfMediaError(barcode)
      }
      tail = Buffer.from(all.subarray(whole))
      sizes[last] += bytes.length
    },
    writeFilemark () {
      if (writeProtected) throw new TapeWriteProtectedError(device, [barcode])
      endFile()
    },
    overwriteFromStart () {
      if (writeProtected) throw new TapeWriteProtectedError(device, [barcode])
      // The next write at the start of the tape makes it the end of data: everything after goes.
      try { mt(MtOp.MTREW, 1) } catch (err) { fail('MTREW', err) }
      sizes.length = 0
      lastRead = undefined
      open = false
      tail = Buffer.alloc(0)
      atEnd = true
    },
    release () {
      try {
        if (open && (tail.length > 0 || written) && !writeProtected) endFile()
      } finally { port.close() }
    }
  }
}
