#!/usr/bin/env node
// Entry point for `npm run faults`: the fault harness (kill -9, bit flips, a full disk, a
// store copied mid-backup) against the real `cairn` binary. TypeScript runs through tsx; the
// polyfill module is imported first, as in every entry point.
import { register } from 'tsx/esm/api'
register()
await import('../polyfill.ts')
const { main } = await import('../faults/index.ts')
process.exitCode = await main(process.argv.slice(2))
