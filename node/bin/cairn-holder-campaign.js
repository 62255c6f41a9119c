#!/usr/bin/env node
// Entry point for `npm run campaign:holder`: rounds of concurrent commands on one store with
// kill -9 mixed in (node/holder/campaign.ts). TypeScript runs through tsx; the polyfill module
// is imported first, as in every entry point.
import { register } from 'tsx/esm/api'
register()
await import('../polyfill.ts')
const { main } = await import('../holder/campaign.ts')
process.exitCode = await main(process.argv.slice(2))
