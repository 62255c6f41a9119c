// A process entry with only `cairn mesh …`, for tests and for running a mesh node before
// main.ts wires the command in. Usage: node --import tsx node/cli/mesh-entry.ts mesh run …
// The polyfill comes first, before anything of libp2p's loads.
import '../polyfill.ts'
import { Command } from 'commander'
import { registerMeshCommand } from './mesh-command.ts'

const program = new Command('cairn').exitOverride()
registerMeshCommand(program)
try {
  await program.parseAsync(process.argv)
} catch (err: any) {
  if (err?.code !== 'commander.helpDisplayed' && err?.code !== 'commander.version') {
    if (err?.code === undefined || !String(err.code).startsWith('commander.')) process.stderr.write(`cairn: ${err?.name ?? 'Error'}: ${err?.message ?? String(err)}\n`)
    process.exitCode = 1
  }
}
