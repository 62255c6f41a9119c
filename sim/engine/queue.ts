// The simulation's event queue: a binary min-heap on time, first in first out among equal times
// (so runs due at one instant happen in the order they were scheduled, as the node's timers do).

export interface SimEvent {
  at: number
  seq: number
  run: (at: number) => void
}

export class EventQueue {
  private readonly heap: SimEvent[] = []
  private seq = 0
  processed = 0

  get size (): number { return this.heap.length }

  push (at: number, run: (at: number) => void): void {
    const e: SimEvent = { at, seq: this.seq++, run }
    const h = this.heap
    h.push(e)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(e, h[p])) break
      h[i] = h[p]
      i = p
    }
    h[i] = e
  }

  /** Time of the next event, or Infinity. */
  peek (): number { return this.heap.length === 0 ? Infinity : this.heap[0].at }

  pop (): SimEvent | undefined {
    const h = this.heap
    const top = h[0]
    const last = h.pop()
    if (h.length > 0 && last !== undefined) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= h.length) break
        const r = l + 1
        const c = r < h.length && before(h[r], h[l]) ? r : l
        if (!before(h[c], last)) break
        h[i] = h[c]
        i = c
      }
      h[i] = last
    }
    if (top !== undefined) this.processed++
    return top
  }
}

const before = (a: SimEvent, b: SimEvent): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq)
