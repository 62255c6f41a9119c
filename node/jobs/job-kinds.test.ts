// The job-kind table drives the runner: each kind's start and end lines go to its log list
// type, and a failed DR drill ends as an alert. Real parts: the state store (LevelDB) in a
// temporary folder and the log book on it.
import test from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { openStateStore } from '../state/index.ts'
import { createLogBook } from '../logs/index.ts'
import { manualClock } from '../clock/index.ts'
import { createMetrics } from '../metrics/index.ts'
import type { Inventory } from '../inventory/index.ts'
import { createJobRunner, JOB_KINDS, JOB_TYPES, type Repositories } from './index.ts'
import { removeDir, tempDir } from '../../chunkstore/testing/index.ts'

test('each kind logs to its own list type, a failed drill as an alert; params and result are kept', async () => {
  const dir = tempDir('cairn-job-kinds-')
  const state = await openStateStore(dir)
  try {
    const clock = manualClock(new Date('2026-12-07T00:00:00Z'))
    const logs = await createLogBook({ state, clock }, { auditKey: randomBytes(32) })
    // Neither is reached: no body here asks for a store or a node.
    const runner = createJobRunner({ state, clock, logs, metrics: createMetrics(), inventory: {} as Inventory, repositories: {} as Repositories })
    const run = async (job: Parameters<typeof runner.start>[0]): Promise<void> => { await runner.waitFor((await runner.start(job)).id) }
    await run({ type: 'drill', name: 'D-ok', trigger: 'manual', user: 'admin', params: { taskId: 't1', taskName: 'T' }, body: async () => ({ status: 'success' }) })
    await run({ type: 'drill', name: 'D-bad', trigger: 'manual', user: 'admin', params: { taskId: 't1', taskName: 'T' }, body: async () => ({ status: 'failed' }) })
    await run({ type: 'prune', name: 'P', trigger: 'manual', user: 'admin', body: async () => ({ result: { blocksRemoved: 1, bytesFreed: 2, segmentsRewritten: 0, segmentsDeleted: 0 } }) })
    const lines = await logs.query({})
    const typeOf = (name: string, ended: boolean): string | undefined => lines.find(l => l.message.includes(`[${name}]`) && l.message.includes('started') !== ended)?.type
    assert.equal(typeOf('D-ok', false), 'data')
    assert.equal(typeOf('D-ok', true), 'data')
    assert.equal(typeOf('D-bad', false), 'data')
    assert.equal(typeOf('D-bad', true), 'alert')
    assert.equal(typeOf('P', true), JOB_KINDS.prune.logType)
    const prune = (await state.list<{ name: string, result?: unknown, params: unknown }>('jobs')).find(j => j.name === 'P')
    assert.deepEqual(prune?.result, { blocksRemoved: 1, bytesFreed: 2, segmentsRewritten: 0, segmentsDeleted: 0 })
    assert.deepEqual(JOB_TYPES, ['backup', 'restore', 'drill', 'verify', 'clean', 'prune', 'replicate', 'archive', 'archive-verify', 'archive-restore'])
  } finally {
    await state.close()
    removeDir(dir)
  }
})
