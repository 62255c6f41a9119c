// A wide-area link between two nodes on 127.0.0.1, in user space (this machine's kernel has no
// netem): a TCP proxy that listens on a port of its own and forwards each connection to a
// target, delaying and pacing every byte the way a real link does. In each direction, bytes
// are serialised onto the link at its rate (a token bucket of one packet: a segment starts when
// the previous one has left), then arrive RTT/2 later. What the link holds — on the wire and
// queued before it — is bounded: past `rate × RTT/2 + queueBytes` the proxy stops reading the
// source socket (TCP backpressure reaches the sender), and it counts bytes as gone only once
// the destination socket took them. A test fixture and a bench part, never a production path.
import { createConnection, createServer, type Server, type Socket } from 'node:net'

export interface WanLinkInit {
  /** Where each accepted connection is forwarded: the real listening address of a node. */
  target: { host: string, port: number }
  /** Round-trip time the link adds; each direction delays by half of it. */
  rttMs: number
  /** The link's rate in each direction, bits per second. Absent: no cap, only the delay. */
  bitsPerSecond?: number
  /**
   * Bytes queued in one direction in front of the link (a router's buffer), on top of what is
   * on the wire (rate × RTT/2). Default: one bandwidth-delay product of that direction, or
   * 4 MiB without a rate cap.
   */
  queueBytes?: number
  /** Port to listen on (127.0.0.1). Default: any free one. */
  port?: number
}

export interface WanLinkStats {
  /** Connections accepted so far. */
  connections: number
  /** Bytes delivered towards the target, and back. */
  forwardBytes: number
  backBytes: number
  /** The most bytes one direction of one connection held at once (read, not yet taken by the destination). */
  peakHeldBytes: number
  /** Bytes held now, towards the target and back, over all connections. */
  heldForward: number
  heldBack: number
}

export interface WanLink {
  readonly host: string
  readonly port: number
  /** The most bytes one direction may hold before it pauses its source. */
  readonly holdLimit: number
  /** `/ip4/127.0.0.1/tcp/PORT`, what a node announces to be reached through this link. */
  readonly multiaddr: string
  stats: () => WanLinkStats
  /** Stops listening and cuts every connection. */
  close: () => Promise<void>
}

/** Largest piece timed as one unit: a TCP segment burst; finer pieces only cost timers. */
const SEGMENT_BYTES = 16 * 1024

