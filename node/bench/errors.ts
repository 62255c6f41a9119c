// One class per way the benchmark harness can fail, each with a stable `name` and `code` (the
// base and the rules: crypto/errors.ts).
import { CairnError } from '../../crypto/index.ts'

/** An external command (copy, apt-get, du, …) exited non-zero. */
export class CommandFailedError extends CairnError {
  static override readonly code = 'BENCH_COMMAND_FAILED'
  override readonly name = 'CommandFailedError'
  constructor (readonly argv: string[], readonly exitCode: number, readonly stderrTail: string) {
    super(`${argv.join(' ')} exited with ${exitCode}${stderrTail === '' ? '' : `:\n${stderrTail}`}`, { params: { command: argv.join(' '), exitCode } })
  }
}

/** A benchmarked tool failed one of its phases; the message says where its logs are. */
export class PhaseFailedError extends CairnError {
  static override readonly code = 'BENCH_PHASE_FAILED'
  override readonly name = 'PhaseFailedError'
}

/** The command line asked for something the harness does not understand. */
export class UsageError extends CairnError {
  static override readonly code = 'BENCH_USAGE'
  override readonly name = 'UsageError'
}
