import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'

/** scrypt cost: N=2^15, r=8 → 32 MiB per hash (memory-hard, OWASP's minimum for scrypt). */
export interface ScryptCost { logN: number, r: number, p: number }
export const DEFAULT_SCRYPT_COST: ScryptCost = { logN: 15, r: 8, p: 1 }

const run = async (password: string, salt: Buffer, c: ScryptCost): Promise<Buffer> =>
  await new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, 32, { N: 2 ** c.logN, r: c.r, p: c.p, maxmem: 256 * 2 ** c.logN * c.r }, (err, key) => {
      if (err !== null) reject(err); else resolve(key)
    })
  })

/** Format: `scrypt$logN$r$p$salt$hash` (base64url). Parameters travel with the hash so they can rise later. */
export async function hashPassword (password: string, cost: ScryptCost = DEFAULT_SCRYPT_COST): Promise<string> {
  const salt = randomBytes(16)
  const key = await run(password, salt, cost)
  return ['scrypt', cost.logN, cost.r, cost.p, salt.toString('base64url'), key.toString('base64url')].join('$')
}

export async function verifyPassword (password: string, stored: string): Promise<boolean> {
  const [alg, logN, r, p, salt, hash] = stored.split('$')
  if (alg !== 'scrypt' || hash === undefined) return false
  const key = await run(password, Buffer.from(salt, 'base64url'), { logN: Number(logN), r: Number(r), p: Number(p) })
  const want = Buffer.from(hash, 'base64url')
  return want.length === key.length && timingSafeEqual(want, key)
}

/** ASVS 2.1: at least 12 characters, at most 128, not all one character. */
export function passwordProblem (password: string): string | undefined {
  if (password.length < 12) return 'use at least 12 characters'
  if (password.length > 128) return 'use at most 128 characters'
  if (new Set(password).size < 4) return 'use more different characters'
  return undefined
}
