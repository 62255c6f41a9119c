// holder: one store, many clients. The process that has a store open (a CLI command, `cairn
// mesh run`, `cairn serve`) offers it on a Unix socket beside the store, and other commands
// pointed at the store run their operation there instead of being refused. Both ends prove
// they hold the store's keys (challenge and response, no key sent). This module never opens a
// store itself and never decides what may be freed (chunkstore/epochs.ts does).
export { holdStore } from './server.ts'
export type { StoreHolder, StoreHolderInit } from './server.ts'
export { connectHolder } from './client.ts'
export type { HolderConnection, RunHooks } from './client.ts'
export { STORE_OPERATIONS, registerStoreOperation } from './operations.ts'
export type { StoreOperation, StoreOperationName, RegisteredOperationName, OperationContext, BackupArgs, RestoreArgs, CheckArgs, ForgetArgs, SnapshotsResult, ForgetResult } from './operations.ts'
export { holderSocketPath, HOLDER_SOCKET } from './socket-path.ts'
export type { HolderInfo, HolderKind } from './wire.ts'
export * from './errors.ts'
