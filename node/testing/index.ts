// node/testing: fixtures for tests of the node — a real daemon in this process (LevelDB in a
// temp dir, HTTP on 127.0.0.1, a manual clock) with an API client that keeps its session like
// the console, real node processes started through the package's bin (`cairn mesh run`,
// `cairn serve`), and a WAN link between them (wan-link.ts: a TCP proxy adding delay and a rate
// cap). Only test code (and the benchmark, which drives processes the same way) may import this
// (node/layering.test.ts).
export * from './daemon.ts'
export * from './processes.ts'
export * from './random-store.ts'
export * from './store-state.ts'
export * from './tape-cases.ts'
export * from './wan-link.ts'
export * from './wan-sites.ts'
