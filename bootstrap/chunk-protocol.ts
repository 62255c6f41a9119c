// The chunk-exchange protocol /cairn/chunks/1.0.0: the receiving side (a handler that
// serves a BlockStore to members) and the sending side (a session on one outbound stream).
// Memory stays bounded at any speed: the sender keeps at most its window (send-window.ts: twice
// the link's bandwidth-delay product, 8–16 MiB) of PUTs and PUT_BATCHes unacknowledged and
// waits for the `drain` event when the stream's buffer is full; the receiver handles a few messages at a time, counts the bytes of those it is
// handling against its read budget, and pauses the stream past that budget.
import { CID } from 'multiformats/cid'
import { FrameReader, FrameWriter, encodeFrame } from './frame.ts'
import {
  CHUNK_PROTOCOL, MAX_BATCH, MAX_FRAME_BYTES, MsgType, PutBatchBuilder, Status, decodeMessage, encodeMessage, haveFrame, statusName,
  type Message
} from './chunk-wire.ts'
import { InvalidRetentionRecordError, ProtocolError, RemoteRefusedError, SnapshotNotLockedError, UntrustedReleaseCertificateError } from './errors.ts'
import { BLOCK_CID_LENGTH as BLOCK_CID_BYTES, BlockNotFoundError, CidMismatchError, matchesCid, storeBlocks, type BlockStore } from '../chunkstore/index.ts'
import { abortable, InternalError, throwIfAborted, type AbortOptions } from '../crypto/index.ts'
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { AdminReleaseApplied, ReplicaRetention } from './replica-retention.ts'
import { SendWindow } from './send-window.ts'

export { CHUNK_PROTOCOL }

/** What happened on the receiving side, for the log, the penalty count and the tests. */
export type ChunkEvent =
  | { kind: 'stored', peer: string, blocks: number, bytes: number }
  | { kind: 'bad-block', peer: string, cid: string, reason: string }
  | { kind: 'protocol-error', peer: string, reason: string }
  | { kind: 'refused-peer', peer: string }
  | { kind: 'root-added', peer: string, cid: string, origin: string }
  /** A release of a snapshot root was recorded (replica-retention.ts). */
  | { kind: 'release-received', peer: string, cid: string }
  /** A manifest head or release whose signature is not its origin's: an offence of the sender's. */
  | { kind: 'bad-signature', peer: string, cid: string, what: 'manifest' | 'release' }
  /** An administrator's release ended a lock here (replica-retention.ts), or was refused: for the audit trail. */
  | { kind: 'admin-release', peer: string, applied: AdminReleaseApplied }
  | { kind: 'admin-release-refused', peer: string, reason: string, code: string }
  /** The local store failed (a full disk, say): answered STORE_ERROR; not the peer's fault. */
  | { kind: 'store-error', peer: string, reason: string }

export interface ChunkServerComponents {
  store: BlockStore
  /** Only members may open chunk streams; asked once per stream. */
  isMember: (peer: string) => boolean
  /** Peers banned for misbehaving (see penalties.ts); asked once per stream. */
  isBanned?: (peer: string) => boolean
  onEvent?: (e: ChunkEvent) => void
  /** Roots with signed manifests and releases (replica-retention.ts); without it, both are refused. */
  retention?: Pick<ReplicaRetention, 'addSignedRoot' | 'release' | 'offer'>
  /**
   * Applies an administrator's release at this replica against the certificates it trusts
   * (ReplicaRetention.adminRelease); without it, ADMIN_RELEASE is refused.
   */
  adminRelease?: (bytes: Uint8Array) => Promise<AdminReleaseApplied>
}

export interface ChunkServerInit {
  /**
   * Bytes of one stream's frames held at once — read but not yet handled, plus those being
   * handled — before the stream is paused. Default 16 MiB (one largest frame); an honest
   * sender's window (8–16 MiB, send-window.ts) fits in it.
   */
  maxBuffered?: number
  /** PUT/HAVE/GET messages of one stream handled at the same time. Default 8. */
  concurrency?: number
}

