// bench: `npm run bench` — Cairn measured against restic and borg in the same run, and the
// replication benchmark; it prints ratios and writes docs/bench.md's figures. Also the holder
// campaign (`npm run campaign:holder`: concurrent commands on one store, with kill -9). It is
// a harness: it drives `cairn` and other tools as processes (through node/testing, like the
// tests) and may change nothing of Cairn's own stores but those it makes. Benchmarks are not
// tests.
export { main } from './main.ts'
export { holderCampaign } from './holder-campaign.ts'
export { retentionDays } from './retention-days.ts'
export { smallFiles } from './small-files.ts'
export * from './errors.ts'
