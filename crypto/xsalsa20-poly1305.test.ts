// F4: XSalsa20-Poly1305, the default suite, conforms to the CipherSuite contract and gives the
// published NaCl secretbox answers; tweetnacl (key slots, records) seals the same bytes.
import test from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import nacl from 'tweetnacl'
import { xsalsa20Poly1305 } from './xsalsa20-poly1305.ts'
import { cipherSuiteConformance, loadGoldenVectors } from './testing/index.ts'

cipherSuiteConformance(xsalsa20Poly1305)

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))

test('xsalsa20-poly1305: the checked-in vectors include NaCl\'s own secretbox test and Go\'s', () => {
  const vectors = loadGoldenVectors(xsalsa20Poly1305)
  const nacl131 = vectors.find(v => v.source.startsWith('NaCl tests/secretbox.c'))
  assert.ok(nacl131 !== undefined)
  assert.equal(hex(nacl131.plaintext).length, 131)
  // The first and last bytes of NaCl's published box, copied from its test rather than from our output.
  assert.ok(nacl131.sealed.startsWith('f3ffc7703f9400e52a7dfb4b3d3305d9'))
  assert.ok(nacl131.sealed.endsWith('4cb45a74e355a5'))
  assert.ok(vectors.some(v => v.source.startsWith('Go golang.org/x/crypto')))
  assert.ok(vectors.some(v => v.plaintext === ''), 'an empty message: the tag alone')
  assert.equal(xsalsa20Poly1305.id, 1)
  assert.equal(xsalsa20Poly1305.nonceLength, 24)
})

test('xsalsa20-poly1305: libsodium and tweetnacl seal identical bytes, and each opens the other\'s', () => {
  for (const size of [0, 1, 31, 32, 33, 1000, 65_536 + 7]) {
    const key = randomBytes(32)
    const nonce = randomBytes(24)
    const plaintext = randomBytes(size)
    const sodium = xsalsa20Poly1305.seal(key, nonce, plaintext)
    const tweet = nacl.secretbox(plaintext, nonce, key)
    assert.deepEqual(Buffer.from(sodium), Buffer.from(tweet), `size ${size}`)
    assert.deepEqual(Buffer.from(xsalsa20Poly1305.open(key, nonce, tweet)), plaintext)
    assert.deepEqual(Buffer.from(nacl.secretbox.open(sodium, nonce, key) ?? []), plaintext)
  }
})

test('xsalsa20-poly1305: sealInto and openInto write the same bytes as seal and open', () => {
  const key = randomBytes(32)
  const nonce = randomBytes(24)
  const plaintext = randomBytes(4097)
  const sealed = xsalsa20Poly1305.seal(key, nonce, plaintext)
  const into = new Uint8Array(plaintext.length + 16)
  xsalsa20Poly1305.sealInto!(into, key, nonce, plaintext)
  assert.deepEqual(into, new Uint8Array(sealed))
  const opened = new Uint8Array(plaintext.length)
  assert.equal(xsalsa20Poly1305.openInto!(opened, key, nonce, sealed), true)
  assert.deepEqual(Buffer.from(opened), plaintext)
  const bad = Uint8Array.from(sealed); bad[20] ^= 1
  assert.equal(xsalsa20Poly1305.openInto!(opened, key, nonce, bad), false)
  assert.equal(xsalsa20Poly1305.openInto!(new Uint8Array(3), key, nonce, sealed), false, 'an output of the wrong size')
})
