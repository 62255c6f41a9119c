// The capacity planner a node offers through its API (node's CapacityPlanner contract): the
// scenario schema, a run of scenario text, and a scenario from the node's facts. A run on the node
// reads no files (no profile by path, no sample folders) and yields to the event loop as it goes.
import type { CapacityPlanner } from '../node/index.ts'
import { SCENARIO_SCHEMA } from './scenario-schema.ts'
import { scenarioFromFacts } from './from-mesh.ts'

export function createCapacityPlanner (): CapacityPlanner {
  return {
    schema: () => SCENARIO_SCHEMA,
    async run (text, options = {}) {
      const { runScenario } = await import('./run.ts')
      return await runScenario(text, { file: 'scenario', allowFiles: false, signal: options.signal })
    },
    scenarioFrom: facts => scenarioFromFacts(facts)
  }
}
