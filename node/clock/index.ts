// clock: the time the node's schedules, timeouts and retries read — the system clock in
// production, a manual one in tests. It imports nothing of the node; every part may use it.
export { systemClock, manualClock, limiterClockOf } from './clock.ts'
export type { Clock, ManualClock } from './clock.ts'
