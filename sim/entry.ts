// The capacity planner as the program loads it: the launcher (node/bin/launch.js, the one place
// that wires sim in) hands this extension to the CLI's main, which adds `cairn sim` and gives
// `cairn serve` the planner for its API. Kept small: the engine loads when a command runs.
import type { CliExtension } from '../node/index.ts'
import { registerSimCommand } from './cli.ts'

export const extension: CliExtension = {
  commands: registerSimCommand,
  // Loaded when `cairn serve` starts: it brings the YAML parser and the scenario schema, which
  // every other command would pay for at start.
  planner: async () => (await import('./planner.ts')).createCapacityPlanner()
}
