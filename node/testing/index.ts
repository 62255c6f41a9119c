// node/testing: fixtures for tests of the node — a real daemon in this process (LevelDB in a
// temp dir, HTTP on 127.0.0.1, a manual clock) with an API client that keeps its session like
// the console, and real node processes started through the package's bin (`cairn mesh run`,
// `cairn serve`). Only test code (and the benchmark, which drives processes the same way) may
// import this (node/layering.test.ts).
export * from './daemon.ts'
export * from './processes.ts'
