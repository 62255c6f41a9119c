import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { Worker } from 'node:worker_threads'
import { PasswordCheckBusyError } from './errors.ts'

/** scrypt cost: N=2^15, r=8 → 32 MiB per hash (memory-hard, OWASP's minimum for scrypt). */
export interface ScryptCost { logN: number, r: number, p: number }
export const DEFAULT_SCRYPT_COST: ScryptCost = { logN: 15, r: 8, p: 1 }

const maxmem = (c: ScryptCost): number => 256 * 2 ** c.logN * c.r

const run = async (password: string, salt: Buffer, c: ScryptCost): Promise<Buffer> =>
  await new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, 32, { N: 2 ** c.logN, r: c.r, p: c.p, maxmem: maxmem(c) }, (err, key) => {
      if (err !== null) reject(err); else resolve(key)
    })
  })

/** Format: `scrypt$logN$r$p$salt$hash` (base64url). Parameters travel with the hash so they can rise later. */
export async function hashPassword (password: string, cost: ScryptCost = DEFAULT_SCRYPT_COST): Promise<string> {
  const salt = randomBytes(16)
  const key = await run(password, salt, cost)
  return format(cost, salt, key)
}

const format = (cost: ScryptCost, salt: Buffer, key: Buffer): string =>
  ['scrypt', cost.logN, cost.r, cost.p, salt.toString('base64url'), key.toString('base64url')].join('$')

function parse (stored: string): { cost: ScryptCost, salt: Buffer, hash: Buffer } | undefined {
  const [alg, logN, r, p, salt, hash] = stored.split('$')
  if (alg !== 'scrypt' || hash === undefined) return undefined
  return { cost: { logN: Number(logN), r: Number(r), p: Number(p) }, salt: Buffer.from(salt, 'base64url'), hash: Buffer.from(hash, 'base64url') }
}

export async function verifyPassword (password: string, stored: string): Promise<boolean> {
  const s = parse(stored)
  if (s === undefined) return false
  const key = await run(password, s.salt, s.cost)
  return s.hash.length === key.length && timingSafeEqual(s.hash, key)
}

/**
 * Hashes and checks passwords on their own threads, one scrypt at a time per thread, so a burst
 * of logins neither blocks the event loop nor fills libuv's pool (which file and LevelDB I/O
 * share). At most `maxQueue` checks wait; more are refused (PasswordCheckBusyError, 503).
 */
export interface PasswordHasher {
  hash: (password: string, cost: ScryptCost) => Promise<string>
  verify: (password: string, stored: string) => Promise<boolean>
  /** Checks under way and waiting now, and the most that ever ran at once. */
  stats: () => { running: number, waiting: number, maxRunning: number }
  close: () => Promise<void>
}

const HASH_THREAD = `
const { parentPort } = require('node:worker_threads')
const { scryptSync } = require('node:crypto')
parentPort.on('message', m => {
  try {
    const key = scryptSync(m.password.normalize('NFKC'), Buffer.from(m.salt, 'base64url'), 32, { N: 2 ** m.cost.logN, r: m.cost.r, p: m.cost.p, maxmem: 256 * 2 ** m.cost.logN * m.cost.r })
    parentPort.postMessage({ id: m.id, key: key.toString('base64url') })
  } catch (err) { parentPort.postMessage({ id: m.id, error: String(err && err.message || err) }) }
})
`

export function createPasswordHasher (init: { threads?: number, maxQueue?: number } = {}): PasswordHasher {
  const threads = Math.max(1, init.threads ?? 1)
  const maxQueue = init.maxQueue ?? 64
  interface Job { password: string, salt: Buffer, cost: ScryptCost, resolve: (key: Buffer) => void, reject: (err: Error) => void }
  const waiting: Job[] = []
  const idle: Worker[] = []
  const busy = new Map<Worker, Job>()
  let maxRunning = 0
  let seq = 0
  let closed = false

  const spawn = (): Worker => {
    const w = new Worker(HASH_THREAD, { eval: true })
    w.unref()
    w.on('message', (m: { key?: string, error?: string }) => {
      const job = busy.get(w)
      busy.delete(w)
      if (job !== undefined) { if (m.key !== undefined) job.resolve(Buffer.from(m.key, 'base64url')); else job.reject(new Error(m.error)) }
      idle.push(w)
      pump()
    })
    w.on('error', err => {
      const job = busy.get(w)
      busy.delete(w)
      job?.reject(err)
      if (!closed) { idle.push(spawn()); pump() }
    })
    return w
  }
  for (let i = 0; i < threads; i++) idle.push(spawn())

  function pump (): void {
    while (idle.length > 0 && waiting.length > 0) {
      const w = idle.pop()!
      const job = waiting.shift()!
      busy.set(w, job)
      maxRunning = Math.max(maxRunning, busy.size)
      w.postMessage({ id: ++seq, password: job.password, salt: job.salt.toString('base64url'), cost: job.cost })
    }
  }

  const derive = async (password: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> => {
    if (closed) throw new PasswordCheckBusyError()
    if (waiting.length >= maxQueue) throw new PasswordCheckBusyError()
    return await new Promise<Buffer>((resolve, reject) => { waiting.push({ password, salt, cost, resolve, reject }); pump() })
  }

  return {
    async hash (password, cost) {
      const salt = randomBytes(16)
      return format(cost, salt, await derive(password, salt, cost))
    },
    async verify (password, stored) {
      const s = parse(stored)
      if (s === undefined) return false
      const key = await derive(password, s.salt, s.cost)
      return s.hash.length === key.length && timingSafeEqual(s.hash, key)
    },
    stats: () => ({ running: busy.size, waiting: waiting.length, maxRunning }),
    async close () {
      closed = true
      for (const job of waiting.splice(0)) job.reject(new PasswordCheckBusyError())
      await Promise.all([...idle, ...busy.keys()].map(async w => await w.terminate()))
    }
  }
}
