#!/usr/bin/env node
// Entry point for `npm run bench:sim`: the capacity-planning simulation's speed (F28), a benchmark
// and not a test. TypeScript runs through tsx; the polyfill module is imported first, as in every
// entry point. `-- --write` records the figures in docs/bench.md; `-- --only 100` runs one case;
// `-- --accuracy [--days N]` adds the larger accuracy check (three daemons through the bin).
import { register } from 'tsx/esm/api'
register()
await import('../../node/polyfill.ts')
const { main } = await import('./speed.ts')
process.exitCode = await main(process.argv.slice(2))
