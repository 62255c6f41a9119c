import { Worker } from 'node:worker_threads'

/**
 * The watchdog thread's code (plain JavaScript, so it needs no bundle of its own). It reads the
 * main thread's heartbeat counter; when the counter has not moved for `stallMs`, the main
 * thread's event loop is stuck (it cannot answer the API, nor even see a SIGTERM), so the
 * watchdog says so on stderr and ends the process. A service manager then restarts the node,
 * which marks the interrupted jobs failed.
 */
const WATCHDOG_SOURCE = `
const { workerData } = require('node:worker_threads')
const { writeSync } = require('node:fs')
const beat = new Int32Array(workerData.shared)
let last = Atomics.load(beat, 0)
let since = Date.now()
setInterval(() => {
  const now = Atomics.load(beat, 0)
  if (now !== last) { last = now; since = Date.now(); return }
  if (Date.now() - since < workerData.stallMs) return
  try { writeSync(2, 'cairn: watchdog: the event loop has not turned for ' + Math.round((Date.now() - since) / 1000) + ' s (a job or request is stuck); ending the node so it can be restarted\\n') } catch {}
  process.kill(process.pid, 'SIGKILL')
}, Math.max(50, Math.min(1000, Math.floor(workerData.stallMs / 4))))
`

export interface Watchdog { stop: () => Promise<void> }

/**
 * Starts the stall watchdog: a worker thread that ends the process when the main thread's event
 * loop has been blocked for `stallMs`. The main thread beats every `stallMs / 10` (at most every
 * second); neither the beat nor the thread keeps the process alive.
 */
export function startWatchdog (init: { stallMs: number }): Watchdog {
  const shared = new SharedArrayBuffer(4)
  const beat = new Int32Array(shared)
  const timer = setInterval(() => { Atomics.add(beat, 0, 1) }, Math.max(20, Math.min(1000, Math.floor(init.stallMs / 10))))
  timer.unref()
  const worker = new Worker(WATCHDOG_SOURCE, { eval: true, workerData: { shared, stallMs: init.stallMs } })
  worker.unref()
  return {
    async stop () {
      clearInterval(timer)
      await worker.terminate()
    }
  }
}

/**
 * Runs `stop` and ends the process with exit code 1 when it has not finished within `graceMs`
 * (a job that ignores its abort signal), after naming what it was waiting for.
 */
export async function stopWithin (stop: () => Promise<void>, graceMs: number, pending: () => string[], exit: (code: number) => void = code => process.exit(code)): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<'late'>(resolve => { timer = setTimeout(() => resolve('late'), graceMs) })
  try {
    const outcome = await Promise.race([stop().then(() => 'done' as const), deadline])
    if (outcome === 'late') {
      const what = pending()
      process.stderr.write(`cairn: the node did not stop within ${Math.round(graceMs / 1000)} s${what.length > 0 ? ` (still running: ${what.join(', ')})` : ''}; exiting without waiting (interrupted jobs are marked failed at the next start)\n`)
      exit(1)
    }
  } finally {
    clearTimeout(timer)
  }
}
