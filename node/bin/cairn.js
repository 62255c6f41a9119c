#!/usr/bin/env node
// Entry point for `cairn`. TypeScript runs through tsx so no build step is needed;
// the polyfill module is imported first, before anything of libp2p's can load.
import { register } from 'tsx/esm/api'
// A closed pipe (`cairn ls … | head`) ends the output, not the program with a stack trace.
process.stdout.on('error', err => { if (err.code === 'EPIPE') process.exit(0); throw err })
register()
await import('../polyfill.ts')
const { main } = await import('../cli/main.ts')
process.exitCode = await main(process.argv.slice(2))
