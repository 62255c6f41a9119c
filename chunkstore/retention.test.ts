// F18/F19: the retention and reclaim rules on their own (the repository applies them to a store,
// the simulation to its model of one): keep-last, keep-days, the newest kept whatever the policy,
// per task; segments dropped when nothing lives, rewritten past a tenth of dead bytes, the one
// being written left alone.
import test from 'node:test'
import assert from 'node:assert/strict'
import { checkForgetPolicy, segmentsToReclaim, snapshotsToForget } from './retention.ts'
import { InvalidOptionError } from './errors.ts'

const day = (d: number): string => new Date(Date.UTC(2027, 0, 1 + d)).toISOString()
const snaps = [0, 1, 2, 3, 4].map(d => ({ task: 'a', time: day(d), n: d })).concat([{ task: 'b', time: day(0), n: 10 }])

test('F18 keep-last and keep-days per task; the newest of a task always stays', () => {
  const now = new Date(day(4))
  assert.deepEqual(snapshotsToForget(snaps, { keepLast: 2 }, now).map(s => s.n), [2, 1, 0])
  assert.deepEqual(snapshotsToForget(snaps, { keepDays: 1 }, now).map(s => s.n), [2, 1, 0], 'a copy of exactly one day is kept')
  assert.deepEqual(snapshotsToForget(snaps, { keepLast: 1, keepDays: 2 }, now).map(s => s.n), [1, 0], 'kept by either rule')
  assert.deepEqual(snapshotsToForget(snaps, { keepDays: 0 }, new Date(day(400))).map(s => s.n), [3, 2, 1, 0], 'never the last of a task (b keeps its only one)')
  assert.deepEqual(snapshotsToForget(snaps, { keepLast: 1, task: 'b' }, now), [])
  // Tasks interleaved: each still counts only its own snapshots.
  const mixed = [0, 1, 2, 3].flatMap(d => [{ task: 'a', time: day(d), n: d }, { task: 'b', time: day(d), n: 10 + d }])
  assert.deepEqual(snapshotsToForget(mixed, { keepLast: 2 }, now).map(s => s.n), [1, 0, 11, 10])
  // A time the caller keeps parsed is the one read (the simulation's snapshots carry it).
  const parsed = snaps.map(s => ({ ...s, timeMs: Date.parse(s.time) + (s.n === 2 ? 86_400_000 : 0) }))
  assert.deepEqual(snapshotsToForget(parsed, { keepDays: 1 }, now).map(s => s.n), [1, 0], 'snapshot 2 read as a day younger')
  assert.throws(() => { checkForgetPolicy({}) }, InvalidOptionError)
  assert.throws(() => { checkForgetPolicy({ keepLast: 0 }) }, InvalidOptionError)
})

test('F19 prune drops segments with nothing live, rewrites those over a tenth dead, never the current one', () => {
  const use = new Map([[1, { live: 0, dead: 50 }], [2, { live: 89, dead: 11 }], [3, { live: 90, dead: 10 }], [4, { live: 100, dead: 0 }], [5, { live: 0, dead: 9 }]])
  assert.deepEqual(segmentsToReclaim(use, 5), { rewrite: [2], drop: [1] })
  assert.deepEqual(segmentsToReclaim(use, undefined), { rewrite: [2], drop: [1, 5] })
})
