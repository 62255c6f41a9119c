// The Linux `st` driver's magnetic-tape ioctls (linux/mtio.h, the calls `mt` makes), as bytes:
// the request numbers, `struct mtop` to send, and `struct mtget` / `struct mtpos` to decode.
// Layouts are those of x86_64 and other LP64 Linux (long = 8 bytes, daddr_t = int); the addon
// (native/tape-ioctl.c) only passes these buffers to ioctl(2) and back.

/** `_IOC(dir, type, nr, size)` of asm-generic/ioctl.h: dir in bits 30–31, size 16–29, type 8–15, nr 0–7. */
const ioc = (dir: number, type: string, nr: number, size: number): number =>
  ((dir << 30) | (size << 16) | (type.charCodeAt(0) << 8) | nr) >>> 0
const IOC_WRITE = 1
const IOC_READ = 2

export const MTOP_SIZE = 8
export const MTGET_SIZE = 48
export const MTPOS_SIZE = 8

/** `_IOW('m', 1, struct mtop)`: do a tape operation. */
export const MTIOCTOP = ioc(IOC_WRITE, 'm', 1, MTOP_SIZE)
/** `_IOR('m', 2, struct mtget)`: the drive's status. */
export const MTIOCGET = ioc(IOC_READ, 'm', 2, MTGET_SIZE)
/** `_IOR('m', 3, struct mtpos)`: the logical block position (records and filemarks from the start). */
export const MTIOCPOS = ioc(IOC_READ, 'm', 3, MTPOS_SIZE)

/** The `mt_op` codes Cairn uses (mtio.h names them). */
export const MtOp = {
  MTFSF: 1,
  MTBSF: 2,
  MTFSR: 3,
  MTBSR: 4,
  MTWEOF: 5,
  MTREW: 6,
  MTOFFL: 7,
  MTNOP: 8,
  MTEOM: 12,
  MTSETBLK: 20,
  MTLOAD: 30,
  MTUNLOAD: 31
} as const
export type MtOpCode = typeof MtOp[keyof typeof MtOp]

/** `struct mtop { short mt_op; int mt_count; }`: op at 0, two bytes of padding, count at 4. */
export function encodeMtop (op: MtOpCode, count: number): Uint8Array {
  const b = Buffer.alloc(MTOP_SIZE)
  b.writeInt16LE(op, 0)
  b.writeInt32LE(count, 4)
  return b
}

export function decodeMtop (b: Uint8Array): { op: number, count: number } {
  const v = Buffer.from(b.buffer, b.byteOffset, MTOP_SIZE)
  return { op: v.readInt16LE(0), count: v.readInt32LE(4) }
}

/** `mt_gstat` bits (GMT_* of mtio.h). */
export const Gmt = {
  EOF: 0x80000000,
  BOT: 0x40000000,
  EOT: 0x20000000,
  EOD: 0x08000000,
  WR_PROT: 0x04000000,
  ONLINE: 0x01000000,
  DR_OPEN: 0x00040000
} as const

/** `struct mtget`, decoded. */
export interface MtStatus {
  type: number
  resid: number
  /** Block size from `mt_dsreg` (0: variable). */
  blockSize: number
  density: number
  gstat: number
  /** File number from the start (-1: unknown to the driver). */
  fileNo: number
  /** Block number in the file (-1: unknown). */
  blockNo: number
  bot: boolean
  eot: boolean
  eod: boolean
  eof: boolean
  writeProtected: boolean
  online: boolean
  doorOpen: boolean
}

/** `mt_dsreg` holds the block size in its low 24 bits and the density code above (MT_ST_BLKSIZE_MASK, MT_ST_DENSITY_SHIFT). */
export function encodeMtget (s: { type?: number, resid?: number, blockSize: number, density?: number, gstat: number, fileNo: number, blockNo: number }): Uint8Array {
  const b = Buffer.alloc(MTGET_SIZE)
  b.writeBigInt64LE(BigInt(s.type ?? 0), 0)
  b.writeBigInt64LE(BigInt(s.resid ?? 0), 8)
  b.writeBigInt64LE(BigInt(((s.density ?? 0) << 24 >>> 0) + (s.blockSize & 0xffffff)), 16)
  b.writeBigInt64LE(BigInt(s.gstat >>> 0), 24)
  b.writeBigInt64LE(0n, 32)
  b.writeInt32LE(s.fileNo, 40)
  b.writeInt32LE(s.blockNo, 44)
  return b
}

export function decodeMtget (b: Uint8Array): MtStatus {
  const v = Buffer.from(b.buffer, b.byteOffset, MTGET_SIZE)
  const dsreg = Number(v.readBigInt64LE(16) & 0xffffffffn)
  const gstat = Number(v.readBigInt64LE(24) & 0xffffffffn)
  const bit = (m: number): boolean => ((gstat & m) >>> 0) !== 0
  return {
    type: Number(v.readBigInt64LE(0)),
    resid: Number(v.readBigInt64LE(8)),
    blockSize: dsreg & 0xffffff,
    density: dsreg >>> 24,
    gstat,
    fileNo: v.readInt32LE(40),
    blockNo: v.readInt32LE(44),
    bot: bit(Gmt.BOT),
    eot: bit(Gmt.EOT),
    eod: bit(Gmt.EOD),
    eof: bit(Gmt.EOF),
    writeProtected: bit(Gmt.WR_PROT),
    online: bit(Gmt.ONLINE),
    doorOpen: bit(Gmt.DR_OPEN)
  }
}

/** `struct mtpos { long mt_blkno; }`. */
export function encodeMtpos (block: number): Uint8Array {
  const b = Buffer.alloc(MTPOS_SIZE)
  b.writeBigInt64LE(BigInt(block), 0)
  return b
}

export const decodeMtpos = (b: Uint8Array): number => Number(Buffer.from(b.buffer, b.byteOffset, MTPOS_SIZE).readBigInt64LE(0))
