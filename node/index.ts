// node: the Cairn node — command line, daemon, jobs and HTTP API. It wires the layers below
// (bootstrap, chunkstore, crypto) together; nothing below may import it.
//
// What the capacity planner (sim/, the one folder above node) uses of it: the node's own rules
// for schedules and replication targets, so that a simulation follows them rather than copies of
// them; the planning contract it implements (CapacityPlanner, the report and facts shapes, the
// CLI extension it is loaded as); and the pieces its mesh calibration drives node processes with.
export { runsAfter, nextRun, validateSchedule, SCHEDULE_KINDS, MIN_INTERVAL_MINUTES } from './jobs/index.ts'
export type { Schedule, Retention } from './jobs/index.ts'
export { selectTargets, targetsOf, ROLES } from '../bootstrap/index.ts'
export type { ReplicationPolicy, Member, Role } from '../bootstrap/index.ts'
export { validateReplicationConfig, MAX_COPIES } from './mesh/replication-config.ts'
export type { ReplicationConfig } from './mesh/replication-config.ts'
export { callControl } from './mesh/control.ts'
export { projectRoot } from './project-root.ts'
export type { CapacityPlanner, MeshFacts, PlanReport, PlanSite, PlanTask, PlanLink, PlanLag, PlanArchive, PlanFinding, PlanFindingCode, PlanChart, PlanChartId, PlanFactRun, PlanScenarioSummary } from './api/index.ts'
export type { CliExtension } from './cli/main.ts'
