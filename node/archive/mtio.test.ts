// The `st` ioctl requests as bytes: request numbers against the constants of linux/mtio.h on
// x86_64, `struct mtop` byte for byte, and `struct mtget`/`struct mtpos` decoded.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeMtget, decodeMtop, decodeMtpos, encodeMtget, encodeMtop, encodeMtpos, Gmt, MTIOCGET, MTIOCPOS, MTIOCTOP, MtOp } from './mtio.ts'

test('mtio: the request numbers are those of linux/mtio.h (_IOW/_IOR of "m")', () => {
  assert.equal(MTIOCTOP, 0x40086d01)
  assert.equal(MTIOCGET, 0x80306d02)
  assert.equal(MTIOCPOS, 0x80086d03)
})

test('mtio: struct mtop is op (short), two bytes of padding, count (int), little-endian', () => {
  assert.deepEqual([...encodeMtop(MtOp.MTFSF, 3)], [0x01, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00])
  assert.deepEqual([...encodeMtop(MtOp.MTSETBLK, 262144)], [0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00])
  assert.deepEqual([...encodeMtop(MtOp.MTEOM, 1)], [0x0c, 0, 0, 0, 1, 0, 0, 0])
  assert.deepEqual(decodeMtop(encodeMtop(MtOp.MTWEOF, 2)), { op: 5, count: 2 })
})

test('mtio: struct mtget — block size and density from mt_dsreg, GMT_* bits, file and block numbers', () => {
  const raw = Buffer.alloc(48)
  raw.writeBigInt64LE(0x72n, 0) // mt_type: MT_ISSCSI2
  raw.writeBigInt64LE(0x5a040000n, 16) // density 0x5a (LTO-4), block size 256 KiB
  raw.writeBigInt64LE(BigInt((Gmt.EOF | Gmt.WR_PROT | Gmt.ONLINE) >>> 0), 24)
  raw.writeInt32LE(2, 40)
  raw.writeInt32LE(17, 44)
  const s = decodeMtget(raw)
  assert.deepEqual({ type: s.type, blockSize: s.blockSize, density: s.density, fileNo: s.fileNo, blockNo: s.blockNo }, { type: 0x72, blockSize: 262144, density: 0x5a, fileNo: 2, blockNo: 17 })
  assert.deepEqual({ eof: s.eof, bot: s.bot, eot: s.eot, eod: s.eod, wp: s.writeProtected, online: s.online, door: s.doorOpen }, { eof: true, bot: false, eot: false, eod: false, wp: true, online: true, door: false })
  assert.deepEqual(Buffer.from(encodeMtget({ type: 0x72, blockSize: 262144, density: 0x5a, gstat: (Gmt.EOF | Gmt.WR_PROT | Gmt.ONLINE) >>> 0, fileNo: 2, blockNo: 17 })), raw)
  const unknown = decodeMtget(encodeMtget({ blockSize: 0, gstat: Gmt.BOT | Gmt.DR_OPEN, fileNo: -1, blockNo: -1 }))
  assert.deepEqual({ f: unknown.fileNo, b: unknown.blockNo, bot: unknown.bot, door: unknown.doorOpen, online: unknown.online }, { f: -1, b: -1, bot: true, door: true, online: false })
})

test('mtio: struct mtpos is one long', () => {
  assert.deepEqual([...encodeMtpos(0x01020304)], [4, 3, 2, 1, 0, 0, 0, 0])
  assert.equal(decodeMtpos(encodeMtpos(123456789)), 123456789)
})
