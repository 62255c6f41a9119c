// SIGTERM ends the node whatever a job does (issue 13, H1): a stop that a job holds up ends the
// process after the grace period, and an event loop that no longer turns (which cannot even see the
// signal) is ended by the watchdog thread.
// test-suite: processes
import test from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const script = fileURLToPath(new URL('./testdata/watchdog-main.ts', import.meta.url))

/** Runs the staged process; resolves with how it ended. A deadline turns a hang into a failure. */
async function run (mode: string, onReady: (child: ReturnType<typeof spawn>) => void): Promise<{ code: number | null, signal: NodeJS.Signals | null, stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, mode], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  let ready = false
  child.stderr!.on('data', (b: Buffer) => {
    stderr += b.toString()
    if (!ready && /ready/.test(stderr)) { ready = true; onReady(child) }
  })
  const deadline = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(resolve => child.on('exit', (c, s) => resolve([c, s])))
  clearTimeout(deadline)
  return { code, signal, stderr }
}

test('the watchdog thread ends a process whose event loop is stuck', async () => {
  const r = await run('stall', () => {})
  assert.equal(r.signal, 'SIGKILL')
  assert.match(r.stderr, /watchdog: the event loop has not turned/)
})

test('a stop held up by a job ends the process after the grace period, naming the job', async () => {
  const { code, stderr } = await run('stuck-stop', child => child.kill('SIGTERM'))
  assert.equal(code, 1, stderr)
  assert.match(stderr, /SIGTERM: stopping/)
  assert.match(stderr, /did not stop within 0 s \(still running: Restore-stuck\); exiting without waiting/)
  assert.doesNotMatch(stderr, /stopped/)
})
