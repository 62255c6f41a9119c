#!/usr/bin/env node
// Entry point for `cairn`. No build step: see launch.js.
import { loadCli } from './launch.js'
// A closed pipe (`cairn ls … | head`) ends the output, not the program with a stack trace.
process.stdout.on('error', err => { if (err.code === 'EPIPE') process.exit(0); throw err })
const { main, extensions } = await loadCli()
process.exitCode = await main(process.argv.slice(2), extensions)
