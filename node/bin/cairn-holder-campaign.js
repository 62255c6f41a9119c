#!/usr/bin/env node
// Entry point for `npm run campaign:holder`: rounds of concurrent commands on one store with
// kill -9 mixed in (node/bench/holder-campaign.ts). TypeScript runs through tsx; the polyfill module
// is imported first, as in every entry point.
import { register } from 'tsx/esm/api'
register()
await import('../polyfill.ts')
const { holderCampaign } = await import('../bench/index.ts')
process.exitCode = await holderCampaign(process.argv.slice(2))
