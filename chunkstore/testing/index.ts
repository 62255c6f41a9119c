// chunkstore/testing: fixtures for tests of the data path and above — fast-KDF stores, random
// files, tree fingerprints for restore comparisons, temporary folders, and the runner of the
// real `cairn` bin. Only test code imports this; no production module may (node/layering.test.ts).
export * from './fixtures.ts'
export * from './block-store-suite.ts'
export * from './memory-block-store.ts'
export * from './faulty-block-store.ts'
