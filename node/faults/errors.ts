// The fault harness's own failures, each with a stable `name` and `code` (the base and the
// rules: crypto/errors.ts). A fault the harness finds in Cairn is a figure of its tally, never
// one of these: these stop a campaign because the harness could not set up what it measures.
import { CairnError } from '../../crypto/index.ts'

/** A step the harness needs before it can measure (a setup command, a daemon's start, a replica) failed. */
export class HarnessSetupError extends CairnError {
  static override readonly code = 'FAULTS_SETUP_FAILED'
  override readonly name = 'HarnessSetupError'
}

/** A mesh daemon the harness drives did not answer a control request in time: a finding, and the campaign's end. */
export class DaemonUnresponsiveError extends CairnError {
  static override readonly code = 'FAULTS_DAEMON_UNRESPONSIVE'
  override readonly name = 'DaemonUnresponsiveError'
  constructor (readonly op: string, seconds: number) {
    super(`the daemon did not answer "${op}" within ${seconds} s`, { params: { op, seconds } })
  }
}
