// The chunk wire format: the checked-in frames (testdata/chunk-wire-v1.json) decode to their
// messages and are what the encoder writes; every message round-trips; the byte layouts are as documented.
import test from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { CID } from 'multiformats/cid'
import { Uint8ArrayList } from 'uint8arraylist'
import { decodeMessage, encodeMessage, haveFrame, MsgType, PutBatchBuilder, Status, type Message } from './chunk-wire.ts'
import { cidOf } from '../chunkstore/index.ts'
import { encodeFrame } from './frame.ts'

const join = (parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap(p => [...p]))

/** A message as JSON shows it: CIDs as strings, bytes as hex. */
const view = (v: unknown): unknown => v instanceof CID ? v.toString()
  : v instanceof Uint8Array ? Buffer.from(v).toString('hex')
    : Array.isArray(v) ? v.map(view)
      : typeof v === 'object' && v !== null ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, view(x)])) : v

test('F11 golden: every checked-in version-1 frame decodes to its message, and encoding that message gives the same bytes', () => {
  const golden = JSON.parse(readFileSync(new URL('testdata/chunk-wire-v1.json', import.meta.url), 'utf8')) as { messages: Array<{ name: string, message: unknown, frame: string }> }
  const seen = new Set<number>()
  for (const g of golden.messages) {
    const frame = Buffer.from(g.frame, 'hex')
    assert.equal(frame.readUInt32BE(0), frame.length - 4, `${g.name}: the length prefix counts the body`)
    const m = decodeMessage(new Uint8Array(frame.subarray(4)))
    assert.deepEqual(view(m), g.message, g.name)
    assert.equal(Buffer.from(join([...encodeFrame(...encodeMessage(m))])).toString('hex'), g.frame, `${g.name} encodes to the checked-in bytes`)
    seen.add(m.type)
  }
  assert.deepEqual([...seen].sort((a, b) => a - b), Object.values(MsgType).sort((a, b) => a - b), 'the sample holds every message type')
})

test('F11 every message type round-trips', async () => {
  const a = cidOf(new Uint8Array([1, 2, 3]))
  const b = cidOf(new Uint8Array([4]))
  const messages: Message[] = [
    { type: MsgType.HAVE, id: 1, cids: [a, b] },
    { type: MsgType.PUT, id: 2, cid: a, bytes: new Uint8Array([1, 2, 3]) },
    { type: MsgType.GET, id: 3, cid: b },
    { type: MsgType.FLUSH, id: 4 },
    { type: MsgType.ROOTS, id: 5 },
    { type: MsgType.ADD_ROOT, id: 6, cid: a },
    { type: MsgType.ADD_ROOT_FROM, id: 14, cid: b, origin: '12D3KooWAHQAUukC4bNGiqaedxeEucfXqmz5W17YJMyV9J5rAHgS' },
    { type: MsgType.HAVE_REPLY, id: 7, have: [true, false, false, true, true, false, true, false, true] },
    { type: MsgType.ACK, id: 0xffffffff, status: Status.CID_MISMATCH },
    { type: MsgType.BLOCK, id: 9, status: Status.OK, bytes: new Uint8Array([9, 9]) },
    { type: MsgType.BLOCK, id: 10, status: Status.NOT_FOUND },
    { type: MsgType.ROOTS_REPLY, id: 11, cids: [b] },
    { type: MsgType.PUT_BATCH, id: 12, blocks: [{ cid: a, bytes: new Uint8Array([1, 2, 3]) }, { cid: b, bytes: new Uint8Array([4]) }] },
    { type: MsgType.BATCH_ACK, id: 13, statuses: [Status.OK, Status.CID_MISMATCH, Status.OK] },
    { type: MsgType.ADD_ROOT_SIGNED, id: 15, cid: a, head: b, lockDays: 0xFFFFFFFF },
    { type: MsgType.RELEASE, id: 16, cid: a },
    { type: MsgType.OFFER_ROOT, id: 17, cid: b, head: a },
    { type: MsgType.ADMIN_RELEASE, id: 18, bytes: new Uint8Array([123, 125]) }
  ]
  for (const m of messages) {
    const back = decodeMessage(join(encodeMessage(m)))
    assert.deepEqual(JSON.parse(JSON.stringify(back)), JSON.parse(JSON.stringify(m)), `type 0x${m.type.toString(16)}`)
  }
})

test('F11 PUT bytes: version, type, request id, CID length, CID, block', async () => {
  const cid = CID.parse('bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e') // sha2-256 of "hello world"
  const bytes = join(encodeMessage({ type: MsgType.PUT, id: 258, cid, bytes: new TextEncoder().encode('hello world') }))
  assert.deepEqual([...bytes.subarray(0, 7)], [1, 0x02, 0, 0, 1, 2, 36])
  assert.deepEqual(bytes.subarray(7, 43), cid.bytes)
  assert.equal(new TextDecoder().decode(bytes.subarray(43)), 'hello world')
  assert.equal((cidOf(bytes.subarray(43))).toString(), cid.toString())
})

