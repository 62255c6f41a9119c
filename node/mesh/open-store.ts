// The store the mesh daemon serves: the node's LevelDB-indexed block store, opened without
// any key (a replica holds ciphertext it cannot read). Same folder layout as a repository
// (index/ and segments/), so a DR site that is later given the store's config and key file
// can open the same folder as a repository and restore from it (F13).
import { join } from 'node:path'
import { mkdirSync } from 'node:fs'
import { LocalBlockStore } from '../../chunkstore/index.ts'

export interface OpenedStore { blocks: LocalBlockStore, close: () => Promise<void> }

export async function openStore (dir: string): Promise<OpenedStore> {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const blocks = await LocalBlockStore.open(join(dir, 'index'), join(dir, 'segments'))
  return { blocks, close: async () => { await blocks.close() } }
}
