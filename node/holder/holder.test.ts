// One store, many clients, with real processes through the package's bin: a backup holds the
// store while other commands run in it, a client killed mid-backup leaves the holder running
// and the store whole, a caller without the keys is refused, a stale socket is replaced.
// test-suite: processes
import test, { after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cairn, CAIRN_BIN } from '../testing/index.ts'
import { holderSocketPath } from './socket-path.ts'

const work = mkdtempSync(join(tmpdir(), 'cairn-holder-'))
after(() => rmSync(work, { recursive: true, force: true }))
const store = join(work, 'store')
const env = { CAIRN_PASSPHRASE: 'one store many clients', CAIRN_STORE: store }
const run = async (args: string[], extra: Record<string, string | undefined> = {}): Promise<{ code: number, stdout: string, stderr: string }> => await cairn(args, { ...env, ...extra })

function folder (name: string, mib: number): string {
  const dir = join(work, name)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'data'), randomBytes(mib << 20))
  return dir
}

/** A `cairn` process left running, with what it printed. */
function start (args: string[]): { done: Promise<{ code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }>, kill: (s: NodeJS.Signals) => void } {
  const child = spawn(process.execPath, [CAIRN_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''; let stderr = ''
  child.stdout.on('data', d => { stdout += String(d) })
  child.stderr.on('data', d => { stderr += String(d) })
  return {
    done: new Promise(resolve => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))),
    kill: s => { child.kill(s) }
  }
}

async function until (what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise(resolve => setTimeout(resolve, 50))
  assert.ok(cond(), `timed out waiting for ${what}`)
}

/**
 * How many connections the holder has accepted and still holds open (Linux: connected entries of
 * /proc/net/unix bound to its socket's path, which accepted sockets carry too).
 */
function holderConnections (socket: string): number {
  return readFileSync('/proc/net/unix', 'utf8').split('\n').filter(l => {
    const f = l.trim().split(/\s+/)
    return f[7] === socket && f[5] === '03'
  }).length
}

/** The holder's answer to a client that sends `lines` after its hello (a raw socket: a hostile or broken client). */
async function rawClient (lines: (hello: any) => string[]): Promise<any[]> {
  const sock = createConnection(holderSocketPath(store))
  sock.setEncoding('utf8')
  let buf = ''
  const got: any[] = []
  return await new Promise((resolve, reject) => {
    sock.on('data', (d: string) => {
      buf += d
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const m = JSON.parse(buf.slice(0, nl)); buf = buf.slice(nl + 1)
        got.push(m)
        if (m.t === 'hello') for (const l of lines(m)) sock.write(l + '\n')
      }
    })
    sock.on('close', () => resolve(got))
    sock.on('error', reject)
  })
}

