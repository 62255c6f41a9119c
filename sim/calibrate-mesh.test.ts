// F28 calibration between two node processes: `cairn sim calibrate --mesh` through the bin starts
// two `cairn mesh run` processes on 127.0.0.1, replicates large and small blocks between them and
// writes what it measured into the profile, keeping the part measured before (the sample's) as
// it was. Small sizes here; the real calibration moves 256 MiB and 20,000 small blocks.
// test-suite: processes
// test-timeout: 180
import test from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cairn } from '../node/testing/index.ts'
import { DEFAULT_SAMPLE, type Profile } from './profile.ts'

test('F28 cairn sim calibrate --mesh measures replication between two node processes into the profile', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-sim-calibrate-mesh-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const file = join(dir, 'profile.json')
  // A profile with a sample part measured earlier: --mesh adds its part and keeps this one.
  const before: Profile = { format: 'cairn-sim-profile', version: 1, measuredAt: '2027-01-01T00:00:00.000Z', host: { name: 'earlier', cpus: 2, cpuModel: '', node: '' }, sample: { ...DEFAULT_SAMPLE, folder: '/srv/sample', compressibility: 0.42 } }
  writeFileSync(file, JSON.stringify(before))
  const r = await cairn(['sim', 'calibrate', '--mesh', '--mesh-mib', '8', '--mesh-small-blocks', '400', '--out', file])
  assert.equal(r.code, 0, r.stderr)
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile
  assert.equal(p.sample?.folder, '/srv/sample')
  assert.equal(p.sample?.compressibility, 0.42)
  const m = p.mesh!
  assert.ok(m !== undefined, 'a mesh part')
  assert.ok(m.bytes >= 8 * 2 ** 20, `moved ${m.bytes} bytes`)
  assert.ok(m.blocks >= 8 + 400, `moved ${m.blocks} blocks`)
  assert.ok(m.bytesPerSecond > 0 && Number.isFinite(m.bytesPerSecond), `throughput ${m.bytesPerSecond}`)
  for (const k of ['secondsPerBlockSent', 'secondsPerBlockOffered', 'secondsPerRun'] as const) assert.ok(m[k] >= 0 && Number.isFinite(m[k]), `${k} ${m[k]}`)
  assert.notEqual(p.measuredAt, before.measuredAt)
  // A scenario that names the profile runs with it, and the report says so.
  const scenario = join(dir, 'plan.yaml')
  writeFileSync(scenario, 'start: 2027-01-04\nhorizon: 7d\nprofile: profile.json\nsites:\n  - name: hq\n    role: head\n    datasets: [{ name: docs, size: 10GB, backup: { schedules: [{ kind: daily, time: "01:00" }] } }]\n    replication: { policies: [{ name: dr, copies: 2, roles: [dr] }] }\n  - name: dr\n    role: dr\n')
  const run = await cairn(['sim', 'run', scenario, '--json'])
  assert.equal(run.code, 0, run.stderr)
  assert.deepEqual(JSON.parse(run.stdout).scenario.profile.parts.sort(), ['mesh', 'sample'])
})
