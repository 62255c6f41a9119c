// A minimal `cairn` with only the serve command, for daemon.test.ts (main.ts is wired by the CLI).
import { Command } from 'commander'
import '../../polyfill.ts'
import { registerServeCommand } from '../../cli/serve-command.ts'

const program = new Command('cairn')
registerServeCommand(program)
await program.parseAsync(process.argv)
