// daemon: starts and stops a node's long-lived parts in one place — state, scheduler, jobs,
// notifications and the HTTP API (issue 5). It must never leave a job or a record half-written
// on SIGTERM: stop() waits for every running job to record its end.
export { startDaemon } from './daemon.ts'
export type { Daemon, DaemonInit } from './daemon.ts'
export { systemClock, manualClock, limiterClockOf } from './clock.ts'
export type { Clock, ManualClock } from './clock.ts'
export * from './errors.ts'
