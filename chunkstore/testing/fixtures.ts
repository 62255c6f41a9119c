// Test fixtures for the data path and the CLI: temporary folders, fast-KDF stores, random
// files, tree fingerprints for restore comparisons, and a runner for the real `cairn` binary.
// Only tests import this; it must never be reached from production code.
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { initRepository, openRepository } from '../index.ts'
import type { InitOptions, LocalRepository } from '../index.ts'

export { tempDir, removeDir } from '../../crypto/testing/index.ts'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const CAIRN_BIN = join(ROOT, 'node', 'bin', 'cairn.js')
export const PASSPHRASE = 'correct horse battery staple'
/** Cheap scrypt for tests; one test keeps the default. */
export const FAST_KDF = { N: 1024, r: 8, p: 1 }

/** Creates a store with the fast KDF and opens it. */
export async function createStore (dir: string, options: Partial<InitOptions> = {}): Promise<LocalRepository> {
  await initRepository(dir, { passphrase: PASSPHRASE, kdf: FAST_KDF, ...options })
  return await openRepository(dir, { passphrase: options.passphrase ?? PASSPHRASE })
}

export function writeRandom (path: string, size: number): Buffer {
  const data = randomBytes(size)
  writeFileSync(path, data)
  return data
}

export function sha256 (data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

export function fileHash (path: string): string {
  return sha256(readFileSync(path))
}

export interface EntryPrint {
  type: 'file' | 'dir' | 'symlink' | 'other'
  mode: number
  uid: number
  gid: number
  /** Milliseconds since the epoch (directories and files; symlinks too). */
  mtimeMs: number
  size?: number
  sha256?: string
  target?: string
}

/** Every entry below `dir` (relative path → type, mode, owner, mtime, content hash or link target). */
export function treePrint (dir: string, options: { mtimes?: boolean, contents?: boolean } = {}): Record<string, EntryPrint> {
  const out: Record<string, EntryPrint> = {}
  const walk = (p: string): void => {
    for (const name of readdirSync(p).sort()) {
      const full = join(p, name)
      const st = lstatSync(full)
      const e: EntryPrint = {
        type: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other',
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        mtimeMs: options.mtimes === false ? 0 : Math.floor(st.mtimeMs)
      }
      if (st.isFile()) { e.size = st.size; if (options.contents !== false) e.sha256 = fileHash(full) }
      if (st.isSymbolicLink()) { e.target = readlinkSync(full); e.mode = 0 }
      out[relative(dir, full)] = e
      if (st.isDirectory()) walk(full)
    }
  }
  walk(dir)
  return out
}

/** A content hash of every file below `dir` (relative path → sha256 or `dir`), for "nothing changed" checks. */
export function dirBytes (dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (p: string): void => {
    for (const name of readdirSync(p).sort()) {
      const full = join(p, name)
      const st = lstatSync(full)
      if (st.isDirectory()) { out[relative(dir, full)] = 'dir'; walk(full) } else out[relative(dir, full)] = `${st.size}:${fileHash(full)}`
    }
  }
  walk(dir)
  return out
}

/** Total bytes of the regular files below `dir`. */
export function dirSize (dir: string): number {
  let n = 0
  const walk = (p: string): void => {
    for (const name of readdirSync(p)) {
      const full = join(p, name)
      const st = lstatSync(full)
      if (st.isDirectory()) walk(full); else n += st.size
    }
  }
  walk(dir)
  return n
}

/** Where a backup of absolute `source` lands inside a restore target (snapshots keep absolute paths). */
export function restoredPath (target: string, source: string): string {
  return join(target, source)
}

export function mkdirp (p: string): string {
  mkdirSync(p, { recursive: true })
  return p
}

export interface CliResult { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

/** Runs `node node/bin/cairn.js ARGS` with CAIRN_PASSPHRASE set (unless overridden in `env`). */
export async function cairn (args: string[], options: { env?: Record<string, string | undefined>, input?: string } = {}): Promise<CliResult> {
  return await runCairn(args, { ...options, env: { CAIRN_PASSPHRASE: PASSPHRASE, CAIRN_DEBUG: undefined, CAIRN_STORE: undefined, ...options.env } })
}

/**
 * Runs the `cairn` command as npm installs it (package.json "bin": the launcher and its bundle)
 * with `env` over this process's environment (undefined removes a variable) and `input` on stdin.
 */
export async function runCairn (args: string[], options: { env?: Record<string, string | undefined>, input?: string } = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ...process.env, ...options.env }
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k]
  const child = spawn(process.execPath, [CAIRN_BIN, ...args], { cwd: ROOT, env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  child.stdin.end(options.input ?? '')
  return await new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}
