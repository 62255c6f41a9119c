// crypto/testing: helpers for tests of every layer — SoftHSM2 tokens made by the standard tools,
// the cipher-suite conformance suite, temporary folders. Only test code imports this; no
// production module may (node/layering.test.ts).
export { createSoftHsm, createOperatorToken, SOFTHSM2_MODULE } from './softhsm.ts'
export type { SoftHsm, SoftHsmKeyPair, SoftHsmKeyType, OperatorToken } from './softhsm.ts'
export { cipherSuiteConformance, loadGoldenVectors } from './cipher-suite-conformance.ts'
export type { GoldenVector } from './cipher-suite-conformance.ts'
export { tempDir, removeDir } from './temp-dir.ts'
export type { AfterHook } from './temp-dir.ts'
