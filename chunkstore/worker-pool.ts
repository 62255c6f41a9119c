import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.ts'
import { WorkerFailedError } from './errors.ts'

/**
 * The data path's worker threads, one per core by default. A job goes to the worker with
 * the least outstanding work; every message a worker sends reaches `onMessage` with the
 * worker's index so replies go back to the right one.
 */
export class WorkerPool {
  private readonly workers: Worker[] = []
  private readonly load: number[]
  private failed: Error | undefined
  private readonly closed = new Map<Worker, () => void>()
  private readonly failures: Array<(err: Error) => void> = []

  /** Workers start on the first job, so work that needs none (a no-change backup) starts none. */
  constructor (private readonly init: WorkerInit, private readonly onMessage: (m: FromWorker, worker: number) => void, private readonly count = defaultWorkers()) {
    this.load = Array.from({ length: count }, () => 0)
  }

  private start (): void {
    for (let i = 0; i < this.count; i++) {
      // A small young generation: workers make short-lived garbage fast, and large semi-spaces keep it resident.
      const w = new Worker(workerEntry(), { workerData: this.init, resourceLimits: { maxYoungGenerationSizeMb: 8 } })
      w.on('message', (m: FromWorker) => { if (m.t === 'closed') this.closed.get(w)?.(); else this.onMessage(m, i) })
      w.on('error', err => this.fail(err))
      w.on('exit', code => { if (code !== 0) this.fail(new WorkerFailedError(`it exited with code ${code}`)) })
      this.workers.push(w)
    }
  }

  private fail (err: Error): void {
    if (this.failed !== undefined) return
    this.failed = err
    for (const f of this.failures) f(err)
  }

  /** Calls `fn` if a worker fails (now or later). */
  onFailure (fn: (err: Error) => void): void {
    if (this.failed !== undefined) fn(this.failed); else this.failures.push(fn)
  }

  /** Sends a job to the least loaded worker; `weight` is added to its load until `done` is called. */
  dispatch (msg: ToWorker, weight: number, transfer: ArrayBuffer[] = []): number {
    if (this.workers.length === 0) this.start()
    let best = 0
    for (let i = 1; i < this.load.length; i++) if (this.load[i] < this.load[best]) best = i
    this.load[best] += weight
    this.workers[best].postMessage(msg, transfer)
    return best
  }

  done (worker: number, weight: number): void {
    this.load[worker] -= weight
  }

  send (worker: number, msg: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.workers[worker].postMessage(msg, transfer)
  }

  /** Lets each worker close its files (fds belong to the process, not the thread), then stops it. */
  async close (): Promise<void> {
    this.failures.length = 0
    await Promise.all(this.workers.map(async w => {
      if (this.failed === undefined) {
        await new Promise<void>(resolve => {
          const timer = setTimeout(resolve, 5000)
          this.closed.set(w, () => { clearTimeout(timer); resolve() })
          w.postMessage({ t: 'close' })
        })
      }
      await w.terminate()
    }))
  }
}

/** The worker script: the launcher's bundled one when the CLI runs bundled, else the tsx entry. */
function workerEntry (): URL {
  const bundled = (globalThis as Record<symbol, unknown>)[Symbol.for('cairn.workerEntry')]
  return bundled instanceof URL ? bundled : new URL('./worker-entry.js', import.meta.url)
}

export function defaultWorkers (): number {
  const env = Number(process.env.CAIRN_WORKERS)
  return Number.isInteger(env) && env > 0 ? env : Math.max(1, availableParallelism())
}
