// state: the node's durable records (users, sessions, nodes, spaces, tasks, jobs, logs) in
// LevelDB, each versioned. It knows nothing of HTTP or jobs and must never drop a record silently.
export { openStateStore, RECORD_VERSION } from './state-store.ts'
export type { StateStore, Collection } from './state-store.ts'
export * from './errors.ts'
