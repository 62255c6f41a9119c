// A store of made-up blocks for the replication tests and benches: distinct blocks cut from one
// random buffer (cheap to make), the first listed as a snapshot root.
import { randomBytes } from 'node:crypto'
import { cidOf } from '../../chunkstore/index.ts'
import { openStore } from '../mesh/index.ts'

const MIB = 1024 * 1024

/** A store of distinct random blocks, about `totalMiB` of them, with the first listed as a snapshot root. */
export async function makeRandomStore (dir: string, totalMiB: number, blockKiB: number): Promise<{ blocks: number, bytes: number }> {
  const s = await openStore(dir)
  const size = blockKiB * 1024
  const count = Math.ceil(totalMiB * MIB / size)
  const noise = new Uint8Array(randomBytes(size + 4096))
  for (let i = 0; i < count; i++) {
    // Distinct blocks from one random buffer: a sliding window, then the index.
    const bytes = noise.slice(i % 4096, (i % 4096) + size)
    new DataView(bytes.buffer).setUint32(0, i)
    const cid = cidOf(bytes)
    await s.blocks.put(cid, bytes)
    if (i === 0) await s.blocks.addSnapshotRoot(cid)
  }
  await s.blocks.flush()
  await s.close()
  return { blocks: count, bytes: count * size }
}
