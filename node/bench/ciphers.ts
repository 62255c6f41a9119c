// Cipher-suite throughput for `npm run bench` (issue 3): seal and open of 1 MiB chunks,
// MB/s, for every suite a store can use, next to tweetnacl's secretbox (the same
// construction as xsalsa20-poly1305 in pure JS) to show why bulk data goes through libsodium.
import { randomBytes } from 'node:crypto'
import nacl from 'tweetnacl'
import { aes256Gcm, sm4, xsalsa20Poly1305 } from '../../crypto/index.ts'
import type { CipherSuite } from '../../crypto/index.ts'

export interface CipherFigure { suite: string, sealMBps: number, openMBps: number }

const CHUNK = 1 << 20

function rate (bytes: number, fn: () => void): number {
  const start = process.hrtime.bigint()
  fn()
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  return bytes / 1e6 / seconds
}

function measure (suite: CipherSuite, mib: number): CipherFigure {
  const key = randomBytes(32)
  const nonce = randomBytes(suite.nonceLength)
  const chunk = randomBytes(CHUNK)
  const sealed = suite.seal(key, nonce, chunk)
  suite.open(key, nonce, sealed) // warm up
  return {
    suite: suite.name,
    sealMBps: rate(mib * CHUNK, () => { for (let i = 0; i < mib; i++) suite.seal(key, nonce, chunk) }),
    openMBps: rate(mib * CHUNK, () => { for (let i = 0; i < mib; i++) suite.open(key, nonce, sealed) })
  }
}

export function measureCiphers (quick: boolean): CipherFigure[] {
  const mib = quick ? 32 : 256
  const key = randomBytes(32); const nonce = randomBytes(24); const chunk = randomBytes(CHUNK)
  const box = nacl.secretbox(chunk, nonce, key)
  const small = Math.max(4, mib >> 4)
  return [
    ...[xsalsa20Poly1305, aes256Gcm, sm4].map(s => measure(s, s === sm4 ? Math.max(8, mib >> 2) : mib)),
    {
      suite: 'tweetnacl secretbox (not used for bulk data)',
      sealMBps: rate(small * CHUNK, () => { for (let i = 0; i < small; i++) nacl.secretbox(chunk, nonce, key) }),
      openMBps: rate(small * CHUNK, () => { for (let i = 0; i < small; i++) nacl.secretbox.open(box, nonce, key) })
    }
  ]
}

export function cipherLines (figures: CipherFigure[]): string[] {
  return ['cipher suites, 1 MiB chunks, one core:', ...figures.map(f => `  ${f.suite.padEnd(46)} seal ${f.sealMBps.toFixed(0).padStart(5)} MB/s   open ${f.openMBps.toFixed(0).padStart(5)} MB/s`)]
}

export function cipherMarkdown (figures: CipherFigure[]): string {
  return ['## Cipher suites (1 MiB chunks, one core)', '', '| suite | seal MB/s | open MB/s |', '| --- | ---: | ---: |',
    ...figures.map(f => `| ${f.suite} | ${f.sealMBps.toFixed(0)} | ${f.openMBps.toFixed(0)} |`), ''].join('\n')
}