export async function startWanLink (init: WanLinkInit): Promise<WanLink> {
  if (!(init.rttMs >= 0)) throw new RangeError(`rttMs must be 0 or more, not ${init.rttMs}`)
  if (init.bitsPerSecond !== undefined && !(init.bitsPerSecond > 0)) throw new RangeError(`bitsPerSecond must be positive, not ${init.bitsPerSecond}`)
  const oneWayMs = init.rttMs / 2
  const bytesPerMs = init.bitsPerSecond === undefined ? Infinity : init.bitsPerSecond / 8 / 1000
  const onWire = Number.isFinite(bytesPerMs) ? bytesPerMs * oneWayMs : 0
  const queueBytes = init.queueBytes ?? (Number.isFinite(bytesPerMs) ? Math.max(onWire, 64 * 1024) : 4 * 1024 * 1024)
  const holdLimit = Math.ceil(onWire + queueBytes)
  const stats: WanLinkStats = { connections: 0, forwardBytes: 0, backBytes: 0, peakHeldBytes: 0, heldForward: 0, heldBack: 0 }
  const sockets = new Set<Socket>()

  // Half-open allowed on both sockets: an end from one side is passed on after the bytes before it.
  const server: Server = createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
    stats.connections++
    const upstream = createConnection({ host: init.target.host, port: init.target.port, noDelay: true, allowHalfOpen: true })
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => { sockets.delete(s) })
      // Either end failing ends the connection, as a link going down would.
      s.on('error', () => { client.destroy(); upstream.destroy() })
    }
    const forward = new OneWay(client, upstream, { oneWayMs, bytesPerMs, holdLimit }, (change, held) => {
      stats.heldForward += change
      if (change < 0) stats.forwardBytes -= change
      stats.peakHeldBytes = Math.max(stats.peakHeldBytes, held)
    })
    const back = new OneWay(upstream, client, { oneWayMs, bytesPerMs, holdLimit }, (change, held) => {
      stats.heldBack += change
      if (change < 0) stats.backBytes -= change
      stats.peakHeldBytes = Math.max(stats.peakHeldBytes, held)
    })
    // A socket closed: nothing more can be written to it; the other direction finishes on its own.
    client.on('close', () => { back.stop() })
    upstream.on('close', () => { forward.stop() })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.port ?? 0, '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the WAN link did not get a TCP port')
  return {
    host: '127.0.0.1',
    port: address.port,
    holdLimit,
    multiaddr: `/ip4/127.0.0.1/tcp/${address.port}`,
    stats: () => ({ ...stats }),
    async close () {
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}

interface OneWayInit { oneWayMs: number, bytesPerMs: number, holdLimit: number }

/** One direction of one connection: source socket → (serialise at the rate, then delay) → destination socket. */
class OneWay {
  /** Pieces in arrival order with the time each reaches the far end (non-decreasing). */
  private readonly queue: Array<{ at: number, data: Buffer }> = []
  private head = 0
  /** When the link has finished serialising everything it was given so far. */
  private wireFreeAt = 0
  /** Bytes read from the source and not yet taken by the destination. */
  private holding = 0
  private timer: NodeJS.Timeout | undefined
  private timerAt = Infinity
  private sourceEnded = false
  private stopped = false

  /** `held` is told each change of the bytes held: positive as they arrive, negative once delivered. */
  constructor (private readonly from: Socket, private readonly to: Socket, private readonly init: OneWayInit,
    private readonly held: (change: number, heldNow: number) => void) {
    from.on('data', (d: Buffer) => { this.arrive(d) })
    from.on('end', () => { this.sourceEnded = true; this.endIfDone() })
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
    this.queue.length = 0
    this.head = 0
  }

  private arrive (data: Buffer): void {
    if (this.stopped) return
    const now = performance.now()
    for (let off = 0; off < data.length; off += SEGMENT_BYTES) {
      const piece = data.subarray(off, off + SEGMENT_BYTES)
      const start = Math.max(now, this.wireFreeAt)
      this.wireFreeAt = start + piece.length / this.init.bytesPerMs
      this.queue.push({ at: this.wireFreeAt + this.init.oneWayMs, data: piece })
    }
    this.holding += data.length
    this.held(data.length, this.holding)
    if (this.holding > this.init.holdLimit) this.from.pause()
    this.schedule()
  }

  private schedule (): void {
    const next = this.queue[this.head]
    if (next === undefined || this.stopped) return
    if (this.timer !== undefined && this.timerAt <= next.at) return
    clearTimeout(this.timer)
    this.timerAt = next.at
    this.timer = setTimeout(() => { this.timer = undefined; this.timerAt = Infinity; this.deliver() }, Math.max(0, next.at - performance.now()))
  }

  private deliver (): void {
    if (this.stopped) return
    const now = performance.now()
    // Everything due goes out in one write: fewer syscalls, same timing at 1 ms resolution.
    const due: Buffer[] = []
    while (this.head < this.queue.length && this.queue[this.head].at <= now) due.push(this.queue[this.head++].data)
    if (this.head > 1024 && this.head * 2 > this.queue.length) { this.queue.splice(0, this.head); this.head = 0 }
    if (due.length > 0) {
      const out = due.length === 1 ? due[0] : Buffer.concat(due)
      this.to.write(out, () => {
        this.holding -= out.length
        this.held(-out.length, this.holding)
        // Resumed while the queue is still nearly full: a late turn of this process (a busy
        // machine) must not leave the link idle with the source's bytes waiting in the kernel.
        if (this.from.isPaused() && this.holding <= this.init.holdLimit * 7 / 8 && !this.stopped) this.from.resume()
        this.endIfDone()
      })
    }
    this.schedule()
  }

  private endIfDone (): void {
    if (this.sourceEnded && this.holding === 0 && !this.stopped) this.to.end()
  }
}
