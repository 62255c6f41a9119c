// chunkstore: the single-node data path — chunking, dedup, compression, sealing, the
// LevelDB-indexed value log of sealed blocks, snapshots as UnixFS Merkle DAGs, restore,
// check, forget and prune (F1–F8, F18–F19). It may import crypto/ only, and must never
// write an index entry before the data it points to is on disk.
export type * from './types.ts'
export type { BlockStore, BlockLocation, LocatedBlocks, RootOrigin } from './block-store.ts'
export { BLOCK_CID_LENGTH, LocatedList, locatedBlocks, readBlocks, readLocatedBlocks, storeBlocks } from './block-store.ts'
export type { Repository } from './repository-api.ts'
export * from './errors.ts'
export {
  initRepository, openRepository, openRepositoryOn, openRepositoryOver, unlockKeys, readConfig, readKeyFile, writeKeyFile, validateChunker,
  addPassphrase, removeKeySlot, changePassphrase, listKeySlots, LocalRepository, repairIndex
} from './repository.ts'
export type { DamagedSnapshot, SnapshotRepair } from './repository.ts'
export type { IndexRebuild } from './index-rebuild.ts'
export type { StoreConfig, InitOptions, OpenOptions } from './repository.ts'
export { LocalBlockStore } from './local-block-store.ts'
export { Epochs } from './epochs.ts'
export type { Lease, LeaseKind } from './epochs.ts'
export { checkRestoreTarget } from './restore-target.ts'
export { isReplica, prepareReplicaFolder, REPLICA_MARKER } from './replica-marker.ts'
export type { ReplicaFolder, ReplicaMarker } from './replica-marker.ts'
export { unionBlockStore } from './union-block-store.ts'
export type { UnionBlockStoreInit } from './union-block-store.ts'
export { BlockSealer, cidOf, matchesCid, registerSuite, suiteByName } from './codec.ts'
export { DEFAULT_CDC, FIXED_SIZES } from './fastcdc.ts'
export { decodeNode, encodeNode } from './tree-node.ts'
export type { TreeNode, DirNode, FileNode, DirEntry } from './tree-node.ts'
export { createLimiter, nextRateChange, rateAt, realClock, validateSchedule } from './bandwidth.ts'
export type { BandwidthLimiter, BandwidthSchedule, BandwidthWindow, LimiterClock } from './bandwidth.ts'
export { checkForgetPolicy, snapshotsToForget, segmentsToReclaim, REWRITE_DEAD_SHARE } from './retention.ts'
export type { RetainedSnapshot, SegmentUse } from './retention.ts'
export { TARGET_SEGMENT } from './value-log.ts'
export { defaultWorkers } from './worker-pool.ts'
