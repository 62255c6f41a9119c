// crypto: keys, key slots, cipher suites and tokens. Pure functions and small formats;
// it imports nothing else of ours and never touches the store, the network or the console.
export type { CipherSuite, CipherSuiteName } from './cipher-suite.ts'
export { aes256Gcm } from './aes-256-gcm.ts'
export { sm4 } from './sm4.ts'