test('while a backup holds the store, other backups, listings, a prune and a killed client all go through it', async () => {
  assert.equal((await run(['init'])).code, 0)
  const slow = folder('slow', 24)
  // The holder: a backup read at 4 MiB/s, so it holds the store for a few seconds.
  const holder = start(['backup', slow, '--task', 'slow', '--limit', '4'])
  await until('the holder socket', () => existsSync(holderSocketPath(store)))

  // No secret, no entry: a client whose proof is wrong is refused and nothing runs.
  const refused = await rawClient(hello => [
    JSON.stringify({ t: 'auth', nonce: randomBytes(32).toString('base64'), proofs: { full: randomBytes(32).toString('base64'), write: randomBytes(32).toString('base64') } }),
    JSON.stringify({ t: 'run', op: 'forget', args: { ids: [], keepLast: 1 } })
  ])
  assert.equal(refused[0].t, 'hello')
  assert.deepEqual(refused.slice(1).map(m => [m.t, m.name]), [['error', 'HolderAccessDeniedError']])
  const early = await rawClient(() => [JSON.stringify({ t: 'run', op: 'prune', args: {} })])
  assert.deepEqual(early.slice(1).map(m => [m.t, m.name]), [['error', 'HolderProtocolError']], 'no operation before a proof')
  const wrong = await run(['snapshots'], { CAIRN_PASSPHRASE: 'not it' })
  assert.equal(wrong.code, 1)
  assert.match(wrong.stderr, /^cairn: Wrong passphrase/)


  // A client that dies mid-backup (kill -9): the holder stops its backup and goes on.
  const doomed = start(['backup', folder('doomed', 16), '--task', 'doomed', '--limit', '1'])
  const others = Promise.all([
    run(['backup', folder('other', 8), '--task', 'other']),
    run(['snapshots', '--json']),
    run(['prune'])
  ])
  await new Promise(resolve => setTimeout(resolve, 1500))
  doomed.kill('SIGKILL')
  assert.equal((await doomed.done).signal, 'SIGKILL')
  const [other, listing, prune] = await others
  assert.equal(other.code, 0, other.stderr)
  assert.match(other.stdout, /snapshot \S+ saved\n {2}task other, full/)
  assert.equal(listing.code, 0, listing.stderr)
  assert.ok(Array.isArray(JSON.parse(listing.stdout)))
  assert.equal(prune.code, 0, prune.stderr)
  assert.match(prune.stdout, /^removed \d+ blocks?, freed/)

  const held = await holder.done
  assert.equal(held.code, 0, held.stderr)
  assert.match(held.stdout, /task slow, full/)
  await until('the holder to close the store', () => !existsSync(holderSocketPath(store)))

  // Nobody holds the store now: the CLI opens it itself. Everything that finished is there and whole.
  const check = await run(['check', '--read-data'])
  assert.equal(check.code, 0, check.stdout + check.stderr)
  assert.match(check.stdout, /no errors/)
  const tasks = (JSON.parse((await run(['snapshots', '--json'])).stdout) as Array<{ task: string }>).map(s => s.task).sort()
  assert.deepEqual(tasks, ['other', 'slow'], 'the killed client\'s backup left no snapshot')
})

test('a socket left by a holder killed with -9 is detected and replaced; Ctrl-C of a client stops its backup as a local one', async () => {
  // A process that listens where a holder would, then dies without cleaning up.
  const socket = holderSocketPath(store)
  const squatter = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(socket)}); setInterval(() => {}, 1000)`], { stdio: 'ignore' })
  await until('the squatter\'s socket', () => existsSync(socket))
  squatter.kill('SIGKILL')
  await new Promise(resolve => squatter.once('close', resolve))
  assert.ok(existsSync(socket), 'the dead process left its socket')
  const listed = await run(['snapshots'])
  assert.equal(listed.code, 0, listed.stderr)
  assert.match(listed.stdout, /2 snapshots/)
  assert.equal(existsSync(socket), false, 'the stale socket is gone')

  const holder = start(['backup', join(work, 'slow'), '--task', 'again', '--level', 'full', '--limit', '4'])
  await until('the holder socket', () => existsSync(socket))
  assert.equal(holderConnections(socket), 0, 'no client yet')
  const client = start(['backup', folder('stopped', 24), '--task', 'stopped', '--limit', '1'])
  // Ctrl-C once the client's backup runs in the holder, not after a fixed wait: on a loaded machine
  // the client may still be loading when a timer fires, before it handles Ctrl-C at all.
  await until('the client\'s connection to the holder', () => holderConnections(socket) > 0)
  await new Promise(resolve => setTimeout(resolve, 1000))
  client.kill('SIGINT')
  const stopped = await client.done
  assert.equal(stopped.code, 1)
  assert.match(stopped.stderr, /^cairn: The backup was stopped; what it had written is kept/m, 'what a local backup stopped by Ctrl-C says')
  assert.equal((await holder.done).code, 0)
  const tasks = (JSON.parse((await run(['snapshots', '--json'])).stdout) as Array<{ task: string }>).map(s => s.task).sort()
  assert.deepEqual(tasks, ['again', 'other', 'slow'])
})