test('F9 malformed messages are refused by the decoder', async () => {
  const a = cidOf(new Uint8Array([1]))
  const good = join(encodeMessage({ type: MsgType.GET, id: 1, cid: a }))
  assert.throws(() => decodeMessage(good.subarray(0, 5)), { name: 'ProtocolError' })
  assert.throws(() => decodeMessage(Uint8Array.from([2, ...good.subarray(1)])), { name: 'ProtocolError' })
  assert.throws(() => decodeMessage(Uint8Array.from([...good, 0])), { name: 'ProtocolError' })
  assert.throws(() => decodeMessage(good.subarray(0, good.length - 1)), { name: 'ProtocolError' })
  const haveHuge = Uint8Array.from([1, 1, 0, 0, 0, 1, 0xff, 0xff])
  assert.throws(() => decodeMessage(haveHuge), { name: 'ProtocolError' })
  // ADD_ROOT_SIGNED without its lock, or with a head that is no block CID.
  const signed = join(encodeMessage({ type: MsgType.ADD_ROOT_SIGNED, id: 1, cid: a, head: a, lockDays: 1 }))
  assert.throws(() => decodeMessage(signed.subarray(0, signed.length - 2)), { name: 'ProtocolError' })
  const badHead = Uint8Array.from(signed)
  badHead[6 + 1 + 36 + 1 + 1] = 0x70 // the head's codec: dag-pb
  assert.throws(() => decodeMessage(badHead), { name: 'ProtocolError' })
  // ADMIN_RELEASE empty, or longer than an administrator's release may be.
  assert.throws(() => decodeMessage(Uint8Array.from([1, 0x0C, 0, 0, 0, 1])), { name: 'ProtocolError' })
  assert.throws(() => decodeMessage(Uint8Array.from([1, 0x0C, 0, 0, 0, 1, ...new Uint8Array(64 * 1024 + 1)])), { name: 'ProtocolError' })
  assert.throws(() => encodeMessage({ type: MsgType.ADMIN_RELEASE, id: 1, bytes: new Uint8Array(0) }), { name: 'ProtocolError' })
})

test('F11 ADD_ROOT_FROM bytes: the root\'s CID, then the origin site\'s PeerId as UTF-8 with its length; bad origins are refused', async () => {
  const root = cidOf(new Uint8Array([5]))
  const origin = '12D3KooWAHQAUukC4bNGiqaedxeEucfXqmz5W17YJMyV9J5rAHgS'
  const bytes = join(encodeMessage({ type: MsgType.ADD_ROOT_FROM, id: 3, cid: root, origin }))
  assert.deepEqual([...bytes.subarray(0, 7)], [1, 0x08, 0, 0, 0, 3, 36])
  assert.deepEqual(bytes.subarray(7, 43), root.bytes)
  assert.equal(bytes[43], origin.length)
  assert.equal(new TextDecoder().decode(bytes.subarray(44)), origin)
  assert.equal(bytes.length, 44 + origin.length)
  assert.throws(() => decodeMessage(Uint8Array.from([...bytes.subarray(0, 43), 0])), { name: 'ProtocolError' }, 'an empty origin')
  assert.throws(() => decodeMessage(bytes.subarray(0, bytes.length - 1)), { name: 'ProtocolError' }, 'a truncated origin')
  assert.throws(() => decodeMessage(Uint8Array.from([...bytes.subarray(0, 43), 2, 0xc3, 0x28])), { name: 'ProtocolError' }, 'an origin that is not UTF-8')
  assert.throws(() => encodeMessage({ type: MsgType.ADD_ROOT_FROM, id: 1, cid: root, origin: 'x'.repeat(129) }), { name: 'ProtocolError' })
})

test('F11 PUT_BATCH bytes: the index of CIDs and sizes, then the blocks one after the other', async () => {
  const x = new Uint8Array([7, 7])
  const y = new Uint8Array([8, 8, 8])
  const cx = cidOf(x)
  const cy = cidOf(y)
  const bytes = join(encodeMessage({ type: MsgType.PUT_BATCH, id: 5, blocks: [{ cid: cx, bytes: x }, { cid: cy, bytes: y }] }))
  assert.deepEqual([...bytes.subarray(0, 8)], [1, 0x07, 0, 0, 0, 5, 0, 2])
  assert.equal(bytes[8], 36)
  assert.deepEqual(bytes.subarray(9, 45), cx.bytes)
  assert.deepEqual([...bytes.subarray(45, 49)], [0, 0, 0, 2])
  assert.equal(bytes[49], 36)
  assert.deepEqual([...bytes.subarray(86, 90)], [0, 0, 0, 3])
  assert.deepEqual([...bytes.subarray(90)], [7, 7, 8, 8, 8])
})

