// One class per way the benchmark harness can fail, each with a stable `name`.

/** An external command (copy, apt-get, du, …) exited non-zero. */
export class CommandFailedError extends Error {
  override name = 'CommandFailedError'
  constructor (readonly argv: string[], readonly code: number, readonly stderrTail: string) {
    super(`${argv.join(' ')} exited with ${code}${stderrTail === '' ? '' : `:\n${stderrTail}`}`)
  }
}

/** A benchmarked tool failed one of its phases; the message says where its logs are. */
export class PhaseFailedError extends Error {
  override name = 'PhaseFailedError'
}

/** The command line asked for something the harness does not understand. */
export class UsageError extends Error {
  override name = 'UsageError'
}
