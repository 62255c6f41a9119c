// The node daemon's parts, started in one declared order and stopped in its reverse (after
// js-libp2p's components: one place starts them all).

/** A long-running part of the daemon, as the start order names it. */
export interface Part {
  name: string
  /** Runs once, after every part before it has started. */
  start?: () => Promise<void> | void
  /**
   * Runs once, before any part before it stops; `why` says whether the daemon stops, or its
   * start failed at a later part (then the parts that had started stop in reverse).
   */
  stop?: (why: 'stop' | 'failed-start') => Promise<void> | void
}

/**
 * Parts in their start order. `start` starts them one by one; if one fails, those started stop
 * in reverse and the error is thrown. `stop` stops every started part in reverse, each once,
 * whatever the others do, and throws the first failure at the end.
 */
export class Lifecycle {
  private readonly started: Part[] = []
  private stopping: Promise<void> | undefined

  /** A part that is up already (opened before the others were made): it only stops. */
  up (part: Part): void {
    this.started.push(part)
  }

  async start (parts: Part[]): Promise<void> {
    for (const part of parts) {
      try {
        await part.start?.()
      } catch (err) {
        await this.stopAll('failed-start').catch(() => {})
        throw err
      }
      this.started.push(part)
    }
  }

  /** Stops every started part in reverse (once, however often it is called). */
  async stop (): Promise<void> {
    this.stopping ??= this.stopAll('stop')
    await this.stopping
  }

  private async stopAll (why: 'stop' | 'failed-start'): Promise<void> {
    let first: unknown
    for (const part of this.started.splice(0).reverse()) {
      try {
        await part.stop?.(why)
      } catch (err) {
        first ??= err
      }
    }
    if (first !== undefined) throw first
  }
}
