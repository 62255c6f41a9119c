// Length-prefixed frames over a libp2p stream: a 4-byte big-endian length, then that many
// bytes. The reader never holds more than `maxBuffered` bytes: past it the stream is paused
// (yamux stops granting window, so an honest sender waits), and a peer that keeps sending
// into a paused stream overflows libp2p's read buffer and is reset.
import { Uint8ArrayList } from 'uint8arraylist'
import { FrameTooLargeError, ProtocolError } from './errors.ts'
import type { Stream } from '@libp2p/interface'

export const FRAME_HEADER_BYTES = 4

/** One frame around a body given in parts (sent without copying them). */
export function encodeFrame (...parts: Uint8Array[]): Uint8ArrayList {
  const head = new Uint8Array(FRAME_HEADER_BYTES)
  new DataView(head.buffer).setUint32(0, parts.reduce((n, p) => n + p.byteLength, 0))
  return new Uint8ArrayList(head, ...parts)
}

export interface FrameReaderInit {
  /** Largest frame body accepted; a larger length prefix aborts the stream. */
  maxFrame: number
  /** Bytes held (unparsed plus parsed-but-unread) before the stream is paused. */
  maxBuffered: number
}

/**
 * Reads frames from a stream. `next()` resolves with the next frame body, or `undefined`
 * once the remote closed its end; it rejects on a protocol violation (after aborting the stream).
 */
export class FrameReader {
  private readonly buf = new Uint8ArrayList()
  /** Frame bodies as views of the bytes received (no copy until a reader asks for one piece). */
  private readonly ready: Uint8ArrayList[] = []
  private readyBytes = 0
  private ended = false
  private failure: Error | undefined
  private waiter: (() => void) | undefined

  constructor (private readonly stream: Stream, private readonly init: FrameReaderInit) {
    // libp2p's own read buffer only fills while we are paused; keep it near our budget.
    stream.maxReadBufferLength = Math.max(init.maxBuffered, init.maxFrame) + 1024 * 1024
    stream.addEventListener('message', (evt) => { this.onData(evt.data) })
    stream.addEventListener('remoteCloseWrite', () => { this.ended = true; this.wake() })
    stream.addEventListener('close', (evt) => {
      this.ended = true
      if (evt.error !== undefined && this.failure === undefined) this.failure = evt.error
      this.wake()
    })
  }

  private onData (data: Uint8Array | Uint8ArrayList): void {
    if (this.failure !== undefined) return
    this.buf.append(data)
    try {
      while (this.buf.byteLength >= FRAME_HEADER_BYTES) {
        const len = this.buf.getUint32(0)
        if (len > this.init.maxFrame) throw new FrameTooLargeError(len, this.init.maxFrame)
        if (this.buf.byteLength < FRAME_HEADER_BYTES + len) break
        const body = this.buf.sublist(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + len)
        this.buf.consume(FRAME_HEADER_BYTES + len)
        this.ready.push(body)
        this.readyBytes += len
      }
    } catch (err: any) {
      this.fail(err)
      return
    }
    if (this.readyBytes + this.buf.byteLength > this.init.maxBuffered && this.stream.readStatus === 'readable') {
      this.stream.pause()
    }
    this.wake()
  }

  private fail (err: Error): void {
    this.failure = err
    this.ready.length = 0
    this.readyBytes = 0
    this.stream.abort(err)
    this.wake()
  }

  private wake (): void {
    const w = this.waiter
    this.waiter = undefined
    w?.()
  }

  /** Frames received and not yet read: `next()` returns the first of them without waiting. */
  get waiting (): number {
    return this.ready.length
  }

  /** The next frame body in one piece (joined when it arrived in several). */
  async next (): Promise<Uint8Array | undefined> {
    return (await this.nextList())?.subarray()
  }

