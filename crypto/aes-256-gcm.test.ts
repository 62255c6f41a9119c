// F4: AES-256-GCM conforms to the CipherSuite contract and to the published GCM test vectors.
import test from 'node:test'
import assert from 'node:assert/strict'
import { aes256Gcm } from './aes-256-gcm.ts'
import { cipherSuiteConformance, loadGoldenVectors } from './testing/index.ts'

cipherSuiteConformance(aes256Gcm)

test('aes-256-gcm: the checked-in vectors include the published McGrew–Viega test cases 13–15', () => {
  const published = loadGoldenVectors(aes256Gcm).filter(v => v.source.startsWith('McGrew & Viega'))
  assert.equal(published.length, 3)
  // Test case 15's tag, copied from the paper rather than from our own output.
  assert.ok(published[2].sealed.endsWith('b094dac5d93471bdec1a502270e3cc6c'))
  assert.equal(aes256Gcm.id, 2)
  assert.equal(aes256Gcm.nonceLength, 12)
})
