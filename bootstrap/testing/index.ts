// bootstrap/testing: fixtures for tests of the mesh layer and above — random blocks, libp2p
// hosts on 127.0.0.1, a real block store in a temp dir. Only test code imports this.
export { freePort, localStore, randomBlock, startHosts } from './fixtures.ts'
export type { HostPair } from './fixtures.ts'
export { tempDir, removeDir } from '../../crypto/testing/index.ts'
export type { AfterHook } from '../../crypto/testing/index.ts'