/** Registers the receiving side on `host`. Returns a function that unregisters it. */
export async function serveChunks (host: Pick<Libp2p, 'handle' | 'unhandle'>, components: ChunkServerComponents, init: ChunkServerInit = {}): Promise<() => Promise<void>> {
  await host.handle(CHUNK_PROTOCOL, async (stream: Stream, connection: Connection) => {
    await handleChunkStream(stream, connection.remotePeer.toString(), components, init)
  }, { maxInboundStreams: 4 })
  return async () => { await host.unhandle(CHUNK_PROTOCOL) }
}

export async function handleChunkStream (stream: Stream, peer: string, components: ChunkServerComponents, init: ChunkServerInit = {}): Promise<void> {
  const { onEvent } = components
  if (!components.isMember(peer) || components.isBanned?.(peer) === true) {
    onEvent?.({ kind: 'refused-peer', peer })
    stream.abort(new ProtocolError('not a member, or banned'))
    return
  }
  const budget = Math.max(init.maxBuffered ?? 16 * 1024 * 1024, MAX_FRAME_BYTES)
  const reader = new FrameReader(stream, { maxFrame: MAX_FRAME_BYTES, maxBuffered: budget })
  const writer = new FrameWriter(stream)
  const reply = async (m: Message): Promise<void> => { await writer.write(encodeFrame(...encodeMessage(m))) }
  const concurrency = init.concurrency ?? 8
  const inflight = new Set<Promise<void>>()
  let inflightBytes = 0
  let failure: unknown
  // Frames being handled count against the budget too: the reader only accounts for unread ones.
  const start = async (bytes: number, work: () => Promise<void>): Promise<void> => {
    while (inflight.size > 0 && (inflight.size >= concurrency || inflightBytes + bytes > budget)) await Promise.race(inflight)
    inflightBytes += bytes
    const job: Promise<void> = work()
      .catch((err) => { failure ??= err })
      .finally(() => { inflight.delete(job); inflightBytes -= bytes })
    inflight.add(job)
  }
  // PUTs already received are stored as one group: one index lookup, one write of their ACKs.
  let puts: PutMessage[] = []
  let putBytes = 0
  const startPuts = async (): Promise<void> => {
    if (puts.length === 0) return
    const group = puts
    const bytes = putBytes
    puts = []
    putBytes = 0
    await start(bytes, async () => {
      await storeAll(group, peer, components, async (statuses) => {
        await Promise.all(group.map(async (m, i) => { await reply({ type: MsgType.ACK, id: m.id, status: statuses[i] }) }))
      })
    })
  }
  const groupBytes = Math.max(budget / 4, 1)
  try {
    for (;;) {
      const body = await reader.nextList()
      if (body === undefined) break
      let m: Message
      try {
        m = decodeMessage(body)
      } catch (err: any) {
        onEvent?.({ kind: 'protocol-error', peer, reason: err.message })
        // Tell the peer why, when we can still find the request id, then drop the stream.
        if (body.byteLength >= 6) await reply({ type: MsgType.ACK, id: body.getUint32(2), status: Status.MALFORMED }).catch(() => {})
        stream.abort(err)
        return
      }
      // HAVE, PUT and GET of different blocks run side by side (store I/O overlaps the
      // network); FLUSH, ROOTS and ADD_ROOT wait for everything before them, so a FLUSH
      // covers every PUT sent earlier on the stream.
      if (m.type === MsgType.PUT) {
        puts.push(m)
        putBytes += body.byteLength
        if (reader.waiting === 0 || putBytes >= groupBytes || puts.length >= MAX_GROUP) await startPuts()
      } else if (m.type === MsgType.PUT_BATCH) {
        await startPuts()
        const batch = m
        await start(body.byteLength, async () => {
          await storeAll(batch.blocks, peer, components, async (statuses) => { await reply({ type: MsgType.BATCH_ACK, id: batch.id, statuses }) })
        })
      } else if (m.type === MsgType.HAVE || m.type === MsgType.GET) {
        await startPuts()
        const request = m
        await start(body.byteLength, async () => { await serveOne(request, peer, components, reply) })
      } else {
        await startPuts()
        await Promise.all(inflight)
        await serveOne(m, peer, components, reply)
      }
      if (failure !== undefined) throw failure
    }
    await startPuts()
    await Promise.all(inflight)
    if (failure !== undefined) throw failure
    await stream.close().catch(() => {})
  } catch (err: any) {
    onEvent?.({ kind: 'protocol-error', peer, reason: err.message })
    stream.abort(err)
  }
}

