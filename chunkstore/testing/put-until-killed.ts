// Child process of crash.test.ts: puts random blocks into a LocalBlockStore (writes on the
// pool, as in the mesh daemon) in groups through putMany, flushes after each group and prints
// the CIDs that flush made durable, one JSON line per flush, until it is killed.
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { cidOf, LocalBlockStore } from '../index.ts'

const dir = process.argv[2]
const store = await LocalBlockStore.open(join(dir, 'index'), join(dir, 'segments'))
for (let group = 0; ; group++) {
  const blocks = Array.from({ length: 24 }, (_, i) => randomBytes(1000 + ((group * 7919 + i * 104_729) % 400_000))).map(bytes => ({ cid: cidOf(bytes), bytes }))
  await store.putMany(blocks)
  await store.flush()
  process.stdout.write(JSON.stringify(blocks.map(b => b.cid.toString())) + '\n')
}
