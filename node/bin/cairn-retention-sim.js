#!/usr/bin/env node
// Entry point for `npm run sim:retention`: a DR replica following its origin's retention over
// simulated days (node/bench/retention-days.ts; issue 18's figure). TypeScript runs through tsx;
// the polyfill module is imported first, as in every entry point.
import { register } from 'tsx/esm/api'
register()
await import('../polyfill.ts')
const { retentionDays } = await import('../bench/index.ts')
process.exitCode = await retentionDays(process.argv.slice(2))
