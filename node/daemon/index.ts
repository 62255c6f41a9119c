// daemon: makes a node's long-lived parts — state, accounts, stores, mesh, webhooks, mail,
// jobs, the HTTP API, the scheduler — and starts them in one declared order, stopping them in
// its reverse (daemon.ts, lifecycle.ts). Only wiring: what a part does is its own folder's. It
// must never leave a job or a record half-written on SIGTERM: stop() waits for every running
// job to record its end.
export { startDaemon } from './daemon.ts'
export type { Daemon, DaemonInit } from './daemon.ts'
export * from './errors.ts'
