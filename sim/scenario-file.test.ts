// F28 bad input: a scenario that is not YAML or JSON, that breaks the schema, or that the node's own
// rules refuse (a schedule, a bandwidth window, a policy, a time zone) is reported with the path
// of the field and, in the text, its line and column — every problem at once, never a crash.
import '../node/polyfill.ts'
import test from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { loadScenario } from './scenario-file.ts'
import { ScenarioInvalidError, ScenarioSyntaxError } from './errors.ts'

const example = fileURLToPath(new URL('./examples/three-sites.yaml', import.meta.url))

async function problems (text: string, file = 'plan.yaml', allowFiles = true): Promise<ScenarioInvalidError['problems']> {
  try {
    await loadScenario(text, { file, allowFiles })
  } catch (err) {
    assert.ok(err instanceof ScenarioInvalidError, String(err))
    return err.problems
  }
  assert.fail('the scenario was taken')
}

const minimal = (site: string): string => `start: 2027-01-01\nhorizon: 30d\nsites:\n${site}`

test('F28 the example scenario (the README\'s three sites) loads', async () => {
  const m = await loadScenario(readFileSync(example, 'utf8'), { file: example })
  assert.deepEqual(m.sites.map(s => [s.name, s.role]), [['hq', 'head'], ['branch-1', 'branch'], ['dr-north', 'dr']])
  assert.equal(m.sites[0].datasets[0].sizeBytes, 2e12)
  assert.equal(m.sites[0].datasets[0].changePerDay, 0.01)
  assert.deepEqual(m.sites[0].datasets[0].growth, { bytesPerDay: 5e9 })
  assert.deepEqual(m.sites[1].datasets[0].growth, { sharePerDay: 0.001 })
  assert.equal(m.links[1].bytesPerSecond, 25e6, '200Mbit/s')
  assert.equal(m.stepMs, 3_600_000, 'an hour by default')
  assert.equal(m.endMs - m.startMs, 365.25 * 86_400_000)
  assert.equal(new Date(m.startMs).toISOString(), '2027-01-03T16:00:00.000Z', 'midnight in Asia/Shanghai')
})

test('F28 a schema error names the field, its line and column (YAML)', async () => {
  const text = minimal([
    '  - name: hq',
    '    role: head',
    '    datasets:',
    '      - name: files',
    '        size: 5 gigs',
    '        backup:',
    '          schedules: [{ kind: daily, time: "25:00" }]',
    '          retention: { copies: 0 }',
    '          bandwidth: { windows: [{ from: "08:00", to: "18:00", mibps: 1, days: [9] }] }',
    '        colour: blue',
    '  - name: dr',
    '    role: boss'
  ].join('\n'))
  const p = await problems(text)
  const by = new Map(p.map(x => [x.field, x]))
  assert.deepEqual([...by.keys()].sort(), [
    'sites[0].datasets[0].backup.bandwidth.windows[0].days[0]',
    'sites[0].datasets[0].backup.retention.copies',
    'sites[0].datasets[0].backup.schedules[0].time',
    'sites[0].datasets[0].colour',
    'sites[0].datasets[0].size',
    'sites[1].role'
  ])
  assert.deepEqual([by.get('sites[0].datasets[0].size')!.line, by.get('sites[0].datasets[0].size')!.column], [8, 15])
  assert.match(by.get('sites[0].datasets[0].size')!.problem, /a size such as 500GB/)
  assert.match(by.get('sites[0].datasets[0].backup.schedules[0].time')!.problem, /HH:MM/)
  assert.equal(by.get('sites[0].datasets[0].colour')!.line, 13)
  assert.match(by.get('sites[0].datasets[0].colour')!.problem, /not a field here/)
  assert.match(by.get('sites[1].role')!.problem, /one of "head", "branch", "dr"/)
  assert.equal(by.get('sites[1].role')!.line, 15)
})

test('F28 a missing field is named under its parent, with the parent\'s place', async () => {
  const p = await problems(minimal('  - name: hq\n    datasets: [{ name: files, backup: { schedules: [] } }]'), 'plan.yaml')
  const fields = p.map(x => x.field).sort()
  assert.deepEqual(fields, ['sites[0].datasets[0].backup.schedules', 'sites[0].datasets[0].size', 'sites[0].role'])
  assert.equal(p.find(x => x.field === 'sites[0].role')!.line, 4)
})

test('F28 JSON is read as what it is, and its errors have places too', async () => {
  const text = JSON.stringify({ start: '2027-01-01', horizon: '30d', sites: [{ name: 'hq', role: 'head', capacity: 'lots' }] }, null, 2)
  const [p] = await problems(text, 'plan.json')
  assert.equal(p.field, 'sites[0].capacity')
  assert.equal(p.file, 'plan.json')
  assert.deepEqual([p.line, p.column], [8, 19])
  const err = await loadScenario(text, { file: 'plan.json' }).catch((e: unknown) => e) as ScenarioInvalidError
  assert.equal(err.code, 'SIM_SCENARIO_INVALID')
  assert.deepEqual(err.params, { file: 'plan.json', field: 'sites[0].capacity', line: 8, column: 19, problem: p.problem, problems: 1 })
  assert.match(err.message, /^The scenario is not valid:\n {2}plan\.json:8:19: sites\[0\]\.capacity: should be a size/)
})

