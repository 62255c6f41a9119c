// The code for real tape hardware — a SCSI medium changer (scsi-changer.ts) and Linux `st`
// drives (st-drive.ts) — run over the virtual tape library's device face, which answers the
// CDBs and ioctls they send as a changer and the st driver would: the same cases as the
// virtual library driven directly (node/testing/tape-cases.ts), then what only this path has.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { removeDir, tempDir } from '../../chunkstore/testing/index.ts'
import { tapeLibraryCases } from '../testing/index.ts'
import { ArchiveDeviceInvalidError, ArchiveDeviceUnavailableError, createVirtualTapeLibrary, openVirtualTapeLibrary, TapeDeviceError } from './index.ts'
import { openScsiTapeLibrary } from './scsi-changer.ts'
import { openStDrive } from './st-drive.ts'
import type { SgPort } from './tape-port.ts'
import { vtlDeviceFace, VTL_DRIVE_BASE, VTL_STORAGE_BASE } from './vtl-device-face.ts'
import { moveMediumCdb } from './smc-commands.ts'
import { decodeMtget, encodeMtop, MTGET_SIZE, MTIOCGET, MTIOCTOP, MtOp, type MtOpCode, type MtStatus } from './mtio.ts'

const RECORD = 16 << 10

const scsiOver = (dir: string) => {
  const face = vtlDeviceFace(dir)
  const drives = openVirtualTapeLibrary(dir).drives().map((_, i) => () => face.drive(i))
  return openScsiTapeLibrary({ device: 'vtl-1', changer: face.changer, drives, recordSize: RECORD })
}

tapeLibraryCases({ name: 'SCSI changer and st drives over the virtual library', open: scsiOver, recordSize: RECORD })

test('scsi changer: element status with barcodes, MOVE MEDIUM both ways, a refused command worded from its sense data', () => {
  const dir = tempDir('cairn-sg-')
  try {
    createVirtualTapeLibrary(dir, { slots: 4, drives: 2, cartridges: [{ barcode: 'CRN000L8', capacity: 1 << 20 }, { barcode: 'CRN001L8', capacity: 1 << 20 }] })
    const lib = scsiOver(dir)
    assert.deepEqual({ type: lib.inquiry.deviceType, vendor: lib.inquiry.vendor }, { type: 8, vendor: 'CAIRN' })
    assert.deepEqual(lib.cartridges().sort(), ['CRN000L8', 'CRN001L8'])
    const drive = lib.load('CRN001L8', 1)
    assert.equal(drive.barcode, 'CRN001L8')
    assert.deepEqual(openVirtualTapeLibrary(dir).drives(), [null, 'CRN001L8'])
    const e = lib.elements().find(x => x.address === VTL_DRIVE_BASE + 1)
    assert.deepEqual({ full: e?.full, barcode: e?.barcode }, { full: true, barcode: 'CRN001L8' })
    // Loading it into the other drive moves it out of the first, through a slot.
    lib.load('CRN001L8', 0)
    assert.deepEqual(openVirtualTapeLibrary(dir).drives(), ['CRN001L8', null])
    lib.unload(0)
    assert.deepEqual(openVirtualTapeLibrary(dir).drives(), [null, null])
    assert.throws(() => lib.load('CRN404L8'), (err: Error) => err instanceof ArchiveDeviceUnavailableError && err.message.includes('CRN404L8'))
    // A move from an empty slot: the changer's sense (ILLEGAL REQUEST, 3B/0E) in words.
    const face = vtlDeviceFace(dir)
    assert.throws(() => openScsiTapeLibrary({ device: 'vtl-1', changer: face.changer, drives: [() => face.drive(0), () => face.drive(1), () => face.drive(2)] }), ArchiveDeviceInvalidError)
    lib.close()
    // The changer refuses a move (here: from a slot made to read as the wrong one): its sense in words, naming the node.
    const misaddressed: SgPort = { ...face.changer, sgIo: (cdb, dir, data, t) => face.changer.sgIo(cdb[0] === 0xa5 ? moveMediumCdb(0, VTL_STORAGE_BASE + 3, VTL_DRIVE_BASE) : cdb, dir, data, t) }
    const refusing = openScsiTapeLibrary({ device: 'vtl-1', changer: misaddressed, drives: [() => face.drive(0)] })
    assert.throws(() => refusing.load('CRN000L8'), (err: Error) => err instanceof TapeDeviceError && err.message.includes('illegal request, ASC/ASCQ 3b/0e (medium source element empty)') && err.message.includes('#changer'))
  } finally {
    removeDir(dir)
  }
})

