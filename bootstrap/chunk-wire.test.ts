// The chunk wire format: every message round-trips; the byte layout of a PUT is as documented.
import test from 'node:test'
import assert from 'node:assert/strict'
import { CID } from 'multiformats/cid'
import { decodeMessage, encodeMessage, MsgType, Status, blockCid, type Message } from './chunk-wire.ts'

const join = (parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap(p => [...p]))

test('F11 every message type round-trips', async () => {
  const a = await blockCid(new Uint8Array([1, 2, 3]))
  const b = await blockCid(new Uint8Array([4]))
  const messages: Message[] = [
    { type: MsgType.HAVE, id: 1, cids: [a, b] },
    { type: MsgType.PUT, id: 2, cid: a, bytes: new Uint8Array([1, 2, 3]) },
    { type: MsgType.GET, id: 3, cid: b },
    { type: MsgType.FLUSH, id: 4 },
    { type: MsgType.ROOTS, id: 5 },
    { type: MsgType.ADD_ROOT, id: 6, cid: a },
    { type: MsgType.HAVE_REPLY, id: 7, have: [true, false, false, true, true, false, true, false, true] },
    { type: MsgType.ACK, id: 0xffffffff, status: Status.CID_MISMATCH },
    { type: MsgType.BLOCK, id: 9, status: Status.OK, bytes: new Uint8Array([9, 9]) },
    { type: MsgType.BLOCK, id: 10, status: Status.NOT_FOUND },
    { type: MsgType.ROOTS_REPLY, id: 11, cids: [b] },
    { type: MsgType.PUT_BATCH, id: 12, blocks: [{ cid: a, bytes: new Uint8Array([1, 2, 3]) }, { cid: b, bytes: new Uint8Array([4]) }] },
    { type: MsgType.BATCH_ACK, id: 13, statuses: [Status.OK, Status.CID_MISMATCH, Status.OK] }
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
  assert.equal((await blockCid(bytes.subarray(43))).toString(), cid.toString())
})

test('F9 malformed messages are refused by the decoder', async () => {
  const a = await blockCid(new Uint8Array([1]))
  const good = join(encodeMessage({ type: MsgType.GET, id: 1, cid: a }))
  assert.throws(() => decodeMessage(good.subarray(0, 5)), { name: 'ProtocolError' })
  assert.throws(() => decodeMessage(Uint8Array.from([2, ...good.subarray(1)])), { name: 'ProtocolError' })
  assert.throws(() => decodeMessage(Uint8Array.from([...good, 0])), { name: 'ProtocolError' })
  assert.throws(() => decodeMessage(good.subarray(0, good.length - 1)), { name: 'ProtocolError' })
  const haveHuge = Uint8Array.from([1, 1, 0, 0, 0, 1, 0xff, 0xff])
  assert.throws(() => decodeMessage(haveHuge), { name: 'ProtocolError' })
})

test('F11 PUT_BATCH bytes: the index of CIDs and sizes, then the blocks one after the other', async () => {
  const x = new Uint8Array([7, 7])
  const y = new Uint8Array([8, 8, 8])
  const cx = await blockCid(x)
  const cy = await blockCid(y)
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
  const good = join(encodeMessage({ type: MsgType.PUT_BATCH, id: 5, blocks: [{ cid: await blockCid(x), bytes: x }] }))
  assert.equal(decodeMessage(good).type, MsgType.PUT_BATCH)
  assert.throws(() => decodeMessage(good.subarray(0, good.length - 1)), { name: 'ProtocolError' })
  assert.throws(() => decodeMessage(Uint8Array.from([...good, 9])), { name: 'ProtocolError' })
  const huge = Uint8Array.from(good); huge.set([0xff, 0xff, 0xff, 0xff], 45)
  assert.throws(() => decodeMessage(huge), { name: 'ProtocolError' })
  assert.throws(() => decodeMessage(Uint8Array.from([1, 0x07, 0, 0, 0, 1, 0, 0])), { name: 'ProtocolError' })
  assert.throws(() => encodeMessage({ type: MsgType.PUT_BATCH, id: 1, blocks: [] }), { name: 'ProtocolError' })
})