  /** The next frame body as received: a list of views, joined by nobody (see decodeMessage). */
  async nextList (): Promise<Uint8ArrayList | undefined> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure
      const body = this.ready.shift()
      if (body !== undefined) {
        this.readyBytes -= body.byteLength
        if (this.stream.readStatus === 'paused' && this.readyBytes + this.buf.byteLength <= this.init.maxBuffered / 2) {
          this.stream.resume()
        }
        return body
      }
      if (this.ended) {
        if (this.buf.byteLength > 0) throw new ProtocolError(`stream ended inside a frame (${this.buf.byteLength} bytes left over)`)
        return undefined
      }
      await new Promise<void>(resolve => { this.waiter = resolve })
    }
  }
}

/**
 * Sends bytes, waiting for the `drain` event whenever the stream's send buffer is full.
 * (`onDrain()` resolves only once per stream in this libp2p version, so the event is used.)
 */
export async function sendWithBackpressure (stream: Stream, data: Uint8Array | Uint8ArrayList): Promise<void> {
  if (stream.writableNeedsDrain) await drained(stream)
  if (!stream.send(data)) await drained(stream)
}

async function drained (stream: Stream): Promise<void> {
  if (!stream.writableNeedsDrain) return
  // A stream that closed while full keeps writableNeedsDrain: its 'close' has passed, and no
  // 'drain' will come (a replication to a peer killed mid-run waited here for ever).
  if (stream.status !== 'open' || stream.writeStatus !== 'writable') throw new ProtocolError('the stream closed while waiting to send')
  await new Promise<void>((resolve, reject) => {
    const onDrain = (): void => { cleanup(); resolve() }
    const onClose = (evt: any): void => { cleanup(); reject(evt.error ?? new ProtocolError('stream closed while waiting to send')) }
    const cleanup = (): void => {
      stream.removeEventListener('drain', onDrain)
      stream.removeEventListener('close', onClose)
    }
    stream.addEventListener('drain', onDrain)
    stream.addEventListener('close', onClose)
  })
}

/** One JSON request, one JSON response, on a fresh stream; used by the small control protocols. */
export async function exchangeJson (stream: Stream, request: unknown, maxFrame = 1024 * 1024): Promise<unknown> {
  const reader = new FrameReader(stream, { maxFrame, maxBuffered: maxFrame })
  await sendWithBackpressure(stream, encodeFrame(new TextEncoder().encode(JSON.stringify(request))))
  const body = await reader.next()
  if (body === undefined) throw new ProtocolError('the peer closed the stream without answering')
  return parseJsonFrame(body)
}

export function parseJsonFrame (body: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body))
  } catch (err) {
    throw new ProtocolError('a frame that should hold JSON does not parse', { cause: err })
  }
}

export function jsonFrame (value: unknown): Uint8ArrayList {
  return encodeFrame(new TextEncoder().encode(JSON.stringify(value)))
}

/**
 * Coalesces small frames into one `send` per event-loop turn (or per `maxBatch` bytes):
 * each send costs a yamux frame, a noise message and a socket write, which dominate for
 * small blocks and acknowledgements. `write` resolves once the frame's batch was handed to
 * the stream, after a `drain` when the stream's buffer was full, so callers keep backpressure.
 */
export class FrameWriter {
  private batch = newBatch()
  private chain: Promise<void> = Promise.resolve()
  private scheduled = false

  constructor (private readonly stream: Stream, private readonly maxBatch = 256 * 1024) {}

  async write (frame: Uint8Array | Uint8ArrayList): Promise<void> {
    const batch = this.batch
    batch.list.append(frame)
    if (batch.list.byteLength >= this.maxBatch) {
      this.flush()
    } else if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => { this.scheduled = false; this.flush() })
    }
    await batch.sent
  }

  private flush (): void {
    const batch = this.batch
    if (batch.list.byteLength === 0) return
    this.batch = newBatch()
    this.chain = this.chain.then(async () => { await sendWithBackpressure(this.stream, batch.list) })
      .then(batch.resolve, (err) => { batch.reject(err); throw err })
      .catch(() => {})
  }
}

function newBatch (): { list: Uint8ArrayList, sent: Promise<void>, resolve: () => void, reject: (e: unknown) => void } {
  let resolve!: () => void
  let reject!: (e: unknown) => void
  const sent = new Promise<void>((res, rej) => { resolve = res; reject = rej })
  sent.catch(() => {})
  return { list: new Uint8ArrayList(), sent, resolve, reject }
}