test('st drive: records of the set size on the image, a file ends with a padded record, a drive without a cartridge is named', () => {
  const dir = tempDir('cairn-st-')
  try {
    createVirtualTapeLibrary(dir, { slots: 2, drives: 1, cartridges: [{ barcode: 'CRN000L8', capacity: 1 << 20 }] })
    const face = vtlDeviceFace(dir)
    const lib = openScsiTapeLibrary({ device: 'vtl-1', changer: face.changer, drives: [() => face.drive(0)], recordSize: RECORD })
    const d = lib.load('CRN000L8')
    d.append(Buffer.alloc(RECORD + 100, 7))
    assert.deepEqual(Buffer.from(d.read(0, RECORD, 100)), Buffer.alloc(100, 7), 'bytes still in memory read back')
    d.writeFilemark()
    d.append(Buffer.from('second file'))
    assert.deepEqual(Buffer.from(d.read(0, RECORD - 2, 4)), Buffer.alloc(4, 7))
    d.writeFilemark()
    const st = JSON.parse(readFileSync(join(dir, 'cartridges', 'CRN000L8.json'), 'utf8')) as { marks: number[], eod: number }
    assert.deepEqual(st, { version: 1, capacity: 1 << 20, writeProtected: false, marks: [2 * RECORD, 3 * RECORD], eod: 3 * RECORD })
    // Loaded again: the layout from MTFSF/MTIOCPOS, in whole records.
    const again = lib.load('CRN000L8')
    assert.deepEqual([again.files(), again.fileSize(0), again.fileSize(1)], [2, 2 * RECORD, RECORD])
    assert.equal(Buffer.from(again.read(1, 0, 11)).toString(), 'second file')
    lib.unload()
    lib.close()
    // No cartridge in the drive: the st node says so.
    assert.throws(() => openStDrive({ device: 'vtl-1', barcode: 'CRN000L8', port: face.drive(0) }), (err: Error) => err instanceof ArchiveDeviceUnavailableError && err.message.includes('#nst0 reports no cartridge'))
  } finally {
    removeDir(dir)
  }
})

test('device face: the st driver semantics it emulates — status bits, spacing, end of data, early warning, a filemark on rewind after writing', () => {
  const dir = tempDir('cairn-face-')
  try {
    const vtl = createVirtualTapeLibrary(dir, { slots: 2, drives: 1, cartridges: [{ barcode: 'CRN000L8', capacity: 4 * 1024 }] })
    const face = vtlDeviceFace(dir)
    const nst = face.drive(0)
    const status = (): MtStatus => { const b = new Uint8Array(MTGET_SIZE); nst.ioctl(MTIOCGET, b); return decodeMtget(b) }
    const mt = (op: MtOpCode, count = 1): void => { nst.ioctl(MTIOCTOP, encodeMtop(op, count)) }
    const code = (fn: () => unknown): string | undefined => { try { fn(); return undefined } catch (err) { return (err as { code?: string }).code } }
    assert.deepEqual({ online: status().online, door: status().doorOpen }, { online: false, door: true }, 'no cartridge')
    assert.equal(code(() => { mt(MtOp.MTREW) }), 'ENOMEDIUM')
    vtl.load('CRN000L8')
    mt(MtOp.MTSETBLK, 1024)
    assert.deepEqual((({ online, bot, eod, blockSize }) => ({ online, bot, eod, blockSize }))(status()), { online: true, bot: true, eod: true, blockSize: 1024 })
    assert.equal(code(() => nst.write(new Uint8Array(100))), 'EINVAL', 'whole records only')
    nst.write(Buffer.alloc(2048, 1))
    mt(MtOp.MTREW)
    // Rewinding after a write ended the file with a filemark: the data is file 0, then an empty file 1 at end of data.
    assert.equal(code(() => { mt(MtOp.MTFSF) }), undefined)
    assert.deepEqual((({ fileNo, blockNo, eof, eod }) => ({ fileNo, blockNo, eof, eod }))(status()), { fileNo: 1, blockNo: 0, eof: true, eod: true })
    assert.equal(code(() => { mt(MtOp.MTFSF) }), 'EIO', 'no filemark ahead: end of data')
    mt(MtOp.MTREW)
    const buf = new Uint8Array(4096)
    assert.equal(nst.read(buf), 2048)
    assert.equal(nst.read(buf), 0, 'the filemark')
    assert.equal(code(() => nst.read(buf)), 'EIO', 'blank past end of data')
    // Early warning at 4 KiB: the write that would pass it records nothing (ENOSPC), the next fits in the zone, then EIO.
    mt(MtOp.MTEOM)
    assert.equal(code(() => nst.write(Buffer.alloc(3072))), 'ENOSPC')
    assert.equal(nst.write(Buffer.alloc(3072)), 3072)
    assert.ok(status().eot)
    assert.equal(code(() => nst.write(Buffer.alloc(4096))), 'EIO')
    // Write-protected: EACCES, and the status bit.
    vtl.setWriteProtected('CRN000L8', true)
    assert.ok(status().writeProtected)
    assert.equal(code(() => nst.write(Buffer.alloc(1024))), 'EACCES')
  } finally {
    removeDir(dir)
  }
})
