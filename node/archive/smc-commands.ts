// The SCSI commands a medium changer (SMC-3, as `mtx` drives one through /dev/sg*) is given, and
// their answers, as bytes: command descriptor blocks to build, and the INQUIRY data, the element
// address assignment mode page (0x1D), READ ELEMENT STATUS pages with primary volume tags
// (barcodes) and fixed-format sense data to parse. Each answer has its encoder beside its
// parser: the virtual library's SCSI face (vtl-device-face.ts) answers with them.
import { ArchiveDeviceInvalidError } from './errors.ts'

export const ScsiOp = {
  TEST_UNIT_READY: 0x00,
  INITIALIZE_ELEMENT_STATUS: 0x07,
  INQUIRY: 0x12,
  MODE_SENSE_6: 0x1a,
  MOVE_MEDIUM: 0xa5,
  READ_ELEMENT_STATUS: 0xb8
} as const

/** Element type codes of SMC-3. */
export const ElementType = { ALL: 0, TRANSPORT: 1, STORAGE: 2, IMPORT_EXPORT: 3, DRIVE: 4 } as const
export type ElementTypeCode = typeof ElementType[keyof typeof ElementType]

export const SCSI_STATUS_GOOD = 0x00
export const SCSI_STATUS_CHECK_CONDITION = 0x02

const u16 = (b: Buffer, at: number, v: number): void => { b.writeUInt16BE(v, at) }
const u24 = (b: Buffer, at: number, v: number): void => { b[at] = (v >>> 16) & 0xff; b.writeUInt16BE(v & 0xffff, at + 1) }
const r24 = (b: Buffer, at: number): number => (b[at] << 16) | b.readUInt16BE(at + 1)
const view = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength)

// --- command descriptor blocks ---

export const testUnitReadyCdb = (): Uint8Array => Buffer.alloc(6)

export function inquiryCdb (allocation = 96): Uint8Array {
  const c = Buffer.alloc(6)
  c[0] = ScsiOp.INQUIRY
  u16(c, 3, allocation)
  return c
}

/** MODE SENSE(6) of the element address assignment page, without block descriptors (DBD). */
export function elementAddressModeSenseCdb (allocation = 0xff): Uint8Array {
  const c = Buffer.alloc(6)
  c[0] = ScsiOp.MODE_SENSE_6
  c[1] = 0x08
  c[2] = 0x1d
  c[4] = allocation
  return c
}

/** READ ELEMENT STATUS with volume tags: `count` elements of `type` from address `first`. */
export function readElementStatusCdb (type: ElementTypeCode, first: number, count: number, allocation: number): Uint8Array {
  const c = Buffer.alloc(12)
  c[0] = ScsiOp.READ_ELEMENT_STATUS
  c[1] = 0x10 | type
  u16(c, 2, first)
  u16(c, 4, count)
  u24(c, 7, allocation)
  return c
}

export function moveMediumCdb (transport: number, source: number, destination: number): Uint8Array {
  const c = Buffer.alloc(12)
  c[0] = ScsiOp.MOVE_MEDIUM
  u16(c, 2, transport)
  u16(c, 4, source)
  u16(c, 6, destination)
  return c
}

export function initializeElementStatusCdb (): Uint8Array {
  const c = Buffer.alloc(6)
  c[0] = ScsiOp.INITIALIZE_ELEMENT_STATUS
  return c
}

export function decodeReadElementStatusCdb (c: Uint8Array): { voltag: boolean, type: number, first: number, count: number, allocation: number } {
  const b = view(c)
  return { voltag: (b[1] & 0x10) !== 0, type: b[1] & 0x0f, first: b.readUInt16BE(2), count: b.readUInt16BE(4), allocation: r24(b, 7) }
}

export function decodeMoveMediumCdb (c: Uint8Array): { transport: number, source: number, destination: number } {
  const b = view(c)
  return { transport: b.readUInt16BE(2), source: b.readUInt16BE(4), destination: b.readUInt16BE(6) }
}

// --- INQUIRY ---

export interface Inquiry { deviceType: number, vendor: string, product: string, revision: string }
/** Peripheral device types: 0x01 a sequential-access device (a tape drive), 0x08 a medium changer. */
export const DEVICE_TYPE_TAPE = 0x01
export const DEVICE_TYPE_CHANGER = 0x08

