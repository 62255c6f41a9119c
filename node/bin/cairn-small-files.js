#!/usr/bin/env node
// Entry point for `npm run bench:small-files`: small files stored in other ways, measured on the
// reference data set (node/bench/small-files.ts; issue 21's figures). TypeScript runs through
// tsx; the polyfill module is imported first, as in every entry point.
import { register } from 'tsx/esm/api'
register()
await import('../polyfill.ts')
const { smallFiles } = await import('../bench/index.ts')
process.exitCode = await smallFiles(process.argv.slice(2))
