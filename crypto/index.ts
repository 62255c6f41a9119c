// crypto: keys, key slots, cipher suites and tokens. Pure functions and small formats;
// it imports nothing else of ours and never touches the store, the network or the console.
export type { CipherSuite, CipherSuiteName } from './cipher-suite.ts'
export { xsalsa20Poly1305 } from './xsalsa20-poly1305.ts'
export * from './keyring.ts'
export { DecryptionError, WrongPassphraseError, KeyFileError, WriteOnlyKeyError } from './errors.ts'
export { aes256Gcm } from './aes-256-gcm.ts'
export { sm4 } from './sm4.ts'
export { openPkcs11Module, withTokenSession, resolvePkcs11Module, DEFAULT_PKCS11_MODULE, ecdsaRawToDer } from './pkcs11-token.ts'
export type { Pkcs11Module, Pkcs11ModuleInit, TokenSession, TokenPublicView, TokenInfo, TokenObject, TokenKeyRef, TokenKeyPair, TokenKeyType } from './pkcs11-token.ts'
export { checkOperatorCertificate } from './operator-certificate.ts'
export type { OperatorCertificate, CertificateCheckOptions } from './operator-certificate.ts'
export { createLoginChallenges, createMemoryChallengeStore, loginChallengeMessage, canonicalOrigin, DEFAULT_CHALLENGE_TTL_MS, LOGIN_MESSAGE_MAGIC } from './login-challenge.ts'
export type { LoginChallenge, LoginResponse, IssuedChallenge, ChallengeStore, ChallengeTake, LoginChallenges, LoginChallengesInit } from './login-challenge.ts'
export { TokenModuleNotFoundError, TokenNotFoundError, WrongPinError, TokenLockedError, TokenKeyNotFoundError, TokenOperationError, UnsupportedKeyError, CertificateRejectedError, ChallengeUnknownError, ChallengeReplayedError, ChallengeExpiredError, ChallengeMismatchError, SignatureInvalidError } from './errors.ts'
// For other layers' tests (and the console's browser tests): SoftHSM2 tokens made by the standard tools.
export { createSoftHsm, createOperatorToken, SOFTHSM2_MODULE } from './testing/softhsm.ts'
export type { SoftHsm, SoftHsmKeyPair, SoftHsmKeyType, OperatorToken } from './testing/softhsm.ts'