export function encodeInquiry (i: Inquiry): Uint8Array {
  const b = Buffer.alloc(36, 0x20)
  b[0] = i.deviceType & 0x1f
  b.fill(0, 1, 8)
  b[2] = 0x05
  b[3] = 0x02
  b[4] = 36 - 5
  b.write(i.vendor.slice(0, 8), 8, 'ascii')
  b.write(i.product.slice(0, 16), 16, 'ascii')
  b.write(i.revision.slice(0, 4), 32, 'ascii')
  return b
}

export function parseInquiry (d: Uint8Array): Inquiry {
  const b = view(d)
  if (b.length < 36) throw new ArchiveDeviceInvalidError(`INQUIRY answered ${b.length} bytes, fewer than the standard 36`)
  const text = (from: number, to: number): string => b.toString('ascii', from, to).trim()
  return { deviceType: b[0] & 0x1f, vendor: text(8, 16), product: text(16, 32), revision: text(32, 36) }
}

// --- element address assignment page (0x1D) ---

export interface ElementAddresses {
  transport: { first: number, count: number }
  storage: { first: number, count: number }
  importExport: { first: number, count: number }
  drive: { first: number, count: number }
}

/** The MODE SENSE(6) answer: a 4-byte header, no block descriptor, then the 20-byte page. */
export function encodeElementAddressPage (a: ElementAddresses): Uint8Array {
  const b = Buffer.alloc(4 + 20)
  b[0] = b.length - 1
  b[4] = 0x1d
  b[5] = 0x12
  const pairs = [a.transport, a.storage, a.importExport, a.drive]
  pairs.forEach((p, i) => { u16(b, 6 + 4 * i, p.first); u16(b, 8 + 4 * i, p.count) })
  return b
}

export function parseElementAddressPage (d: Uint8Array): ElementAddresses {
  const b = view(d)
  const at = 4 + b[3]
  if (b.length < at + 20 || (b[at] & 0x3f) !== 0x1d) throw new ArchiveDeviceInvalidError('The changer did not answer MODE SENSE with an element address assignment page (0x1D)')
  const pair = (i: number): { first: number, count: number } => ({ first: b.readUInt16BE(at + 2 + 4 * i), count: b.readUInt16BE(at + 4 + 4 * i) })
  return { transport: pair(0), storage: pair(1), importExport: pair(2), drive: pair(3) }
}

// --- READ ELEMENT STATUS ---

export interface ElementStatus {
  type: number
  address: number
  full: boolean
  /** The primary volume tag's identifier (the barcode), undefined when the element is empty or has no label. */
  barcode?: string
  /** For a full element, the slot the medium came from, when the changer knows it. */
  source?: number
  /** ASC/ASCQ the changer reports for the element (0 when none). */
  asc: number
  ascq: number
}

const DESCRIPTOR = 12 + 36

/** One element status page per run of same-type elements, each descriptor with a primary volume tag. */
export function encodeElementStatus (elements: ElementStatus[]): Uint8Array {
  const pages: Buffer[] = []
  for (let i = 0; i < elements.length;) {
    let j = i
    while (j < elements.length && elements[j].type === elements[i].type) j++
    const page = Buffer.alloc(8 + DESCRIPTOR * (j - i))
    page[0] = elements[i].type
    page[1] = 0x80
    u16(page, 2, DESCRIPTOR)
    u24(page, 5, DESCRIPTOR * (j - i))
    elements.slice(i, j).forEach((e, k) => {
      const at = 8 + DESCRIPTOR * k
      u16(page, at, e.address)
      page[at + 2] = e.full ? 0x01 : 0x00
      page[at + 4] = e.asc
      page[at + 5] = e.ascq
      if (e.source !== undefined) { page[at + 9] = 0x80; u16(page, at + 10, e.source) }
      if (e.barcode !== undefined) page.write(e.barcode.padEnd(32, ' ').slice(0, 32), at + 12, 'ascii')
    })
    pages.push(page)
    i = j
  }
  const body = Buffer.concat(pages)
  const head = Buffer.alloc(8)
  u16(head, 0, elements[0]?.address ?? 0)
  u16(head, 2, elements.length)
  u24(head, 5, body.length)
  return Buffer.concat([head, body])
}

