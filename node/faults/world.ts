// What every fault of the harness needs: a seeded random source, the real `cairn` binary in
// child processes (through node/bin/cairn.js, as a user runs it), mesh daemons, source trees
// that change between backups, and fingerprints to compare restores with.
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { initRepository } from '../../chunkstore/index.ts'
import { callControl } from '../control/index.ts'
import { DaemonUnresponsiveError, HarnessSetupError } from './errors.ts'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const BIN = join(ROOT, 'node', 'bin', 'cairn.js')
export const PASSPHRASE = 'fault harness passphrase'

/**
 * A new store (what `cairn init` makes), with a cheap passphrase KDF: every command of the
 * harness unlocks the key file, and scrypt at the default cost would be most of its time.
 */
export async function initStore (dir: string, chunker?: { kind: 'fixed', size: number }): Promise<void> {
  await initRepository(dir, { passphrase: PASSPHRASE, kdf: { N: 1024, r: 8, p: 1 }, chunker })
}

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function random (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface Run { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string, ms: number }

/** A `cairn` child process; `killAfterMs` sends SIGKILL that long after the start (if still running). */
export async function cairn (args: string[], options: { killAfterMs?: number, env?: Record<string, string> } = {}): Promise<Run> {
  const started = performance.now()
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT, env: { ...process.env, CAIRN_PASSPHRASE: PASSPHRASE, CAIRN_DEBUG: '', ...options.env }, stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  const timer = options.killAfterMs === undefined ? undefined : setTimeout(() => { child.kill('SIGKILL') }, options.killAfterMs)
  const { code, signal } = await new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.on('close', (code, signal) => resolve({ code, signal })))
  if (timer !== undefined) clearTimeout(timer)
  return { code, signal, stdout, stderr, ms: performance.now() - started }
}

/** Like `cairn`, but a non-zero exit is an error of the harness's own setup. */
export async function cairnOk (args: string[]): Promise<Run> {
  const r = await cairn(args)
  if (r.code !== 0) throw new HarnessSetupError(`cairn ${args.join(' ')} exited ${String(r.code ?? r.signal)}: ${r.stderr}${r.stdout}`)
  return r
}

const CONTROL_TIMEOUT_MS = 120_000

export interface MeshDaemon { child: ChildProcess, meshDir: string, control: (op: string, args?: Record<string, unknown>) => Promise<any>, kill: (signal?: NodeJS.Signals) => Promise<void> }

/** `cairn mesh run` through the bin; resolves at its ready line. */
export async function meshDaemon (meshDir: string, store: string): Promise<MeshDaemon> {
  const child = spawn(process.execPath, [BIN, 'mesh', 'run', '--mesh-dir', meshDir, '--store', store, '--replicate-every', '3600'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  let log = ''
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { log += s })
  await new Promise<void>((resolve, reject) => {
    let out = ''
    child.stdout!.setEncoding('utf8').on('data', (s: string) => { out += s; if (out.includes('{"ready"')) resolve() })
    child.once('exit', code => reject(new HarnessSetupError(`cairn mesh run exited ${String(code)} before it was ready: ${log}`)))
  })
  return {
    child,
    meshDir,
    // A request that hangs is a finding, not a reason to wait forever.
    control: async (op, args) => await Promise.race([
      callControl(meshDir, op, args),
      new Promise((_resolve, reject) => setTimeout(() => reject(new DaemonUnresponsiveError(op, CONTROL_TIMEOUT_MS / 1000)), CONTROL_TIMEOUT_MS).unref())
    ]),
    // A daemon that does not stop within 20 s of SIGTERM is a finding (noted on stderr) and is then killed.
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      const late = setTimeout(() => { process.stderr.write(`[faults] cairn mesh run (${meshDir}) did not stop within 20 s of ${signal}; SIGKILL\n`); child.kill('SIGKILL') }, 20_000)
      await exited
      clearTimeout(late)
    }
  }
}

/**
 * A TCP port free on 127.0.0.1 now, for a site that restarts between rounds: with a fixed
 * port the other sites find it again (a port chosen anew at each start would be unknown).
 */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', () => resolve()))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>(resolve => server.close(() => resolve()))
  return port
}

/** Waits until the daemon is connected to every other member (or gives up after `ms`). */
export async function connected (d: MeshDaemon, ms = 20_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    const s = await d.control('status')
    if (s.members.every((m: { connected: boolean }) => m.connected)) return true
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return false
}

/** Replicates from `d` until its first link has nothing left to send and `roots` snapshot roots at the peer (or gives up after `ms`). */
export async function replicated (d: MeshDaemon, roots: number, ms = 60_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    const [link] = await d.control('replicate')
    if (link?.lastResult?.rootsAtPeer === roots && link.blocksBehind === 0) return true
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  return false
}

/** A source tree of random files: `files` files of 10 KiB … `maxFile` bytes, in a few folders. */
export function makeSource (dir: string, rnd: () => number, files: number, maxFile: number): void {
  for (let i = 0; i < files; i++) {
    const folder = join(dir, `d${i % 5}`)
    mkdirSync(folder, { recursive: true })
    writeFileSync(join(folder, `f${i}`), randomBytes(10_240 + Math.floor(rnd() * maxFile)))
  }
}

/** Changes about `share` of the files (new contents, some of them new sizes) before the next backup. */
export function mutateSource (dir: string, rnd: () => number, share: number, maxFile: number): void {
  for (const f of listFiles(dir)) if (rnd() < share) writeFileSync(f, randomBytes(10_240 + Math.floor(rnd() * maxFile)))
}

export function listFiles (dir: string): string[] {
  const out: string[] = []
  const walk = (d: string): void => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n)
      if (lstatSync(p).isDirectory()) walk(p); else out.push(p)
    }
  }
  walk(dir)
  return out
}

/** Relative path → sha256 of every file below `dir`. */
export function fingerprint (dir: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const f of listFiles(dir)) out.set(relative(dir, f), createHash('sha256').update(readFileSync(f)).digest('hex'))
  return out
}

/** How a restore compares with what it should be: files missing, and files present with wrong bytes (silently wrong). */
export function compare (got: Map<string, string>, want: Map<string, string>): { missing: string[], wrong: string[], extra: string[] } {
  const missing: string[] = []
  const wrong: string[] = []
  for (const [p, h] of want) {
    const g = got.get(p)
    if (g === undefined) missing.push(p); else if (g !== h) wrong.push(p)
  }
  return { missing, wrong, extra: [...got.keys()].filter(p => !want.has(p) && !p.split('/').pop()!.startsWith('.cairn-partial-')) }
}

/** Flips one bit of a file. */
export function flipBit (path: string, offset: number, bit: number): void {
  const fd = openSync(path, 'r+')
  try {
    const b = Buffer.alloc(1)
    readSync(fd, b, 0, 1, offset)
    writeSync(fd, Buffer.of(b[0] ^ (1 << bit)), 0, 1, offset)
  } finally { closeSync(fd) }
}

/** sha256 of every file below a store (path → hash): the read-only guarantee is checked against it. */
export function storeHash (dir: string): string {
  const h = createHash('sha256')
  // A holder socket (node/holder/) is no stored byte: a read-only command killed with -9 leaves one.
  for (const f of listFiles(dir)) if (lstatSync(f).isFile()) h.update(relative(dir, f)).update('\0').update(readFileSync(f))
  return h.digest('hex')
}

export function fresh (dir: string): string {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  return dir
}
