// The shared test suite every CipherSuite runs (restic-style: one suite, every implementation).
// It checks the contract in cipher-suite.ts and the suite's golden vectors in testdata/.
import test from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { CipherSuite } from '../cipher-suite.ts'
import { DecryptionError } from '../errors.ts'

export interface GoldenVector { source: string, key: string, nonce: string, plaintext: string, sealed: string }

export function loadGoldenVectors (suite: CipherSuite): GoldenVector[] {
  const file = JSON.parse(readFileSync(new URL(`../testdata/${suite.name}.json`, import.meta.url), 'utf8'))
  assert.equal(file.suite, suite.name)
  assert.equal(file.id, suite.id)
  return file.vectors
}

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))

function flipBit (bytes: Uint8Array, bit: number): Uint8Array {
  const copy = Uint8Array.from(bytes)
  copy[bit >> 3] ^= 1 << (bit & 7)
  return copy
}

export function cipherSuiteConformance (suite: CipherSuite): void {
  test(`${suite.name}: golden vectors seal and open to the checked-in bytes`, () => {
    const vectors = loadGoldenVectors(suite)
    assert.ok(vectors.length >= 3)
    for (const v of vectors) {
      const sealed = suite.seal(hex(v.key), hex(v.nonce), hex(v.plaintext))
      assert.equal(Buffer.from(sealed).toString('hex'), v.sealed, v.source)
      assert.equal(Buffer.from(suite.open(hex(v.key), hex(v.nonce), hex(v.sealed))).toString('hex'), v.plaintext, v.source)
    }
  })

  test(`${suite.name}: round-trips sizes from empty to over a MiB, adding exactly ${suite.overhead} bytes`, () => {
    const key = randomBytes(32)
    for (const size of [0, 1, 15, 16, 17, 4096, 65537, (1 << 20) + 3]) {
      const nonce = randomBytes(suite.nonceLength)
      const plaintext = randomBytes(size)
      const sealed = suite.seal(key, nonce, plaintext)
      assert.equal(sealed.length, size + suite.overhead)
      assert.deepEqual(Buffer.from(suite.open(key, nonce, sealed)), plaintext)
    }
  })

  test(`${suite.name}: every flipped bit of a sealed message is rejected with DecryptionError`, () => {
    const key = randomBytes(32)
    const nonce = randomBytes(suite.nonceLength)
    const sealed = suite.seal(key, nonce, new TextEncoder().encode('cairn'))
    let rejected = 0
    for (let bit = 0; bit < sealed.length * 8; bit++) {
      assert.throws(() => suite.open(key, nonce, flipBit(sealed, bit)), DecryptionError, `bit ${bit}`)
      rejected++
    }
    assert.equal(rejected, (5 + suite.overhead) * 8)
  })

  test(`${suite.name}: a wrong key, a wrong nonce, truncation and extension are rejected`, () => {
    const key = randomBytes(32)
    const nonce = randomBytes(suite.nonceLength)
    const sealed = suite.seal(key, nonce, randomBytes(100))
    for (let bit = 0; bit < 256; bit++) assert.throws(() => suite.open(flipBit(key, bit), nonce, sealed), DecryptionError)
    for (let bit = 0; bit < suite.nonceLength * 8; bit++) assert.throws(() => suite.open(key, flipBit(nonce, bit), sealed), DecryptionError)
    assert.throws(() => suite.open(randomBytes(32), nonce, sealed), DecryptionError)
    for (const cut of [1, suite.overhead - 1, suite.overhead, sealed.length - 1, sealed.length]) {
      assert.throws(() => suite.open(key, nonce, sealed.subarray(0, sealed.length - cut)), DecryptionError, `cut ${cut}`)
    }
    assert.throws(() => suite.open(key, nonce, Buffer.concat([sealed, Buffer.of(0)])), DecryptionError)
  })

  test(`${suite.name}: keys and nonces of the wrong length are refused as programming errors`, () => {
    assert.throws(() => suite.seal(randomBytes(16), randomBytes(suite.nonceLength), Buffer.of(1)), RangeError)
    assert.throws(() => suite.seal(randomBytes(32), randomBytes(suite.nonceLength + 1), Buffer.of(1)), RangeError)
    assert.throws(() => suite.open(randomBytes(32), randomBytes(suite.nonceLength - 1), randomBytes(40)), RangeError)
  })
}
