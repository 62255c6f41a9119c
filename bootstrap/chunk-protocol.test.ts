// F11/F14 wire level: blocks cross /cairn/chunks/1.0.0 between two hosts on 127.0.0.1;
// a hostile member's malformed, oversized and wrong-CID messages are refused.
import '../node/polyfill.ts'
import test from 'node:test'
import assert from 'node:assert/strict'
import { ChunkSession, serveChunks, CHUNK_PROTOCOL, type ChunkEvent } from './chunk-protocol.ts'
import { MAX_FRAME_BYTES, MsgType, Status, decodeMessage, encodeMessage } from './chunk-wire.ts'
import { FrameReader, encodeFrame, sendWithBackpressure } from './frame.ts'
import { replicate } from './replicator.ts'
import { localStore, randomBlock, startHosts } from './testing/index.ts'
import { storeBlocks, type BlockStore } from '../chunkstore/index.ts'

async function pair (t: any, allowed?: (peer: string) => boolean) {
  const { hosts, stop } = await startHosts(2, allowed)
  t.after(stop)
  const [sender, receiver] = hosts
  const store = await localStore(t)
  const events: ChunkEvent[] = []
  const members = new Set(hosts.map(h => h.peerId.toString()))
  await serveChunks(receiver, { store, isMember: p => members.has(p), onEvent: e => events.push(e) })
  return { sender, receiver, store, events }
}

test('F11 put, have, get, flush and snapshot roots cross the wire', async (t) => {
  const { sender, receiver, store } = await pair(t)
  const session = await ChunkSession.open(sender, receiver.getMultiaddrs()[0], { windowBytes: 256 * 1024 })
  const blocks = await Promise.all([1, 1000, 100_000, 1024 * 1024].map(randomBlock))
  assert.deepEqual(await session.have(blocks.map(b => b.cid)), [false, false, false, false])
  await Promise.all(blocks.map(async b => { await session.put(b.cid, b.bytes) }))
  await session.flush()
  assert.deepEqual(await session.have(blocks.map(b => b.cid)), [true, true, true, true])
  assert.deepEqual(await session.get(blocks[2].cid), blocks[2].bytes)
  await assert.rejects(session.addRoot((await randomBlock(10)).cid), { name: 'RemoteRefusedError', code: 'REMOTE_REFUSED', status: 'NOT_FOUND' })
  await session.addRoot(blocks[0].cid)
  assert.deepEqual((await session.roots()).map(String), [blocks[0].cid.toString()])
  assert.deepEqual((await store.snapshotRoots()).map(String), [blocks[0].cid.toString()])
  // ADD_ROOT lists the sender as the root's origin; ADD_ROOT_FROM the site it names, which
  // must be a PeerId; a root listed already keeps its first origin.
  const hq = receiver.peerId.toString()
  await session.addRoot(blocks[1].cid, hq)
  await session.addRoot(blocks[1].cid, sender.peerId.toString())
  await assert.rejects(session.addRoot(blocks[2].cid, 'not-a-peer-id'), { name: 'RemoteRefusedError', code: 'REMOTE_REFUSED', status: 'MALFORMED' })
  const origins = new Map((await store.snapshotRootOrigins!()).map(r => [r.cid.toString(), r.origin?.site]))
  assert.deepEqual(Object.fromEntries(origins), { [blocks[0].cid.toString()]: sender.peerId.toString(), [blocks[1].cid.toString()]: hq })
  await session.close()
})

test('F11 a block whose bytes do not match its CID is refused and not stored', async (t) => {
  const { sender, receiver, store, events } = await pair(t)
  const session = await ChunkSession.open(sender, receiver.getMultiaddrs()[0])
  const good = await randomBlock(5000)
  const other = await randomBlock(5000)
  await assert.rejects(session.put(good.cid, other.bytes), { name: 'RemoteRefusedError', code: 'REMOTE_REFUSED', status: 'CID_MISMATCH' })
  assert.equal(await store.has(good.cid), false)
  assert.equal(await store.has(other.cid), false)
  assert.ok(events.some(e => e.kind === 'bad-block'))
  // The stream stays usable after a refused block.
  await session.put(good.cid, good.bytes)
  assert.equal(await store.has(good.cid), true)
  await session.close()
})

async function rawStream (sender: any, receiver: any) {
  const stream = await sender.dialProtocol(receiver.getMultiaddrs()[0], CHUNK_PROTOCOL)
  const reader = new FrameReader(stream, { maxFrame: MAX_FRAME_BYTES, maxBuffered: MAX_FRAME_BYTES })
  const closed = new Promise<void>(resolve => stream.addEventListener('close', () => resolve()))
  return { stream, reader, closed }
}

