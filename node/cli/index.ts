// cli: the `cairn` command line — parsing, progress lines and what each command prints — and
// the processes it runs: `cairn serve` (the node daemon, with its watchdog), `cairn mesh run`
// and the local signing helper. It only parses, prints and wires: what a command does is done
// by chunkstore, bootstrap and the node's other folders, and the heavy ones (the daemon, libp2p)
// load only for the commands that need them. Nothing imports the CLI but the bin (entry.ts).
export { main, buildProgram, EXIT_WARNINGS } from './main.ts'
export type { CliExtension } from './extension.ts'
export * from './errors.ts'
