// node: the Cairn node — the `cairn` command line (cli), the node daemon with its HTTP API and
// jobs (daemon, api, jobs, …), the mesh it runs (mesh, control), the benchmark (bench) and the fault harness (faults). It
// wires the layers below (bootstrap, chunkstore, crypto) together; nothing below may import it.
// Its folders form layers of their own, each entered through its index.ts (node/layering.test.ts):
//   bench, faults ▶ cli ▶ daemon ▶ api ▶ mesh ▶ jobs ▶ notify ▶ inventory ▶ auth ▶ holder ▶ control ▶ metrics ▶ logs ▶ state ▶ clock
// with node/testing for tests only. The package's executables are node/bin/*.js.
//
// What the capacity planner (sim/, the one folder above node) uses of it: the node's own rules
// for schedules and replication targets, so that a simulation follows them rather than copies of
// them; the planning contract it implements (CapacityPlanner, the report and facts shapes, the
// CLI extension it is loaded as); and the pieces its mesh calibration drives node processes with.
export { runsAfter, nextRun, validateSchedule, SCHEDULE_KINDS, MIN_INTERVAL_MINUTES } from './jobs/index.ts'
export type { Schedule, Retention } from './jobs/index.ts'
export { selectTargets, targetsOf, ROLES } from '../bootstrap/index.ts'
export type { ReplicationPolicy, Member, Role } from '../bootstrap/index.ts'
// The lock a replication policy asks of its targets (the simulation's replica retention, doc/sim.md).
export { floorDaysOf, lockDaysOf, LOCK_FOREVER } from '../bootstrap/index.ts'
export { validateReplicationConfig, MAX_COPIES } from './mesh/index.ts'
export type { ReplicationConfig } from './mesh/index.ts'
export { callControl } from './control/index.ts'
export { projectRoot } from './project-root.ts'
export type { CapacityPlanner, MeshFacts, PlanReport, PlanSite, PlanTask, PlanLink, PlanLag, PlanArchive, PlanFinding, PlanFindingCode, PlanChart, PlanChartId, PlanFactRun, PlanScenarioSummary } from './api/index.ts'
export type { CliExtension } from './cli/index.ts'
