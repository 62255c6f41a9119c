import type { Command } from 'commander'
import type { CapacityPlanner } from '../api/index.ts'

/**
 * A part of the program that node does not import (node/layering.test.ts): the package's launcher
 * (node/bin/launch.js) loads it beside the CLI and hands it to `main`, which lets it add commands
 * and services. The capacity planner (sim/entry.ts) is one.
 */
export interface CliExtension {
  /** Adds the extension's commands to the program. Called once per run, before parsing. */
  commands?: (program: Command) => void
  /**
   * The capacity planner `cairn serve` offers through its API (built once, when serve starts).
   * A promise, so its modules (a YAML parser, the scenario schema) load only for `serve`.
   */
  planner?: () => Promise<CapacityPlanner>
}
