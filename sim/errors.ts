// Errors of the capacity planner (F28). One class per condition, each with a stable name and code
// (doc/api.md "Errors"). A scenario that cannot work as planned is not an error: the report says
// so in its findings. These are for input the planner cannot read at all.
import { CairnError, type CairnErrorOptions } from '../crypto/index.ts'

/** Where in a scenario or profile a problem is: the field's path, and its line and column when the text is YAML or JSON. */
export interface SourcePlace {
  file: string
  /** Dotted path of the field: `sites[0].datasets[1].size`; '' for the whole document. */
  field: string
  line?: number
  column?: number
}

const where = (p: SourcePlace): string => `${p.file}${p.line !== undefined ? `:${p.line}:${p.column ?? 1}` : ''}`
const params = (p: SourcePlace): Record<string, string | number> => ({ file: p.file, field: p.field, ...(p.line !== undefined ? { line: p.line, column: p.column ?? 1 } : {}) })

/** A scenario or profile that is not YAML or JSON at all. */
export class ScenarioSyntaxError extends CairnError {
  static override readonly code = 'SIM_SCENARIO_SYNTAX'
  override readonly name = 'ScenarioSyntaxError'
  constructor (readonly place: SourcePlace, problem: string, options?: CairnErrorOptions) {
    super(`${where(place)}: ${problem}. Fix the ${place.file.endsWith('.json') ? 'JSON' : 'YAML'} there and run again`, { ...options, params: { ...params(place), problem } })
  }
}

/**
 * A scenario that breaks its schema or the node's own rules (a schedule, a policy, a bandwidth
 * window): the first problem names the field, the message lists up to ten.
 */
export class ScenarioInvalidError extends CairnError {
  static override readonly code = 'SIM_SCENARIO_INVALID'
  override readonly name = 'ScenarioInvalidError'
  constructor (readonly problems: Array<SourcePlace & { problem: string }>, options?: CairnErrorOptions) {
    const shown = problems.slice(0, 10).map(p => `${where(p)}: ${p.field === '' ? '' : `${p.field}: `}${p.problem}`)
    if (problems.length > 10) shown.push(`… and ${problems.length - 10} more`)
    super(`The scenario is not valid:\n  ${shown.join('\n  ')}`, { ...options, params: { ...params(problems[0]), problem: problems[0].problem, problems: problems.length } })
  }
}

/** A calibration profile that cannot be read or is of an unknown version. */
export class ProfileInvalidError extends CairnError {
  static override readonly code = 'SIM_PROFILE_INVALID'
  override readonly name = 'ProfileInvalidError'
  constructor (readonly file: string, problem: string, options?: CairnErrorOptions) {
    super(`Calibration profile ${file}: ${problem}. Make one with \`cairn sim calibrate\``, { ...options, params: { file, problem } })
  }
}

/** A sample folder that cannot be measured: missing, unreadable, or without a single byte of data. */
export class SampleUnreadableError extends CairnError {
  static override readonly code = 'SIM_SAMPLE_UNREADABLE'
  override readonly name = 'SampleUnreadableError'
  constructor (readonly folder: string, problem: string, options?: CairnErrorOptions) {
    super(`Sample folder ${folder}: ${problem}. Give a folder of data like the data set's`, { ...options, params: { folder, problem } })
  }
}

/** A mesh calibration whose node processes did not start or replicate. */
export class CalibrationFailedError extends CairnError {
  static override readonly code = 'SIM_CALIBRATION_FAILED'
  override readonly name = 'CalibrationFailedError'
  constructor (readonly step: string, detail: string, options?: CairnErrorOptions) {
    super(`Mesh calibration failed at "${step}": ${detail}`, { ...options, params: { step, detail } })
  }
}
