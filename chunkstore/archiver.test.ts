// The backup walk's memory (SPEC N4): the parent snapshot's directory nodes it prefetches stay
// within their bound even when one level of the tree holds more entries than that (a tree of
// millions of files in thousands of folders), and each leaves the cache when the walk takes it.
import test from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Archiver } from './archiver.ts'
import { BlockSealer } from './codec.ts'
import { rootOf } from './snapshot-records.ts'
import { WorkerPool } from './worker-pool.ts'
import { createStore, removeDir, tempDir } from './testing/index.ts'

test('a no-change backup prefetches at most its bound of parent entries, within one level too, and keeps none it has walked', async () => {
  const dir = tempDir('cairn-archiver-')
  try {
    const src = join(dir, 'src')
    // Two levels: 4 folders under the root, each with 40 files (160 entries on one level).
    for (let d = 0; d < 4; d++) {
      mkdirSync(join(src, `d${d}`), { recursive: true })
      for (let f = 0; f < 40; f++) writeFileSync(join(src, `d${d}`, `f${f}`), `${d} ${f}`)
    }
    const repo = await createStore(join(dir, 'store'))
    try {
      await repo.backup({ paths: [src] })
      const [parent] = await repo.snapshots()
      const archiver = new Archiver({
        store: repo.blocks,
        sealer: new BlockSealer(repo.keys, repo.suite, repo.config.compression),
        loadNode: async (ref, loc) => await repo.loadNode(ref, loc),
        makePool: on => new WorkerPool({ keys: repo.keys, suite: repo.suite.name, level: repo.config.compression, chunker: repo.config.chunker, segmentDir: repo.blocks.log.dir, segmentCounter: repo.blocks.segmentCounter }, on)
      }, { paths: [src], level: 'incremental' }, { prefetchEntries: 50 })
      // (The root itself may differ: the folders above the source, /tmp among them, change meanwhile.)
      const { stats } = await archiver.run([src], rootOf(parent))
      assert.equal(stats.filesUnchanged, 160, 'the metadata cache still vouches for every file')
      // The bound, plus the one node whose entries crossed it.
      assert.ok(archiver.peakPrefetched <= 50 + 40, `prefetched ${archiver.peakPrefetched} entries at most`)
      assert.equal(archiver.prefetched, 0, 'every prefetched node left the cache when walked')
    } finally {
      await repo.close()
    }
  } finally {
    removeDir(dir)
  }
})
