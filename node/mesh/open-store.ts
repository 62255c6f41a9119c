// The store a mesh node serves: the node's LevelDB-indexed block store, opened without any key
// (a replica holds ciphertext it cannot read). A new or empty folder becomes a replica, marked as
// one (chunkstore/replica-marker.ts) so that no command takes it for a site's own store; a site's
// own store (made by `cairn init`) is served as it is. Same folder layout as a repository (index/
// and segments/), so a DR site that is later given a lost store's config and key file can read
// that store's snapshots from the same folder (F13).
import { join } from 'node:path'
import { LocalBlockStore, prepareReplicaFolder, type ReplicaFolder } from '../../chunkstore/index.ts'

export interface OpenedStore { blocks: LocalBlockStore, kind: ReplicaFolder, close: () => Promise<void> }

export async function openStore (dir: string): Promise<OpenedStore> {
  const kind = prepareReplicaFolder(dir)
  const blocks = await LocalBlockStore.open(join(dir, 'index'), join(dir, 'segments'))
  return { blocks, kind, close: async () => { await blocks.close() } }
}
