// F4: the SM4-CTR + HMAC-SM3 suite conforms to the CipherSuite contract, and its checked-in
// vectors are recomputed independently with the openssl command line (HKDF, SM4-CTR, HMAC-SM3).
import test from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sm4 } from './sm4.ts'
import { cipherSuiteConformance, loadGoldenVectors } from './testing/index.ts'

cipherSuiteConformance(sm4)

function openssl (args: string[], input?: Uint8Array): Buffer {
  return execFileSync('openssl', args, { input })
}

function hkdf (keyHex: string, info: string, length: number): string {
  const out = openssl(['kdf', '-keylen', String(length), '-kdfopt', 'digest:SHA256', '-kdfopt', `hexkey:${keyHex}`, '-kdfopt', `info:${info}`, 'HKDF'])
  return out.toString().trim().replaceAll(':', '').toLowerCase()
}

test('sm4: openssl recomputes every checked-in vector from the documented construction', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-sm4-'))
  try {
    for (const v of loadGoldenVectors(sm4)) {
      const encKey = hkdf(v.key, 'cairn sm4-ctr-hmac-sm3 v1 enc', 16)
      const macKey = hkdf(v.key, 'cairn sm4-ctr-hmac-sm3 v1 mac', 32)
      const pt = join(dir, 'pt')
      writeFileSync(pt, Buffer.from(v.plaintext, 'hex'))
      const ct = v.plaintext.length === 0 ? Buffer.alloc(0) : openssl(['enc', '-sm4-ctr', '-K', encKey, '-iv', v.nonce, '-in', pt])
      const macInput = join(dir, 'mac-input')
      writeFileSync(macInput, Buffer.concat([Buffer.of(3), Buffer.from(v.nonce, 'hex'), ct]))
      const tag = openssl(['mac', '-digest', 'SM3', '-macopt', `hexkey:${macKey}`, '-in', macInput, 'HMAC']).toString().trim().toLowerCase()
      assert.equal(ct.toString('hex') + tag, v.sealed, v.source)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('sm4: the primitives match the published GB/T 32907 and GB/T 32905 examples', () => {
  const block = Buffer.from('0123456789abcdeffedcba9876543210', 'hex')
  // GB/T 32907 example 1: key = plaintext = 0123…3210 (one raw block cipher call).
  const ecb = openssl(['enc', '-sm4-ecb', '-K', block.toString('hex'), '-nopad'], block)
  assert.equal(ecb.toString('hex'), '681edf34d206965e86b3e94f536e4246')
  const sm3 = openssl(['dgst', '-sm3', '-r'], Buffer.from('abc')).toString().split(' ')[0]
  assert.equal(sm3, '66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0')
  assert.equal(sm4.id, 3)
  assert.equal(sm4.nonceLength, 16)
  assert.equal(sm4.overhead, 32)
})