test('F9 a PUT_BATCH whose sizes do not add up, or that holds no block, is refused by the decoder', async () => {
  const x = new Uint8Array([7, 7])
  const good = join(encodeMessage({ type: MsgType.PUT_BATCH, id: 5, blocks: [{ cid: cidOf(x), bytes: x }] }))
  assert.equal(decodeMessage(good).type, MsgType.PUT_BATCH)
  assert.throws(() => decodeMessage(good.subarray(0, good.length - 1)), { name: 'ProtocolError' })
  assert.throws(() => decodeMessage(Uint8Array.from([...good, 9])), { name: 'ProtocolError' })
  const huge = Uint8Array.from(good); huge.set([0xff, 0xff, 0xff, 0xff], 45)
  assert.throws(() => decodeMessage(huge), { name: 'ProtocolError' })
  assert.throws(() => decodeMessage(Uint8Array.from([1, 0x07, 0, 0, 0, 1, 0, 0])), { name: 'ProtocolError' })
  assert.throws(() => encodeMessage({ type: MsgType.PUT_BATCH, id: 1, blocks: [] }), { name: 'ProtocolError' })
})

test('F11 a PUT_BATCH built in one buffer and a HAVE from packed CIDs are the bytes encodeMessage gives; a built buffer can be reused', async () => {
  const blocks = await Promise.all([new Uint8Array([7, 7]), new Uint8Array(70_000).fill(3), new Uint8Array([8])].map(async bytes => ({ cid: cidOf(bytes), bytes })))
  const expected = join([...encodeFrame(...encodeMessage({ type: MsgType.PUT_BATCH, id: 77, blocks }))])
  const builder = new PutBatchBuilder(80_000, 3)
  for (const b of blocks) { assert.equal(builder.fits(b.bytes.length), true); builder.add(b.cid.bytes, b.bytes) }
  assert.equal(builder.fits(1), false, 'at most maxBlocks')
  assert.deepEqual(Uint8Array.from(builder.frame(77)), expected)
  // Reused for a second batch: the new frame holds only the new blocks.
  const again = new PutBatchBuilder(80_000, 3, builder.buffer)
  again.add(blocks[2].cid.bytes, blocks[2].bytes)
  assert.deepEqual(Uint8Array.from(again.frame(78)), join([...encodeFrame(...encodeMessage({ type: MsgType.PUT_BATCH, id: 78, blocks: [blocks[2]] }))]))
  // A lone block larger than maxBytes still goes, in a buffer of its own.
  const big = new PutBatchBuilder(1000, 3)
  assert.equal(big.fits(70_000), true)
  big.add(blocks[1].cid.bytes, blocks[1].bytes)
  assert.equal(big.fits(1), false)
  assert.equal(big.buffer, undefined, 'an oversized buffer is not handed on')
  assert.throws(() => new PutBatchBuilder(1000).add(new Uint8Array(36), new Uint8Array(1)), { name: 'ProtocolError' }, 'not a block CID')

  const packed = Uint8Array.from(blocks.flatMap(b => [...b.cid.bytes]))
  assert.deepEqual(Uint8Array.from(haveFrame(9, packed, 3)), join([...encodeFrame(...encodeMessage({ type: MsgType.HAVE, id: 9, cids: blocks.map(b => b.cid) }))]))
})

test('F11 a PUT_BATCH decoded from the pieces it arrived in is the one decoded from a copy, blocks split across pieces included', async () => {
  const blocks = await Promise.all([300, 5000, 1, 12_000].map(async n => { const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff); return { cid: cidOf(bytes), bytes } }))
  const body = join(encodeMessage({ type: MsgType.PUT_BATCH, id: 3, blocks }))
  for (const cut of [7, 100, 170, 1000, 5500, 9000]) {
    const list = new Uint8ArrayList()
    for (let at = 0; at < body.length; at += cut) list.append(body.slice(at, at + cut))
    const m = decodeMessage(list)
    assert.equal(m.type, MsgType.PUT_BATCH)
    if (m.type !== MsgType.PUT_BATCH) return
    assert.deepEqual(m.blocks.map(b => [b.cid.toString(), Buffer.from(b.bytes).toString('hex')]), blocks.map(b => [b.cid.toString(), Buffer.from(b.bytes).toString('hex')]), `pieces of ${cut}`)
    const short = new Uint8ArrayList(...list.sublist(0, list.byteLength - 1))
    assert.throws(() => decodeMessage(short), { name: 'ProtocolError' }, `truncated, pieces of ${cut}`)
  }
})
