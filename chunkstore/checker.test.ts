// check --read-data's memory (SPEC N4): the walk sends verify jobs to the workers only a few
// ahead of their answers, so what waits in their queues does not grow with the store.
import test from 'node:test'
import assert from 'node:assert/strict'
import { closeSync, mkdirSync, openSync, readSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { checkSnapshots, JOBS_AHEAD } from './checker.ts'
import { BlockSealer } from './codec.ts'
import { rootOf } from './snapshot-records.ts'
import type { DirNode } from './tree-node.ts'
import type { CheckResult } from './types.ts'
import { WorkerPool } from './worker-pool.ts'
import { createStore, removeDir, tempDir } from './testing/index.ts'

test('check --read-data keeps at most JOBS_AHEAD verify jobs of bounded size in the workers at once, still reads every block, and names a bad one by its file', async () => {
  const dir = tempDir('cairn-checker-')
  try {
    const src = join(dir, 'src')
    mkdirSync(src)
    for (let f = 0; f < 40; f++) writeFileSync(join(src, `f${f}`), randomBytes(2000))
    const repo = await createStore(join(dir, 'store'))
    try {
      await repo.backup({ paths: [src] })
      const [snap] = await repo.snapshots()
      let inflight = 0
      let peak = 0
      let largest = 0
      const check = async (limits: { jobBytes?: number, jobBlocks?: number }): Promise<CheckResult> => await checkSnapshots({
        store: repo.blocks,
        sealer: new BlockSealer(repo.keys, repo.suite, repo.config.compression),
        ...limits,
        makePool: on => {
          const pool = new WorkerPool({ keys: repo.keys, suite: repo.suite.name, level: repo.config.compression, chunker: repo.config.chunker, segmentDir: repo.blocks.log.dir, segmentCounter: repo.blocks.segmentCounter }, (m, w) => {
            if (m.t === 'done') inflight--
            on(m, w)
          })
          const dispatch = pool.dispatch.bind(pool)
          pool.dispatch = (msg, weight, transfer) => {
            inflight++; peak = Math.max(peak, inflight)
            if (msg.t === 'verify') largest = Math.max(largest, msg.count)
            return dispatch(msg, weight, transfer)
          }
          return pool
        }
      }, [{ name: snap.id, ...rootOf(snap) }], { readData: true })
      // One data block per job, so 40 jobs: without a bound they would all be queued at once.
      const result = await check({ jobBytes: 1 })
      assert.deepEqual(result.errors, [])
      assert.ok(result.blocksChecked > 40 && result.bytesChecked > 40 * 2000, 'every file\'s block was read, and the folders\' nodes')
      assert.ok(peak <= JOBS_AHEAD, `${peak} jobs in the workers at once`)
      // Tiny blocks: a job is cut by its count of blocks too, not only by their bytes.
      const again = await check({ jobBlocks: 8 })
      assert.equal(again.blocksChecked, result.blocksChecked)
      assert.ok(largest <= 8, `a job of ${largest} blocks`)
      // A worker names a failed block by its place in the job; the error must name that block's file.
      let dir = await repo.loadNode(rootOf(snap))
      for (const part of src.split('/').filter(p => p !== '')) dir = await repo.loadNode((dir as DirNode).entries.find(e => e.name === part)!)
      const f17 = (dir as DirNode).entries.find(e => e.name === 'f17')!
      const loc = (await repo.blocks.location(f17.cid))!
      const fd = openSync(repo.blocks.log.path(loc.segment), 'r+')
      const b = Buffer.alloc(1)
      readSync(fd, b, 0, 1, loc.offset + 100)
      writeSync(fd, Buffer.of(b[0] ^ 1), 0, 1, loc.offset + 100)
      closeSync(fd)
      const bad = await check({})
      assert.deepEqual(bad.errors, [`snapshot ${snap.id}: ${src}/f17: block ${f17.cid.toString()}: bytes do not match its address`])
      assert.deepEqual(bad.badBlocks, [f17.cid.toString()])
      assert.equal(bad.blocksChecked, result.blocksChecked, 'the other blocks of its job were still verified')
    } finally {
      await repo.close()
    }
  } finally {
    removeDir(dir)
  }
})
