#!/usr/bin/env node
// Entry point for `npm run bench`: Cairn measured against restic and borg in one run.
// TypeScript runs through tsx; the polyfill module is imported first, as in every entry point.
import { register } from 'tsx/esm/api'
register()
await import('../polyfill.ts')
const { main } = await import('../bench/index.ts')
process.exitCode = await main(process.argv.slice(2))