type PutMessage = Extract<Message, { type: typeof MsgType.PUT }>
/** PUTs stored together at most (their bytes are bounded by a quarter of the read budget). */
const MAX_GROUP = 1024

/**
 * Stores blocks in one store call and answers with a status per block, then reports them.
 * The store hashes the bytes and refuses a mismatch before storing anything, and putting a
 * block it has is a no-op (BlockStore contract), so one hash pass suffices.
 */
async function storeAll (blocks: ReadonlyArray<{ cid: CID, bytes: Uint8Array }>, peer: string, c: ChunkServerComponents, answer: (statuses: number[]) => Promise<void>): Promise<number[]> {
  let refused: Array<Error | undefined>
  try {
    refused = await storeBlocks(c.store, blocks)
  } catch (err) {
    refused = blocks.map(() => err instanceof Error ? err : new InternalError(String(err)))
  }
  const statuses = refused.map(e => e === undefined ? Status.OK : e instanceof CidMismatchError ? Status.CID_MISMATCH : Status.STORE_ERROR)
  // Answer first: an event may ban the peer and close its connection.
  await answer(statuses)
  let stored = 0
  let bytes = 0
  blocks.forEach((b, i) => {
    if (statuses[i] === Status.OK) { stored++; bytes += b.bytes.length } else if (statuses[i] === Status.CID_MISMATCH) c.onEvent?.({ kind: 'bad-block', peer, cid: b.cid.toString(), reason: 'bytes do not match the CID' })
  })
  if (stored > 0) c.onEvent?.({ kind: 'stored', peer, blocks: stored, bytes })
  return statuses
}