test('F9 a hostile member: malformed, oversized and unknown messages close its stream, the node stays up', async (t) => {
  const { sender, receiver, store, events } = await pair(t)
  // Garbage that is not even a valid header.
  const r1 = await rawStream(sender, receiver)
  r1.stream.send(encodeFrame(new Uint8Array([9, 9, 9])))
  await r1.closed
  // A length prefix past the frame limit.
  const r2 = await rawStream(sender, receiver)
  const huge = new Uint8Array(4); new DataView(huge.buffer).setUint32(0, MAX_FRAME_BYTES + 1)
  r2.stream.send(huge)
  await r2.closed
  // A well-formed header with an unknown type: answered MALFORMED before the stream closes.
  const r3 = await rawStream(sender, receiver)
  r3.stream.send(encodeFrame(new Uint8Array([1, 0x42, 0, 0, 0, 7])))
  const reply = await r3.reader.next().catch(() => undefined)
  if (reply !== undefined) assert.deepEqual(decodeMessage(reply), { type: MsgType.ACK, id: 7, status: Status.MALFORMED })
  await r3.closed
  // A PUT whose CID is not a raw sha2-256 block CID.
  const r4 = await rawStream(sender, receiver)
  const block = await randomBlock(100)
  const [head, tail] = encodeMessage({ type: MsgType.PUT, id: 1, cid: block.cid, bytes: block.bytes })
  head[7 + 1] = 0x70 // codec byte of the CID: dag-pb instead of raw
  r4.stream.send(encodeFrame(head, tail))
  await r4.closed
  assert.equal(events.filter(e => e.kind === 'protocol-error').length >= 4, true, JSON.stringify(events))
  // Nothing was stored, and an honest session still works.
  assert.deepEqual(await collect(store.cids()), [])
  const session = await ChunkSession.open(sender, receiver.getMultiaddrs()[0])
  await session.put(block.cid, block.bytes)
  assert.equal(await store.has(block.cid), true)
  await session.close()
})

test('F9 a peer that is connected but not a member cannot use the chunk protocol', async (t) => {
  const { hosts, stop } = await startHosts(2)
  t.after(stop)
  const [outsider, receiver] = hosts
  const store = await localStore(t)
  const events: ChunkEvent[] = []
  await serveChunks(receiver, { store, isMember: p => p === receiver.peerId.toString(), onEvent: e => events.push(e) })
  const session = await ChunkSession.open(outsider, receiver.getMultiaddrs()[0])
  const b = await randomBlock(10)
  await assert.rejects(session.put(b.cid, b.bytes))
  assert.equal(await store.has(b.cid), false)
  assert.ok(events.some(e => e.kind === 'refused-peer'))
})

test('F9 the gater refuses a peer outside the mesh before any stream opens', async (t) => {
  const { hosts, stop } = await startHosts(2, () => false)
  t.after(stop)
  await assert.rejects(hosts[0].dial(hosts[1].getMultiaddrs()[0]))
  assert.equal(hosts[1].getConnections().length, 0)
})