test('F28 text that is not YAML or JSON: the place of the first problem', async () => {
  await assert.rejects(loadScenario('start: 2027-01-01\nsites: [\n  - a', { file: 'x.yaml' }), (err: unknown) => {
    assert.ok(err instanceof ScenarioSyntaxError)
    assert.equal(err.code, 'SIM_SCENARIO_SYNTAX')
    assert.equal(err.place.file, 'x.yaml')
    assert.equal(typeof err.place.line, 'number')
    return true
  })
  await assert.rejects(loadScenario('{"start": "2027-01-01", "start": "2027-01-02"}', { file: 'x.json' }), /x\.json:1:\d+: Map keys must be unique/)
})

test('F28 what the schema cannot say, the node\'s own rules do: schedules, windows, policies, zones, names', async () => {
  const p = await problems(minimal([
    '  - name: hq',
    '    role: head',
    '    timeZone: Mars/Olympus',
    '    datasets:',
    '      - name: files',
    '        size: 1TB',
    '        backup:',
    '          schedules:',
    '            - { kind: interval, time: "01:00", everyMinutes: 5, timeZone: UTC }',
    '            - { kind: weekly, time: "01:00", timeZone: UTC }',
    '    replication:',
    '      policies: [{ name: p, copies: 2, sites: [nowhere], spaces: [nothing] }]',
    '  - name: hq',
    '    role: dr',
    'links:',
    '  - { sites: [hq, elsewhere], bandwidth: 1Gbit/s }'
  ].join('\n')))
  const text = p.map(x => `${x.field}: ${x.problem}`).join('\n')
  assert.match(text, /sites\[0\]\.timeZone: time zone Mars\/Olympus is unknown/)
  assert.match(text, /schedules\[0\]: an interval schedule runs at most every 10 minutes/, 'the node\'s schedule check')
  assert.match(text, /schedules\[1\]: a weekly schedule needs days/)
  assert.match(text, /policies\[0\]\.sites: there is no site named nowhere/)
  assert.match(text, /policies\[0\]\.spaces: site hq has no user space named nothing/)
  assert.match(text, /sites\[1\]\.name: site hq is named twice/)
  assert.match(text, /links\[0\]\.sites\[1\]: there is no site named elsewhere/)
  assert.ok(p.every(x => typeof x.line === 'number'), 'every problem has its line')
})

test('F28 a scenario run on the node reads no files: no profile by path, no sample folder', async () => {
  const p = await problems(`profile: /etc/passwd\n${minimal('  - name: hq\n    role: head\n    datasets: [{ name: f, size: 1GB, sample: /etc, backup: { schedules: [{ kind: daily, time: "01:00" }] } }]')}`, 'scenario', false)
  assert.deepEqual(p.map(x => x.field).sort(), ['profile', 'sites[0].datasets[0].sample'])
  assert.match(p[0].problem, /cannot read files/)
})

test('F28 locks: a policy\'s immutableDays and a site\'s own floor are read as the node takes them, and named when wrong', async () => {
  const site = (policy: string, receive: string): string => minimal([
    '  - name: hq',
    '    role: head',
    '    datasets: [{ name: files, size: 1TB, backup: { schedules: [{ kind: daily, time: "01:00" }] } }]',
    `    replication: { policies: [{ name: p, copies: 2, roles: [dr]${policy} }] }`,
    '  - name: dr-north',
    '    role: dr',
    `    replication: { policies: [], receive: ${receive} }`
  ].join('\n'))
  const m = await loadScenario(site(', immutableDays: 30', '{ immutableDays: 7, perSite: { hq: forever } }'), { file: 'plan.yaml' })
  assert.equal(m.sites[0].policies[0].immutableDays, 30)
  assert.deepEqual(m.sites[1].receive, { immutableDays: 7, perSite: { hq: 'forever' } })
  const p = await problems(site(', immutableDays: -1', '{ immutableDays: 2.5, perSite: { nowhere: 3 } }'))
  const fields = p.map(x => x.field)
  assert.ok(fields.includes('sites[0].replication.policies[0].immutableDays'), fields.join(', '))
  assert.ok(fields.includes('sites[1].replication.receive.immutableDays'), fields.join(', '))
  assert.ok(p.every(x => typeof x.line === 'number'))
})

test('F28 replicas.segmentSize: the node\'s 64 MiB unless given, a size when given, and below a block it is named', async () => {
  const site = '  - name: hq\n    role: head\n    datasets: [{ name: files, size: 1TB, backup: { schedules: [{ kind: daily, time: "01:00" }] } }]'
  assert.equal((await loadScenario(minimal(site), { file: 'plan.yaml' })).replicaSegmentBytes, 64 << 20)
  assert.equal((await loadScenario(`replicas: { segmentSize: 64KiB }\n${minimal(site)}`, { file: 'plan.yaml' })).replicaSegmentBytes, 65536)
  const p = await problems(`replicas: { keep: released, segmentSize: 100 }\n${minimal(site)}`)
  assert.deepEqual(p.map(x => x.field), ['replicas.segmentSize'])
  assert.equal(p[0].line, 1)
})
