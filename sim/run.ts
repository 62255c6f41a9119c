// One simulation, from scenario text to report: read and check the scenario (scenario-file.ts),
// run the engine (engine/simulate.ts), build the report (report.ts). The command line, the
// node's planning route and the tests all come through here.
import type { PlanReport } from '../node/index.ts'
import { loadScenario, type LoadOptions } from './scenario-file.ts'
import { simulate } from './engine/simulate.ts'
import { buildReport } from './report.ts'

export interface RunOptions extends LoadOptions {
  signal?: AbortSignal
  onProgress?: (done: number) => void
}

export async function runScenario (text: string, options: RunOptions = {}): Promise<PlanReport> {
  const model = await loadScenario(text, options)
  return buildReport(await simulate(model, { signal: options.signal, onProgress: options.onProgress }))
}
