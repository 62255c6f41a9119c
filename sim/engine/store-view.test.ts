// F28 twin stores (issue 17, speed): sites whose data set, task and time zone match share one
// store model; each site's view shows its own state until its own backup ends, the model's
// work is done once, and twins that parted ways would be an error rather than a wrong report.
import '../../node/polyfill.ts'
import test from 'node:test'
import assert from 'node:assert/strict'
import { stringify } from 'yaml'
import { loadScenario } from '../scenario-file.ts'
import { DEFAULT_SAMPLE } from '../profile.ts'
import { simulate } from './simulate.ts'
import { StoreModel } from './store-model.ts'
import { SharedStore, StoreView } from './store-view.ts'

const DAY = 86_400_000
const branch = (name: string, timeZone = 'UTC'): object => ({
  name, role: 'branch', timeZone, datasets: [{ name: 'office', size: '200GB', change: '2%', growth: '1GB', backup: { schedules: [{ kind: 'daily', time: '01:00' }], retention: { copies: 3 } } }]
})

test('F28 twin stores share one model; each view shows its own backups only', async () => {
  const text = stringify({ start: '2027-01-04', horizon: '20d', timeZone: 'UTC', sites: [branch('a'), branch('b'), branch('c', 'Asia/Shanghai')] })
  const model = await loadScenario(text, { file: 'twins.yaml' })
  const world = await simulate(model)
  const [a, b, c] = world.sites.map(s => s.stores[0])
  assert.equal(a.snapshots, b.snapshots, 'a and b: one model')
  assert.notEqual(a.snapshots, c.snapshots, 'another time zone is another model')
  assert.deepEqual([b.id, b.site, b.written, b.physical, b.kept], ['b/office', 'b', a.written, a.physical, a.kept])
  assert.equal(world.sites[1].tasks[0].runs, 20)

  // Between two twins' ends at one instant, the second still shows what it had.
  const d = model.sites[0].datasets[0]
  const shared = new SharedStore(new StoreModel('a', d, DEFAULT_SAMPLE, model.startMs))
  const x = new StoreView('x', d, shared)
  const y = new StoreView('y', d, shared)
  const t = model.startMs + 3600_000
  x.backup(t, t + 600_000, 'incremental')
  assert.ok(x.written > 0)
  assert.deepEqual([y.written, y.physical, y.kept], [0, 0, 0], 'y has not made its backup yet')
  y.backup(t, t + 600_000, 'incremental')
  assert.deepEqual([y.written, y.physical, y.kept], [x.written, x.physical, x.kept])
  assert.equal(shared.model.snapshots.length, 1, 'the backup was made once')
  // A twin whose backup differs would make the shared model wrong for one of them.
  x.backup(t + DAY, t + DAY + 600_000, 'incremental')
  assert.throws(() => y.backup(t + DAY, t + DAY + 900_000, 'incremental'), /twin stores parted/)
})