async function serveOne (m: Message, peer: string, c: ChunkServerComponents, reply: (m: Message) => Promise<void>): Promise<void> {
  const { store, onEvent } = c
  switch (m.type) {
    case MsgType.HAVE:
      await reply({ type: MsgType.HAVE_REPLY, id: m.id, have: await store.hasMany(m.cids) })
      return
    case MsgType.GET: {
      let bytes: Uint8Array
      try {
        bytes = await store.get(m.cid, { verify: true })
      } catch (err) {
        await reply({ type: MsgType.BLOCK, id: m.id, status: err instanceof BlockNotFoundError ? Status.NOT_FOUND : Status.STORE_ERROR })
        return
      }
      await reply({ type: MsgType.BLOCK, id: m.id, status: Status.OK, bytes })
      return
    }
    case MsgType.FLUSH:
      if (!await storeStep(() => store.flush(), m.id, peer, c, reply)) return
      await reply({ type: MsgType.ACK, id: m.id, status: Status.OK })
      return
    case MsgType.ROOTS: {
      const roots = await store.snapshotRoots()
      // Sent in batches under the same request id; the last batch is the short one.
      for (let i = 0; ; i += MAX_BATCH) {
        const part = roots.slice(i, i + MAX_BATCH)
        await reply({ type: MsgType.ROOTS_REPLY, id: m.id, cids: part })
        if (part.length < MAX_BATCH) return
      }
    }
    case MsgType.ADD_ROOT: case MsgType.ADD_ROOT_FROM: {
      // A root is listed only once its record block is durable here. Its origin is the site
      // the sender names (ADD_ROOT: the sender itself), and must at least be a PeerId.
      const origin = m.type === MsgType.ADD_ROOT_FROM ? m.origin : peer
      if (!isPeerId(origin)) {
        await reply({ type: MsgType.ACK, id: m.id, status: Status.MALFORMED })
        return
      }
      if (!await store.has(m.cid)) {
        await reply({ type: MsgType.ACK, id: m.id, status: Status.NOT_FOUND })
        return
      }
      if (!await storeStep(async () => { await store.flush(); await store.addSnapshotRoot(m.cid, { site: origin, received: new Date().toISOString() }) }, m.id, peer, c, reply)) return
      onEvent?.({ kind: 'root-added', peer, cid: m.cid.toString(), origin })
      await reply({ type: MsgType.ACK, id: m.id, status: Status.OK })
      return
    }
    case MsgType.OFFER_ROOT: {
      let status = Status.REFUSED as number
      const retention = c.retention
      if (retention !== undefined && !await storeStep(async () => { status = await retention.offer(m.cid, m.head, peer) }, m.id, peer, c, reply)) return
      await reply({ type: MsgType.ACK, id: m.id, status })
      if (status === Status.BAD_SIGNATURE) onEvent?.({ kind: 'bad-signature', peer, cid: m.head.toString(), what: 'manifest' })
      return
    }
    case MsgType.ADD_ROOT_SIGNED: case MsgType.RELEASE: {
      const what = m.type === MsgType.RELEASE ? 'release' : 'manifest'
      if (c.retention === undefined) {
        await reply({ type: MsgType.ACK, id: m.id, status: Status.REFUSED })
        return
      }
      let status = Status.STORE_ERROR as number
      let origin = ''
      const retention = c.retention
      if (!await storeStep(async () => {
        if (m.type === MsgType.RELEASE) status = await retention.release(m.cid)
        else ({ status, origin } = await retention.addSignedRoot(m.cid, m.head, m.lockDays))
      }, m.id, peer, c, reply)) return
      await reply({ type: MsgType.ACK, id: m.id, status })
      if (status === Status.BAD_SIGNATURE) onEvent?.({ kind: 'bad-signature', peer, cid: m.cid.toString(), what })
      else if (status === Status.OK && m.type === MsgType.RELEASE) onEvent?.({ kind: 'release-received', peer, cid: m.cid.toString() })
      else if (status === Status.OK) onEvent?.({ kind: 'root-added', peer, cid: m.cid.toString(), origin })
      return
    }
    case MsgType.ADMIN_RELEASE: {
      // Checked before anything is stored; a refusal is no offence (the sender relays what an
      // administrator signed, and only this replica knows whom it trusts).
      const apply = c.adminRelease
      let status = Status.REFUSED as number
      let applied: AdminReleaseApplied | undefined
      let refusal: InvalidRetentionRecordError | UntrustedReleaseCertificateError | SnapshotNotLockedError | undefined
      if (apply !== undefined && !await storeStep(async () => {
        try {
          applied = await apply(m.bytes)
          status = Status.OK
        } catch (err) {
          if (err instanceof SnapshotNotLockedError) status = Status.NOT_FOUND
          else if (err instanceof UntrustedReleaseCertificateError) status = Status.REFUSED
          else if (err instanceof InvalidRetentionRecordError) status = Status.BAD_SIGNATURE
          else throw err
          refusal = err
        }
      }, m.id, peer, c, reply)) return
      await reply({ type: MsgType.ACK, id: m.id, status })
      if (applied !== undefined) onEvent?.({ kind: 'admin-release', peer, applied })
      else if (refusal !== undefined) onEvent?.({ kind: 'admin-release-refused', peer, reason: refusal.message, code: refusal.code })
      return
    }
    default:
      throw new ProtocolError(`message type 0x${m.type.toString(16)} is a reply, not a request`)
  }
}

/**
 * Runs a step of the local store for request `id`. When it fails (a full disk, a damaged
 * index), the peer gets STORE_ERROR and the stream goes on: it is no offence of the peer's.
 */
