// F28, N6 — the simulation against the real engine. A real mesh of three `cairn serve` daemons
// (hq → branch-1 → dr-north) started through the package's bin on 127.0.0.1 runs four days on
// stepped time: daily schedules, retention with prune, a night window of rate 0 and a slow rate
// after it on the cascade link, a seeded data mutator rewriting three files in ten each noon.
// The simulation of the same scenario — with the profile `cairn sim calibrate` measured on the
// first day's data — must come within 10 % of what the daemons store and of their lag.
// While the mesh runs, the planner's API (scenario from the mesh, a run, a bad scenario) and
// `cairn sim from-mesh` are checked against it. A larger version is `npm run bench:sim`.
// test-suite: processes
// test-timeout: 240
import test from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cairn } from '../node/testing/index.ts'
import { relativeError, runAccuracy, type AccuracyResult } from './testing/index.ts'

test('F28 the simulation comes within 10 % of a real three-site mesh on stored bytes and lag', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-sim-accuracy-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const api: Record<string, unknown> = {}
  const r: AccuracyResult = await runAccuracy({
    workDir: dir,
    days: 4,
    files: { hq: 300, branch: 160 },
    fileBytes: 80 * 1024,
    // Three in ten: a prune then finds each day's segments well past its 10 % rewrite threshold.
    // Near it (an eighth), whether one segment of ten blocks crosses it is a coin toss the
    // simulation can only give the odds of, and the check failed one run in four.
    change: 0.3,
    newFiles: { hq: 10, branch: 6 },
    keep: { hq: 2, branch: 3 },
    // 2 KiB/s after the night window: a day's changes take a quarter of an hour to cross.
    windowMibps: 2 / 1024,
    beforeStop: async (hq) => {
      const c = await hq.admin()
      const scenario = await c.get('/api/planning/scenario')
      assert.equal(scenario.status, 200, scenario.text)
      api.scenario = scenario.body.scenario
      const run = await c.post('/api/planning/run', { scenario: scenario.body.scenario })
      assert.equal(run.status, 200, run.text)
      api.report = run.body
      const bad = await c.post('/api/planning/run', { scenario: 'start: 2027-01-01\nhorizon: 30d\nsites:\n  - name: hq\n    role: boss\n' })
      api.bad = bad
      const file = join(dir, 'from-mesh.yaml')
      const cli = await cairn(['sim', 'from-mesh', '--mesh-dir', hq.meshDir, '--out', file])
      assert.equal(cli.code, 0, cli.stderr)
      const again = await cairn(['sim', 'run', file])
      api.cli = again
    }
  })

  // The figures always, and what the daemons did when one is off: a run that fails says why.
  t.diagnostic(JSON.stringify({ stored: r.stored, lags: r.lags }))
  try { compare(r) } catch (err) {
    for (const [site, log] of Object.entries(r.logs)) t.diagnostic(`${site}:\n${log}`)
    throw err
  }

  // The planner on the live node: a scenario from its mesh, a run of it, a bad one.
  assert.match(String(api.scenario), /- name: hq\b[^]*- name: branch-1\b[^]*- name: dr-north\b/)
  assert.match(String(api.scenario), /estimated from \d+ backups in the job history/)
  const report = api.report as { sites: Array<{ name: string }>, charts: unknown[] }
  assert.deepEqual(report.sites.map(s => s.name), ['hq', 'branch-1', 'dr-north'])
  assert.equal(report.charts.length, 4)
  const bad = api.bad as { status: number, body: { code: string, params: Record<string, unknown> } }
  assert.equal(bad.status, 400)
  assert.equal(bad.body.code, 'SIM_SCENARIO_INVALID')
  assert.deepEqual([bad.body.params.field, bad.body.params.line], ['sites[0].role', 5])
  const cli = api.cli as { code: number, stdout: string }
  assert.equal(cli.code, 0)
  assert.match(cli.stdout, /^site +role/m)
})

/** Real against simulated: stored bytes per site and day, lag per link, the rules' effects. */
function compare (r: AccuracyResult): void {
  // What the daemons stored, day by day, against the simulation: own stores and replicas.
  for (const s of r.stored) {
    const real = s.real.own + s.real.replica
    assert.ok(relativeError(s.sim, real) <= 0.10, `${s.site} day ${s.day}: simulated ${Math.round(s.sim)} bytes, stored ${real}`)
  }
  for (const e of r.end) {
    assert.ok(relativeError(e.sim.own, e.real.own) <= 0.10, `${e.site} own: ${e.sim.own} vs ${e.real.own}`)
    assert.ok(relativeError(e.sim.replica, e.real.replica) <= 0.10, `${e.site} replica: ${e.sim.replica} vs ${e.real.replica}`)
  }
  // Lag of every copy: the same snapshots arrive, as late on average and at worst.
  assert.equal(r.lags.length, 3)
  for (const l of r.lags) {
    assert.equal(l.sim.arrived, l.real.arrived, `${l.origin} → ${l.target}: snapshots arrived`)
    assert.ok(l.real.meanHours === 0 ? l.sim.meanHours === 0 : relativeError(l.sim.meanHours, l.real.meanHours) <= 0.10, `${l.origin} → ${l.target} mean lag: ${l.sim.meanHours} h simulated, ${l.real.meanHours} h real`)
    assert.ok(l.real.maxHours === 0 ? l.sim.maxHours === 0 : relativeError(l.sim.maxHours, l.real.maxHours) <= 0.10, `${l.origin} → ${l.target} max lag: ${l.sim.maxHours} h simulated, ${l.real.maxHours} h real`)
  }
  // The rules did fire: retention kept as many copies at both, prune gave space back, the window held the cascade.
  assert.deepEqual(r.snapshots.map(s => [s.site, s.real, s.sim]), [['hq', 2, 2], ['branch-1', 3, 3]])
  const hq = r.end.find(e => e.site === 'hq')!
  const sentToBranch = r.end.find(e => e.site === 'branch-1')!.real.replica
  assert.ok(hq.real.own < sentToBranch * 0.97, 'prune at hq reclaimed what the replica still holds')
  assert.ok(r.lags.find(l => l.origin === 'hq' && l.target === 'dr-north')!.real.meanHours > 4, 'the night window held the cascade')
}

test('F28 bad input on the command line: the field, its line and column; exit code 1, nothing written', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-sim-bad-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const file = join(dir, 'plan.yaml')
  writeFileSync(file, 'start: 2027-01-01\nhorizon: 30d\nsites:\n  - name: hq\n    role: head\n    capacity: a lot\n')
  const r = await cairn(['sim', 'run', file, '--html', join(dir, 'r.html')])
  assert.equal(r.code, 1)
  assert.equal(r.stdout, '')
  assert.match(r.stderr, /plan\.yaml:6:15: sites\[0\]\.capacity: should be a size such as 500GB/)
  const s = await cairn(['sim', 'calibrate', '--sample', join(dir, 'missing'), '--out', join(dir, 'p.json')])
  assert.equal(s.code, 1)
  assert.match(s.stderr, /Sample folder .*missing: it cannot be read \(ENOENT\)/)
})
