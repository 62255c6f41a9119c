import { Worker } from 'node:worker_threads'
import { bytes, counted, duration } from './format.ts'

/**
 * A one-line progress bar on a terminal's stderr (bytes, files, speed, ETA); silent when stderr
 * is not a terminal, so pipes and scripts see only the result.
 */
export class ProgressBar {
  private readonly started = Date.now()
  private readonly enabled: boolean
  private last = ''

  constructor (private readonly label: string, enabled = process.stderr.isTTY === true) {
    this.enabled = enabled
  }

  update (done: number, files: number, total?: number, current?: string): void {
    if (!this.enabled) return
    const secs = (Date.now() - this.started) / 1000
    const speed = secs > 0 ? done / secs : 0
    const parts = [`${this.label} ${bytes(done)}${total !== undefined && total > 0 ? ` / ${bytes(total)} (${Math.min(100, Math.floor(done / total * 100))}%)` : ''}`, counted(files, 'file'), `${bytes(speed)}/s`]
    if (total !== undefined && total > done && speed > 0) parts.push(`ETA ${duration((total - done) / speed * 1000)}`)
    let line = parts.join('  ')
    const cols = process.stderr.columns ?? 100
    if (current !== undefined && line.length + 4 < cols) {
      const room = cols - line.length - 3
      line += '  ' + (current.length > room ? '…' + current.slice(-(room - 1)) : current)
    }
    line = line.slice(0, cols - 1)
    if (line !== this.last) process.stderr.write(`\r\x1b[K${line}`)
    this.last = line
  }

  done (): void {
    if (this.enabled && this.last !== '') process.stderr.write('\r\x1b[K')
  }
}

/**
 * Counts the bytes and files below `paths` on a separate thread, for a backup's ETA. Only run on
 * a terminal: it costs a second directory walk.
 */
export function scanTotals (paths: string[], onTotals: (bytes: number, files: number) => void): () => void {
  const w = new Worker(`
    const { parentPort, workerData } = require('node:worker_threads')
    const { lstatSync, readdirSync } = require('node:fs')
    const { join } = require('node:path')
    let bytes = 0, files = 0, last = Date.now()
    function walk (p) {
      let st; try { st = lstatSync(p) } catch { return }
      if (st.isDirectory()) { let names = []; try { names = readdirSync(p) } catch {} for (const n of names) walk(join(p, n)) }
      else if (st.isFile()) { bytes += st.size; files++ }
      if (Date.now() - last > 500) { last = Date.now(); parentPort.postMessage({ bytes, files, final: false }) }
    }
    for (const p of workerData) walk(p)
    parentPort.postMessage({ bytes, files, final: true })
  `, { eval: true, workerData: paths })
  w.on('message', (m: { bytes: number, files: number, final: boolean }) => { if (m.final) onTotals(m.bytes, m.files) })
  w.on('error', () => {})
  w.unref()
  return () => { void w.terminate() }
}
