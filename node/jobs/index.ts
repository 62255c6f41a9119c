// jobs: backup tasks, their schedules, and the jobs that run against a user space's store —
// backup, restore, DR drill, verify, clean, prune, replicate (F7, F8, F11, F15–F19). A job never leaves a
// snapshot half-written: the store only records a snapshot once its data is durable.
export * from './tasks.ts'
export * from './schedule.ts'
export * from './scheduler.ts'
export * from './job-kinds.ts'
export * from './job-runner.ts'
export * from './operations.ts'
export * from './repositories.ts'
export * from './errors.ts'
export * from './mesh-jobs.ts'
export * from './job-progress.ts'
export { reportSource } from './report-tables.ts'
export * from './escrow.ts'
export * from './archive-jobs.ts'