async function collect<T> (it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

/** A real store whose putMany is slow and which records the most block bytes it held in calls at once. */
function slowStore (inner: BlockStore, delayMs: number): { store: BlockStore, maxHeld: () => number, stored: () => number } {
  let held = 0
  let maxHeld = 0
  let stored = 0
  const store: BlockStore = {
    ...inner,
    has: async c => await inner.has(c),
    hasMany: async c => await inner.hasMany(c),
    get: async (c, o) => await inner.get(c, o),
    put: async (c, b) => { await store.putMany!([{ cid: c, bytes: b }]) },
    flush: async () => { await inner.flush() },
    cids: () => inner.cids(),
    snapshotRoots: async () => await inner.snapshotRoots(),
    addSnapshotRoot: async c => { await inner.addSnapshotRoot(c) },
    getMany: undefined,
    putMany: async (blocks) => {
      const bytes = blocks.reduce((n, b) => n + b.bytes.length, 0)
      held += bytes
      maxHeld = Math.max(maxHeld, held)
      try {
        await new Promise(resolve => setTimeout(resolve, delayMs))
        const out = await storeBlocks(inner, blocks)
        stored += blocks.length
        return out
      } finally {
        held -= bytes
      }
    }
  }
  return { store, maxHeld: () => maxHeld, stored: () => stored }
}

test('F11 a member that ignores acknowledgements cannot make the receiver hold more than its budget', async (t) => {
  const { hosts, stop } = await startHosts(2)
  t.after(stop)
  const [sender, receiver] = hosts
  const slow = slowStore(await localStore(t), 300)
  await serveChunks(receiver, { store: slow.store, isMember: () => true })
  const stream = await sender.dialProtocol(receiver.getMultiaddrs()[0], CHUNK_PROTOCOL)
  // 48 MiB in PUT_BATCHes of 4 MiB (three times the 16 MiB budget; 8 handled at once would be
  // 32 MiB), sent as fast as the transport takes them, replies never read.
  const blocks = await Promise.all(Array.from({ length: 4 }, async () => await randomBlock(1024 * 1024)))
  let id = 0
  for (let i = 0; i < 12; i++) await sendWithBackpressure(stream, encodeFrame(...encodeMessage({ type: MsgType.PUT_BATCH, id: ++id, blocks })))
  await until(() => slow.stored() === 12 * 4)
  assert.ok(slow.maxHeld() <= MAX_FRAME_BYTES, `the receiver held ${slow.maxHeld()} bytes in store calls at once`)
  await stream.close()
})

test('a send to a stream that closed while it was full fails at once instead of waiting for a drain that never comes', async (t) => {
  const { hosts, stop } = await startHosts(2)
  t.after(stop)
  const [sender, receiver] = hosts
  // A receiver that never finishes storing: it stops reading, and the sender's stream fills.
  const stuck = slowStore(await localStore(t), 3_600_000)
  await serveChunks(receiver, { store: stuck.store, isMember: () => true })
  const stream = await sender.dialProtocol(receiver.getMultiaddrs()[0], CHUNK_PROTOCOL)
  const blocks = await Promise.all(Array.from({ length: 4 }, async () => await randomBlock(1024 * 1024)))
  const frame = (): ReturnType<typeof encodeFrame> => encodeFrame(...encodeMessage({ type: MsgType.PUT_BATCH, id: 1, blocks }))
  while (!stream.writableNeedsDrain) stream.send(frame())
  stream.abort(new Error('the peer is gone'))
  const outcome = await Promise.race([
    sendWithBackpressure(stream, frame()).then(() => 'sent', (err: Error) => `failed: ${err.message}`),
    new Promise<string>(resolve => setTimeout(() => resolve('still waiting after 5 s'), 5000).unref())
  ])
  assert.match(outcome, /^failed: /)
})

test('F11 replication keeps at most the window unacknowledged, in PUT_BATCHes, and stores every block', async (t) => {
  const { hosts, stop } = await startHosts(2)
  t.after(stop)
  const [sender, receiver] = hosts
  const slow = slowStore(await localStore(t), 20)
  await serveChunks(receiver, { store: slow.store, isMember: () => true })
  const src = await localStore(t)
  const blocks = await Promise.all(Array.from({ length: 200 }, async (_, i) => await randomBlock(1000 + i * 97)))
  await src.putMany!(blocks)
  const session = await ChunkSession.open(sender, receiver.getMultiaddrs()[0], { windowBytes: 256 * 1024 })
  const r = await replicate(src, session, { batchBytes: 64 * 1024 })
  assert.equal(r.blocksSent, 200)
  assert.ok(slow.maxHeld() <= 256 * 1024, `the receiver held ${slow.maxHeld()} bytes at once`)
  assert.deepEqual(await slow.store.hasMany(blocks.map(b => b.cid)), blocks.map(() => true))
  await session.close()
})

async function until (ok: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && !ok(); i++) await new Promise(resolve => setTimeout(resolve, 50))
  assert.ok(ok(), 'gave up waiting')
}

test('F11 a PUT_BATCH with one wrong block stores the others, refuses that one and reports it', async (t) => {
  const { sender, receiver, store, events } = await pair(t)
  const session = await ChunkSession.open(sender, receiver.getMultiaddrs()[0])
  const [a, b, c] = await Promise.all([3000, 4000, 5000].map(randomBlock))
  const { acked } = await session.sendBatch([a, { cid: b.cid, bytes: c.bytes }, c])
  await assert.rejects(acked, { name: 'RemoteRefusedError', code: 'REMOTE_REFUSED', status: 'CID_MISMATCH' })
  assert.deepEqual(await store.hasMany([a.cid, b.cid, c.cid]), [true, false, true])
  assert.ok(events.some(e => e.kind === 'bad-block' && e.cid === b.cid.toString()))
  await session.close()
})
