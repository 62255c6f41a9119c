// faults: `npm run faults` — the fault harness (docs/reliability.md): kill -9, bit flips, a full
// disk and a store copied mid-backup, against the real `cairn` binary, with a tally of what
// survived. It is a harness like bench: it drives `cairn` as processes and reads stores through
// chunkstore, may change nothing but the stores and folders it makes, and no other code imports
// it (only its own test, faults.test.ts, and node/bin/cairn-faults.js).
export { main } from './main.ts'
export * from './errors.ts'
