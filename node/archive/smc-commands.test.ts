// The medium changer's SCSI commands and answers as bytes (SMC-3, SPC-4 fixed sense): each CDB
// byte for byte, and each parser on an answer laid out by hand.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  describeSense, elementAddressModeSenseCdb, ElementType, encodeElementAddressPage, encodeElementStatus, encodeInquiry, encodeSense, initializeElementStatusCdb,
  inquiryCdb, moveMediumCdb, parseElementAddressPage, parseElementStatus, parseInquiry, parseSense, readElementStatusCdb, SenseKey, testUnitReadyCdb
} from './smc-commands.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

test('smc: command descriptor blocks', () => {
  assert.equal(hex(testUnitReadyCdb()), '000000000000')
  assert.equal(hex(inquiryCdb(96)), '120000006000')
  assert.equal(hex(elementAddressModeSenseCdb()), '1a081d00ff00')
  // READ ELEMENT STATUS: VolTag + storage type, from 0x1000, 40 elements, 0x010000 bytes.
  assert.equal(hex(readElementStatusCdb(ElementType.STORAGE, 0x1000, 40, 0x010000)), 'b812' + '1000' + '0028' + '00' + '010000' + '0000')
  assert.equal(hex(moveMediumCdb(0x0000, 0x1003, 0x0100)), 'a500' + '0000' + '1003' + '0100' + '00000000')
  assert.equal(hex(initializeElementStatusCdb()), '070000000000')
})

test('smc: INQUIRY data — device type, vendor, product, revision', () => {
  const d = Buffer.alloc(36, 0x20)
  d[0] = 0x08; d.fill(0, 1, 8); d[2] = 5; d[3] = 2; d[4] = 31
  d.write('STK', 8, 'ascii'); d.write('L700', 16, 'ascii'); d.write('0104', 32, 'ascii')
  assert.deepEqual(parseInquiry(d), { deviceType: 8, vendor: 'STK', product: 'L700', revision: '0104' })
  assert.deepEqual(Buffer.from(encodeInquiry({ deviceType: 8, vendor: 'STK', product: 'L700', revision: '0104' })), d)
  assert.throws(() => parseInquiry(d.subarray(0, 20)), /fewer than the standard 36/)
})

test('smc: element address assignment page, with and without a block descriptor before it', () => {
  const page = Buffer.from('1d12' + '0000' + '0001' + '1000' + '0028' + '0010' + '0001' + '0100' + '0002' + '0000', 'hex')
  const plain = Buffer.concat([Buffer.from([23, 0, 0, 0]), page])
  const expected = { transport: { first: 0, count: 1 }, storage: { first: 0x1000, count: 40 }, importExport: { first: 0x10, count: 1 }, drive: { first: 0x100, count: 2 } }
  assert.deepEqual(parseElementAddressPage(plain), expected)
  assert.deepEqual(Buffer.from(encodeElementAddressPage(expected)), plain)
  const withDescriptor = Buffer.concat([Buffer.from([31, 0, 0, 8]), Buffer.alloc(8), page])
  assert.deepEqual(parseElementAddressPage(withDescriptor), expected)
  assert.throws(() => parseElementAddressPage(Buffer.concat([Buffer.from([23, 0, 0, 0]), Buffer.from('1f12', 'hex'), Buffer.alloc(18)])), /0x1D/)
})

test('smc: READ ELEMENT STATUS — pages per element type, primary volume tags, source slot', () => {
  const desc = (address: number, full: boolean, tag: string, source?: number): Buffer => {
    const d = Buffer.alloc(48)
    d.writeUInt16BE(address, 0)
    d[2] = full ? 1 : 0
    if (source !== undefined) { d[9] = 0x80; d.writeUInt16BE(source, 10) }
    if (tag !== '') d.write(tag.padEnd(32, ' '), 12, 'ascii')
    return d
  }
  const page = (type: number, ds: Buffer[]): Buffer => {
    const h = Buffer.alloc(8)
    h[0] = type; h[1] = 0x80; h.writeUInt16BE(48, 2); h.writeUIntBE(48 * ds.length, 5, 3)
    return Buffer.concat([h, ...ds])
  }
  const body = Buffer.concat([
    page(2, [desc(0x1000, true, 'CRN000L8'), desc(0x1001, false, '')]),
    page(4, [desc(0x100, true, 'CRN001L8', 0x1002)])
  ])
  const head = Buffer.alloc(8)
  head.writeUInt16BE(0x1000, 0); head.writeUInt16BE(3, 2); head.writeUIntBE(body.length, 5, 3)
  const answer = Buffer.concat([head, body])
  const expected = [
    { type: 2, address: 0x1000, full: true, barcode: 'CRN000L8', asc: 0, ascq: 0 },
    { type: 2, address: 0x1001, full: false, asc: 0, ascq: 0 },
    { type: 4, address: 0x100, full: true, barcode: 'CRN001L8', source: 0x1002, asc: 0, ascq: 0 }
  ]
  assert.deepEqual(parseElementStatus(answer), expected)
  assert.deepEqual(Buffer.from(encodeElementStatus(expected)), answer)
  // An allocation length that cut the answer short: only whole descriptors are read.
  assert.deepEqual(parseElementStatus(answer.subarray(0, 8 + 8 + 48 + 20)).map(e => e.address), [0x1000])
})

test('smc: fixed-format sense data in words', () => {
  const notPresent = Buffer.from('700002000000000a00000000' + '3a00' + '00000000', 'hex')
  assert.deepEqual(parseSense(notPresent), { key: SenseKey.NOT_READY, asc: 0x3a, ascq: 0, filemark: false, eom: false, ili: false })
  assert.equal(describeSense(parseSense(notPresent)!), 'not ready, ASC/ASCQ 3a/00 (medium not present)')
  assert.deepEqual(Buffer.from(encodeSense({ key: SenseKey.NOT_READY, asc: 0x3a, ascq: 0 })), Buffer.concat([notPresent, Buffer.alloc(0)]))
  const eom = parseSense(encodeSense({ key: SenseKey.VOLUME_OVERFLOW, asc: 0, ascq: 2, eom: true }))!
  assert.deepEqual([eom.key, eom.eom, eom.filemark], [0xd, true, false])
  // VALID bit with the information field (the residue of a READ).
  const info = Buffer.from(encodeSense({ key: SenseKey.NO_SENSE, asc: 0, ascq: 1, filemark: true }))
  info[0] = 0xf0; info.writeUInt32BE(7, 3)
  assert.deepEqual(parseSense(info), { key: 0, asc: 0, ascq: 1, filemark: true, eom: false, ili: false, information: 7 })
  assert.equal(describeSense({ key: SenseKey.DATA_PROTECT, asc: 0x27, ascq: 0, filemark: false, eom: false, ili: false }), 'data protect, ASC/ASCQ 27/00 (write protected)')
  assert.equal(parseSense(Buffer.from([0x72, 5, 0x24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])), undefined, 'descriptor format is not read')
})
