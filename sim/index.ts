// sim: the capacity-planning simulation harness (F28). A scenario describes sites, data sets
// (size, growth, change, compressibility, duplication), backup tasks with the node's schedules and
// retention, replication policies, links and bandwidth windows, archive devices and a horizon; a
// discrete-event engine runs it with the node's own rules (schedules, retention, prune, policy
// targets, bandwidth windows) and reports storage per site over time, backup windows, replication
// lag and link use, with findings where the plan cannot work. Calibration measures this machine
// with the real data path and real node processes. It may import node, chunkstore and crypto;
// nothing imports sim but the launcher, which wires it into the CLI and the daemon's API.
export * from './errors.ts'
export { runScenario } from './run.ts'
export type { RunOptions } from './run.ts'
export { loadScenario, parseText } from './scenario-file.ts'
export type { LoadOptions } from './scenario-file.ts'
export type * from './scenario.ts'
export { SCENARIO_SCHEMA } from './scenario-schema.ts'
export { simulate } from './engine/simulate.ts'
export { buildReport } from './report.ts'
export { summarise } from './summary.ts'
export { htmlReport } from './html-report.ts'
export { scenarioFromFacts } from './from-mesh.ts'
export { createCapacityPlanner } from './planner.ts'
export { measureSample } from './calibrate-sample.ts'
export { measureMesh } from './calibrate-mesh.ts'
export { checkProfile, readProfile, DEFAULT_PROFILE } from './profile.ts'
export type { Profile, SampleMeasure, MeshMeasure } from './profile.ts'
