// How many PUT bytes a chunk session keeps unacknowledged (doc/mesh.md "Flow control and
// memory"). A link is only kept full when the bytes in flight cover its bandwidth-delay product:
// at 150 ms and 200 Mbit/s that is 3.75 MB, at 150 ms and 1 Gbit/s 18.75 MB. The window starts
// at MIN_WINDOW_BYTES and follows twice the product measured from the acknowledgements: the
// rate they arrive at, times the shortest round trip seen (without queueing). While the window
// is what limits, the acknowledged rate is window / RTT, so it doubles each round trip until a
// queue builds (RTT above the shortest) or MAX_WINDOW_BYTES; when the rate falls (a bandwidth
// window, a slow peer), it shrinks back. The receiver's memory does not depend on it: it
// holds at most its read budget (16 MiB) and pauses the stream past that.

/** The window before anything is measured, and its floor: enough for any link up to 8 MiB of BDP. */
export const MIN_WINDOW_BYTES = 8 * 1024 * 1024
/**
 * Its ceiling: yamux's largest stream window (more cannot be in flight on one stream), which is
 * also the receiver's read budget, so an honest sender never makes a receiver pause.
 */
export const MAX_WINDOW_BYTES = 16 * 1024 * 1024

export class SendWindow {
  /** Unacknowledged bytes allowed now. */
  bytes: number
  private minRttMs = Infinity
  private spanStart = -1
  private spanBytes = 0

  constructor (private readonly fixed?: number) {
    this.bytes = fixed ?? MIN_WINDOW_BYTES
  }

  /** One acknowledgement of `bytes` sent `rttMs` ago. Returns true when the window grew. */
  acked (bytes: number, rttMs: number, now = performance.now()): boolean {
    if (this.fixed !== undefined) return false
    this.minRttMs = Math.min(this.minRttMs, rttMs)
    if (this.spanStart < 0) { this.spanStart = now; return false }
    this.spanBytes += bytes
    const span = now - this.spanStart
    // One estimate per round trip (at least 10 ms: on a LAN the product is small anyway).
    if (span < Math.max(this.minRttMs, 10)) return false
    const product = this.spanBytes / span * this.minRttMs
    const before = this.bytes
    this.bytes = Math.round(Math.min(MAX_WINDOW_BYTES, Math.max(MIN_WINDOW_BYTES, 2 * product)))
    this.spanStart = now
    this.spanBytes = 0
    return this.bytes > before
  }
}
