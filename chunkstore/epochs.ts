/**
 * The one rule that lets backups, restores, checks and a prune share a store in one process
 * (doc/design.md, "Epochs: what a prune may free"). Every operation enters the store's epoch
 * counter as a reader or a writer and leaves when it ends; a prune never waits on anything but
 * operations that entered before a point it chose, so no operation ever waits for a prune:
 *
 * 1. A prune advances the epoch and starts recording every block looked up, read or written
 *    (`LocalBlockStore.protected`). What a writer references from then on is kept.
 * 2. It waits until every writer that entered before that advance has left: such a backup may
 *    have deduplicated against a block before the recording began. Once it has left, its
 *    blocks are either in its snapshot (which the prune then marks) or garbage.
 * 3. Before deleting segment files it advances again and waits until every reader and writer
 *    that entered before has left: one of them may still hold a location in a segment whose
 *    live blocks were just moved.
 */
import { OperationAbortedError, throwIfAborted } from '../crypto/index.ts'
export type LeaseKind = 'read' | 'write'

export interface Lease {
  readonly epoch: number
  readonly kind: LeaseKind
  /** Ends the lease; calling it again does nothing. */
  leave: () => void
}

export class Epochs {
  private epoch = 0
  /** Live leases by epoch and kind. */
  private readonly live = new Map<number, { read: number, write: number }>()
  private waiters: Array<{ before: number, kinds: LeaseKind[], done: () => void }> = []

  get current (): number { return this.epoch }

  enter (kind: LeaseKind): Lease {
    const epoch = this.epoch
    const n = this.live.get(epoch) ?? { read: 0, write: 0 }
    n[kind]++
    this.live.set(epoch, n)
    let left = false
    return {
      epoch,
      kind,
      leave: () => {
        if (left) return
        left = true
        const m = this.live.get(epoch)!
        m[kind]--
        if (m.read === 0 && m.write === 0) this.live.delete(epoch)
        this.wake()
      }
    }
  }

  /** Runs `fn` inside a lease of `kind`. */
  async within<T> (kind: LeaseKind, fn: () => Promise<T>): Promise<T> {
    const lease = this.enter(kind)
    try { return await fn() } finally { lease.leave() }
  }

  /** Starts a new epoch; returns it (every lease entered before has a smaller epoch). */
  advance (): number {
    return ++this.epoch
  }

  /** Leases of `kinds` that entered before epoch `before` and are still live. */
  count (before: number, kinds: LeaseKind[] = ['read', 'write']): number {
    let n = 0
    for (const [epoch, m] of this.live) if (epoch < before) for (const k of kinds) n += m[k]
    return n
  }

  /** Resolves once no lease of `kinds` entered before epoch `before` is live (a prune waits so); stopped through `signal`, rejects with OperationAbortedError. */
  async drained (before: number, kinds: LeaseKind[] = ['read', 'write'], signal?: AbortSignal): Promise<void> {
    if (this.count(before, kinds) === 0) return
    throwIfAborted(signal, 'The prune')
    await new Promise<void>((resolve, reject) => {
      const waiter = { before, kinds, done: () => { signal?.removeEventListener('abort', onAbort); resolve() } }
      const onAbort = (): void => { this.waiters = this.waiters.filter(w => w !== waiter); reject(new OperationAbortedError('The prune', { cause: signal!.reason })) }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(waiter)
    })
  }

  private wake (): void {
    const ready = this.waiters.filter(w => this.count(w.before, w.kinds) === 0)
    if (ready.length === 0) return
    this.waiters = this.waiters.filter(w => !ready.includes(w))
    for (const w of ready) w.done()
  }
}
