// chunkstore: the single-node data path — chunking, dedup, compression, sealing, the
// LevelDB-indexed value log of sealed blocks, snapshots as UnixFS Merkle DAGs, restore,
// check, forget and prune (F1–F8, F18–F19). It may import crypto/ only, and must never
// write an index entry before the data it points to is on disk.
export type * from './types.ts'
export type { BlockStore, BlockLocation } from './block-store.ts'
export type { Repository } from './repository-api.ts'