/** Every element descriptor of a READ ELEMENT STATUS answer (however the changer splits it into pages). */
export function parseElementStatus (d: Uint8Array): ElementStatus[] {
  const b = view(d)
  if (b.length < 8) throw new ArchiveDeviceInvalidError('READ ELEMENT STATUS answered fewer than 8 bytes')
  const end = Math.min(b.length, 8 + r24(b, 5))
  const out: ElementStatus[] = []
  for (let p = 8; p + 8 <= end;) {
    const type = b[p] & 0x0f
    const pvoltag = (b[p + 1] & 0x80) !== 0
    const len = b.readUInt16BE(p + 2)
    const pageEnd = Math.min(end, p + 8 + r24(b, p + 5))
    if (len < 12) throw new ArchiveDeviceInvalidError(`READ ELEMENT STATUS gave element descriptors of ${len} bytes, fewer than 12`)
    for (let at = p + 8; at + len <= pageEnd; at += len) {
      const full = (b[at + 2] & 0x01) !== 0
      const tag = pvoltag ? b.toString('ascii', at + 12, at + 44).replace(/\0/g, ' ').trim() : ''
      out.push({
        type,
        address: b.readUInt16BE(at),
        full,
        ...(full && tag !== '' ? { barcode: tag } : {}),
        ...((b[at + 9] & 0x80) !== 0 ? { source: b.readUInt16BE(at + 10) } : {}),
        asc: b[at + 4],
        ascq: b[at + 5]
      })
    }
    p = pageEnd
  }
  return out
}

// --- sense data ---

export const SenseKey = {
  NO_SENSE: 0x0,
  NOT_READY: 0x2,
  MEDIUM_ERROR: 0x3,
  HARDWARE_ERROR: 0x4,
  ILLEGAL_REQUEST: 0x5,
  UNIT_ATTENTION: 0x6,
  DATA_PROTECT: 0x7,
  BLANK_CHECK: 0x8,
  VOLUME_OVERFLOW: 0xd
} as const

export interface Sense { key: number, asc: number, ascq: number, filemark: boolean, eom: boolean, ili: boolean, information?: number }

/** Fixed-format sense data (response code 0x70, current). */
export function encodeSense (s: { key: number, asc: number, ascq: number, eom?: boolean, filemark?: boolean }): Uint8Array {
  const b = Buffer.alloc(18)
  b[0] = 0x70
  b[2] = (s.key & 0x0f) | (s.filemark === true ? 0x80 : 0) | (s.eom === true ? 0x40 : 0)
  b[7] = 10
  b[12] = s.asc
  b[13] = s.ascq
  return b
}

/** Fixed-format sense (0x70/0x71); undefined for none or descriptor format, which Cairn does not read. */
export function parseSense (d: Uint8Array): Sense | undefined {
  const b = view(d)
  if (b.length < 14 || ((b[0] & 0x7f) !== 0x70 && (b[0] & 0x7f) !== 0x71)) return undefined
  return {
    key: b[2] & 0x0f,
    asc: b[12],
    ascq: b[13],
    filemark: (b[2] & 0x80) !== 0,
    eom: (b[2] & 0x40) !== 0,
    ili: (b[2] & 0x20) !== 0,
    ...((b[0] & 0x80) !== 0 ? { information: b.readUInt32BE(3) } : {})
  }
}

const ASC_TEXT: Record<string, string> = {
  '04/00': 'logical unit not ready',
  '04/01': 'logical unit becoming ready',
  '04/03': 'logical unit not ready, manual intervention required',
  '20/00': 'invalid command operation code',
  '21/01': 'invalid element address',
  '24/00': 'invalid field in the command',
  '27/00': 'write protected',
  '28/00': 'medium may have changed (an operator opened the library)',
  '29/00': 'power on or reset',
  '30/00': 'incompatible medium',
  '3a/00': 'medium not present',
  '3b/0d': 'medium destination element full',
  '3b/0e': 'medium source element empty',
  '53/02': 'medium removal prevented',
  '00/02': 'end of partition or medium detected'
}

const KEY_TEXT = ['no sense', 'recovered error', 'not ready', 'medium error', 'hardware error', 'illegal request', 'unit attention', 'data protect', 'blank check', 'vendor specific', 'copy aborted', 'aborted command', 'equal', 'volume overflow', 'miscompare', 'completed']

/** Sense in words: the key, and what ASC/ASCQ mean where Cairn knows them. */
export function describeSense (s: Sense): string {
  const hex = (n: number): string => n.toString(16).padStart(2, '0')
  const what = ASC_TEXT[`${hex(s.asc)}/${hex(s.ascq)}`]
  return `${KEY_TEXT[s.key]}, ASC/ASCQ ${hex(s.asc)}/${hex(s.ascq)}${what !== undefined ? ` (${what})` : ''}`
}