async function storeStep (step: () => Promise<void>, id: number, peer: string, c: ChunkServerComponents, reply: (m: Message) => Promise<void>): Promise<boolean> {
  try {
    await step()
    return true
  } catch (err: any) {
    c.onEvent?.({ kind: 'store-error', peer, reason: err?.message ?? String(err) })
    await reply({ type: MsgType.ACK, id, status: Status.STORE_ERROR })
    return false
  }
}

export interface ChunkSessionInit {
  /** Bytes of PUTs sent but not yet acknowledged, fixed. Default: adapted to the link's bandwidth-delay product, 8–16 MiB (send-window.ts). */
  windowBytes?: number
}

/**
 * The sending side of one chunk stream. Requests may be issued concurrently; `put` waits
 * while the window is full. `bytesSent` counts every byte this session wrote to the wire.
 * Every request takes `{ signal }`: once it is aborted, the request stops waiting for its
 * answer with OperationAbortedError (the stream stays usable; the late answer is dropped).
 */
export class ChunkSession {
  bytesSent = 0
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (m: Message) => void, reject: (e: Error) => void, multi?: Message[] }>()
  private readonly reader: FrameReader
  private readonly writer: FrameWriter
  private inflight = 0
  private readonly window: SendWindow
  private windowWaiters: Array<() => void> = []
  private failure: Error | undefined
  private readonly done: Promise<void>

  constructor (readonly stream: Stream, init: ChunkSessionInit = {}) {
    this.window = new SendWindow(init.windowBytes)
    this.reader = new FrameReader(stream, { maxFrame: MAX_FRAME_BYTES, maxBuffered: 32 * 1024 * 1024 })
    this.writer = new FrameWriter(stream)
    this.done = this.readReplies()
  }

  static async open (host: Pick<Libp2p, 'dialProtocol'>, peer: Parameters<Libp2p['dialProtocol']>[0], init: ChunkSessionInit & AbortOptions = {}): Promise<ChunkSession> {
    const stream = await host.dialProtocol(peer, CHUNK_PROTOCOL, { signal: init.signal })
    return new ChunkSession(stream, init)
  }

  private async readReplies (): Promise<void> {
    try {
      for (;;) {
        const body = await this.reader.nextList()
        if (body === undefined) throw new ProtocolError('the peer closed the chunk stream')
        const m = decodeMessage(body)
        const p = this.pending.get(m.id)
        if (p === undefined) throw new ProtocolError(`a reply to unknown request ${m.id}`)
        if (m.type === MsgType.ROOTS_REPLY && m.cids.length === MAX_BATCH) {
          (p.multi ??= []).push(m)
          continue
        }
        this.pending.delete(m.id)
        if (p.multi !== undefined && m.type === MsgType.ROOTS_REPLY) {
          p.resolve({ type: MsgType.ROOTS_REPLY, id: m.id, cids: [...p.multi.flatMap(x => x.type === MsgType.ROOTS_REPLY ? x.cids : []), ...m.cids] })
        } else {
          p.resolve(m)
        }
      }
    } catch (err: any) {
      this.fail(err)
    }
  }

  private fail (err: Error): void {
    if (this.failure !== undefined) return
    this.failure = err
    for (const p of this.pending.values()) p.reject(err)
    this.pending.clear()
    for (const w of this.windowWaiters) w()
    this.windowWaiters = []
  }

  private async request (m: WithoutId<Message>, options?: AbortOptions): Promise<Message> {
    return await this.requestFrame(id => encodeFrame(...encodeMessage({ ...m, id } as Message)), options)
  }

  /** Sends the frame `make` builds for a fresh request id; resolves with the reply. */
  private async requestFrame (make: (id: number) => Uint8Array | Uint8ArrayList, options?: AbortOptions): Promise<Message> {
    throwIfAborted(options?.signal, 'A request to a peer')
    if (this.failure !== undefined) throw this.failure
    const id = this.nextId++
    const answer = new Promise<Message>((resolve, reject) => { this.pending.set(id, { resolve, reject }) })
    // The session may fail while the frame waits in the writer's batch; it is awaited below.
    answer.catch(() => {})
    const frame = make(id)
    this.bytesSent += frame.byteLength
    try {
      await this.writer.write(frame)
    } catch (err: any) {
      this.fail(err)
    }
    return await abortable(answer, options?.signal, 'A request to a peer')
  }

  async have (cids: CID[], options?: AbortOptions): Promise<boolean[]> {
    const out: boolean[] = []
    for (let i = 0; i < cids.length; i += MAX_BATCH) {
      const part = cids.slice(i, i + MAX_BATCH)
      if (part.some(c => c.bytes.length !== BLOCK_CID_BYTES)) throw new ProtocolError('HAVE takes block CIDs (CIDv1 raw sha2-256) only')
      const packed = new Uint8Array(part.length * BLOCK_CID_BYTES)
      part.forEach((c, j) => { packed.set(c.bytes, j * BLOCK_CID_BYTES) })
      out.push(...await this.haveRaw(packed, part.length, options))
    }
    return out
  }

  /** `have` for `count` packed 36-byte block CIDs (at most MAX_BATCH). */
  async haveRaw (cids: Uint8Array, count: number, options?: AbortOptions): Promise<boolean[]> {
    const r = await this.requestFrame(id => haveFrame(id, cids, count), options)
    if (r.type !== MsgType.HAVE_REPLY || r.have.length !== count) throw new ProtocolError('HAVE was not answered with as many answers as CIDs')
    return r.have
  }

  /** Sends one block; resolves when the peer acknowledged it. Waits first while the window is full. */
  async put (cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<void> {
    await this.reserve(bytes.length, options)
    try {
      const r = await this.request({ type: MsgType.PUT, cid, bytes }, options)
      expectOk(r, `block ${cid.toString()}`)
    } finally {
      this.release(bytes.length)
    }
  }

  /** Waits while the window has no room for `bytes` more (a lone PUT always fits), then takes them. */
  private async reserve (bytes: number, options?: AbortOptions): Promise<void> {
    while (this.inflight > 0 && this.inflight + bytes > this.window.bytes) {
      if (this.failure !== undefined) throw this.failure
      throwIfAborted(options?.signal, 'A request to a peer')
      await new Promise<void>(resolve => this.windowWaiters.push(resolve))
    }
    if (this.failure !== undefined) throw this.failure
    this.inflight += bytes
  }

  private release (bytes: number): void {
    this.inflight -= bytes
    const w = this.windowWaiters.shift()
    w?.()
  }

  /** The window grew: every waiter looks again (each takes its bytes or waits anew). */
  private wakeWindowWaiters (): void {
    const waiting = this.windowWaiters
    this.windowWaiters = []
    for (const w of waiting) w()
  }

  /**
   * Sends blocks in one PUT_BATCH once the window has room for their bytes, without waiting
   * for the acknowledgement: resolves with the promise of it (which rejects, naming the
   * block, when the peer refused any), so a caller keeps several batches in flight while the
   * window bounds the bytes unacknowledged.
   */
  async sendBatch (batch: PutBatchBuilder | Array<{ cid: CID, bytes: Uint8Array }>, options?: AbortOptions): Promise<{ acked: Promise<void> }> {
    let built: PutBatchBuilder
    if (Array.isArray(batch)) {
      built = new PutBatchBuilder(batch.reduce((n, b) => n + b.bytes.length, 0), Math.max(1, batch.length))
      for (const b of batch) built.add(b.cid.bytes, b.bytes)
    } else {
      built = batch
    }
    const bytes = built.bytes
    await this.reserve(bytes, options)
    const sentAt = performance.now()
    const acked = this.requestFrame(id => built.frame(id), options)
      .then(r => {
        if (this.window.acked(bytes, performance.now() - sentAt)) this.wakeWindowWaiters()
        if (r.type !== MsgType.BATCH_ACK || r.statuses.length !== built.count) throw new ProtocolError('PUT_BATCH was not answered with a status per block')
        const bad = r.statuses.findIndex(s => s !== Status.OK)
        if (bad >= 0) throw new RemoteRefusedError(statusName(r.statuses[bad]), `block ${CID.decode(built.cids[bad]).toString()}`)
      })
      .finally(() => { this.release(bytes) })
    acked.catch(() => {}) // the caller awaits it; a failure before then must not go unhandled
    return { acked }
  }

  async get (cid: CID, options?: AbortOptions): Promise<Uint8Array> {
    const r = await this.request({ type: MsgType.GET, cid }, options)
    if (r.type !== MsgType.BLOCK) throw new ProtocolError('GET was not answered with a BLOCK')
    if (r.status !== Status.OK || r.bytes === undefined) throw new RemoteRefusedError(statusName(r.status), `block ${cid.toString()}`)
    if (!matchesCid(cid, r.bytes)) throw new RemoteRefusedError('CID_MISMATCH', `block ${cid.toString()} (the peer sent other bytes)`)
    return r.bytes
  }

  async flush (options?: AbortOptions): Promise<void> {
    expectOk(await this.request({ type: MsgType.FLUSH }, options), 'flush')
  }

  async roots (options?: AbortOptions): Promise<CID[]> {
    const r = await this.request({ type: MsgType.ROOTS }, options)
    if (r.type !== MsgType.ROOTS_REPLY) throw new ProtocolError('ROOTS was not answered with ROOTS_REPLY')
    return r.cids
  }

  /** Lists a snapshot root at the peer, naming the site whose backup it is (none: this node's). */
  async addRoot (cid: CID, origin?: string, options?: AbortOptions): Promise<void> {
    const m = origin === undefined ? { type: MsgType.ADD_ROOT, cid } as const : { type: MsgType.ADD_ROOT_FROM, cid, origin } as const
    expectOk(await this.request(m, options), `snapshot root ${cid.toString()}`)
  }

  /** Lists `root` at the peer with its signed manifest head `head` (a block the peer holds), asking for a lock of `lockDays`. */
  async addSignedRoot (root: CID, head: CID, lockDays: number, options?: AbortOptions): Promise<void> {
    expectOk(await this.request({ type: MsgType.ADD_ROOT_SIGNED, cid: root, head, lockDays }, options), `snapshot root ${root.toString()} with its manifest`)
  }

  /** Offers `root` with its manifest head (a block the peer holds, its pages too) before its blocks: answered QUOTA when the peer's quota for its origin is full. */
  async offerRoot (root: CID, head: CID, options?: AbortOptions): Promise<number> {
    const r = await this.request({ type: MsgType.OFFER_ROOT, cid: root, head }, options)
    if (r.type !== MsgType.ACK) throw new ProtocolError(`expected ACK, got type 0x${r.type.toString(16)}`)
    return r.status
  }

  /** Hands the peer a release (a block it holds) signed by the root's origin. */
  async sendRelease (release: CID, options?: AbortOptions): Promise<void> {
    expectOk(await this.request({ type: MsgType.RELEASE, cid: release }, options), `release ${release.toString()}`)
  }

  /** Hands the peer an administrator's release (its bytes); answers the peer's status: OK applied, NOT_FOUND no lock there, REFUSED an untrusted certificate, BAD_SIGNATURE not valid. */
  async sendAdminRelease (bytes: Uint8Array, options?: AbortOptions): Promise<number> {
    const r = await this.request({ type: MsgType.ADMIN_RELEASE, bytes }, options)
    if (r.type !== MsgType.ACK) throw new ProtocolError(`expected ACK, got type 0x${r.type.toString(16)}`)
    return r.status
  }

  async close (): Promise<void> {
    await this.stream.close().catch(() => {})
    this.fail(new ProtocolError('session closed'))
    await this.done
  }
}

type WithoutId<M> = M extends unknown ? Omit<M, 'id'> : never

function expectOk (r: Message, what: string): void {
  if (r.type !== MsgType.ACK) throw new ProtocolError(`expected an ACK for ${what}`)
  if (r.status !== Status.OK) throw new RemoteRefusedError(statusName(r.status), what)
}

function isPeerId (s: string): boolean {
  try { peerIdFromString(s); return true } catch { return false }
}
