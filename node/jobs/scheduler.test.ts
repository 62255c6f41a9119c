// Every schedule kind (F16) fired by a manual clock against a running daemon, the "already running"
// rule, and the missed-run rule across a restart. No test waits for wall-clock time.
import test from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ApiClient, jobGate, spaceFor, startTestDaemon, withUsers, type TestDaemon } from '../testing/index.ts'
import { manualClock } from '../clock/index.ts'

// These tests move the clock by days; sessions must outlive that.
const longSessions = { accounts: { idleTimeoutMs: 10 ** 12, absoluteTimeoutMs: 10 ** 12 } }
import { nextRun, runsAfter, type Schedule } from './schedule.ts'

async function settle (t: TestDaemon): Promise<void> {
  await t.daemon.scheduler.idle()
  for (const j of t.daemon.runner.running()) await t.daemon.runner.waitFor(j.id)
}

/** Moves the clock to each instant in turn, letting the jobs started there finish. */
async function walk (t: TestDaemon, until: string, stepMs: number): Promise<void> {
  const end = Date.parse(until)
  while (t.clock.now().getTime() < end) {
    await t.clock.set(new Date(Math.min(end, t.clock.now().getTime() + stepMs)))
    await settle(t)
  }
}

const runsOf = async (c: ApiClient, taskId: string): Promise<Array<{ startedAt: string, trigger: string, level: string }>> =>
  (await c.get(`/api/jobs?taskId=${taskId}&pageSize=500`)).body.items.reverse()

async function setup (t: TestDaemon): Promise<{ operator: ApiClient, make: (name: string, schedules: unknown[]) => Promise<any>, src: string }> {
  const { admin, operator, operatorId } = await withUsers(t)
  const { nodeId, spaceId } = await spaceFor(t, admin, operatorId)
  const src = await mkdtemp(join(tmpdir(), 'cairn-src-'))
  await writeFile(join(src, 'f.txt'), 'scheduled')
  const make = async (name: string, schedules: unknown[]): Promise<any> => {
    const r = await operator.post('/api/tasks', { name, nodeId, spaceId, sources: { include: [src] }, mode: 'scheduled', schedules })
    assert.equal(r.status, 201, r.text)
    return r.body
  }
  return { operator, make, src }
}

test('next-run arithmetic for each kind, in the schedule\'s time zone', () => {
  const s = (x: Partial<Schedule>): Schedule => ({ id: 'x', kind: 'daily', startDate: '2026-03-02', time: '02:00', timeZone: 'UTC', level: 'full', job: 'backup', enabled: true, ...x })
  const from = new Date('2026-03-02T00:00:00Z')
  assert.equal(nextRun(s({ kind: 'once', time: '01:00' }), from)?.toISOString(), '2026-03-02T01:00:00.000Z')
  assert.equal(nextRun(s({ kind: 'once', time: '01:00' }), new Date('2026-03-02T01:00:00Z')), null)
  assert.equal(nextRun(s({ timeZone: 'Asia/Shanghai' }), from)?.toISOString(), '2026-03-02T18:00:00.000Z', '02:00 in Shanghai is 18:00 UTC the day before')
  assert.equal(nextRun(s({ kind: 'weekly', days: [3] }), from)?.toISOString(), '2026-03-04T02:00:00.000Z')
  assert.equal(nextRun(s({ kind: 'monthly', days: [31] }), new Date('2026-03-31T03:00:00Z'))?.toISOString(), '2026-05-31T02:00:00.000Z', 'April has no 31st: skipped')
  assert.equal(nextRun(s({ kind: 'interval', everyMinutes: 45 }), new Date('2026-03-02T03:00:00Z'))?.toISOString(), '2026-03-02T03:30:00.000Z')
  assert.equal(nextRun(s({ startDate: '2026-04-01' }), from)?.toISOString(), '2026-04-01T02:00:00.000Z', 'nothing before the start date')
  assert.equal(nextRun(s({ timeZone: 'America/New_York', startDate: '2026-03-08' }), new Date('2026-03-08T12:00:00Z'))?.toISOString(), '2026-03-09T06:00:00.000Z', 'after the DST change 02:00 EDT is 06:00 UTC')
})

test('once, daily, weekly, monthly and interval schedules run at their times with their level', async () => {
  const t = await startTestDaemon(longSessions)
  let src = ''
  try {
    const s = await setup(t)
    src = s.src

    const once = await s.make('sched-once', [{ kind: 'once', startDate: '2026-03-02', time: '01:00', level: 'full' }])
    assert.equal(once.nextRuns[0].nextRunAt, '2026-03-02T01:00:00.000Z')
    await walk(t, '2026-03-02T00:59:00Z', 3600_000)
    assert.equal((await runsOf(s.operator, once.id)).length, 0)
    await walk(t, '2026-03-03T00:00:00Z', 3600_000)
    const onceRuns = await runsOf(s.operator, once.id)
    assert.deepEqual(onceRuns.map(r => [r.startedAt, r.trigger, r.level]), [['2026-03-02T01:00:00.000Z', 'schedule', 'full']])
    await s.operator.patch(`/api/tasks/${once.id}`, { mode: 'manual' })

    const daily = await s.make('sched-daily', [{ kind: 'daily', startDate: '2026-03-03', time: '02:00', timeZone: 'Asia/Shanghai', level: 'incremental' }])
    await walk(t, '2026-03-06T00:00:00Z', 6 * 3600_000)
    assert.deepEqual((await runsOf(s.operator, daily.id)).map(r => r.startedAt), ['2026-03-03T18:00:00.000Z', '2026-03-04T18:00:00.000Z', '2026-03-05T18:00:00.000Z'])
    await s.operator.patch(`/api/tasks/${daily.id}`, { mode: 'manual' })

    const weekly = await s.make('sched-weekly', [{ kind: 'weekly', startDate: '2026-03-06', time: '06:30', days: [1, 3], level: 'full' }])
    await walk(t, '2026-03-17T00:00:00Z', 12 * 3600_000)
    assert.deepEqual((await runsOf(s.operator, weekly.id)).map(r => r.startedAt), ['2026-03-09T06:30:00.000Z', '2026-03-11T06:30:00.000Z', '2026-03-16T06:30:00.000Z'])
    await s.operator.patch(`/api/tasks/${weekly.id}`, { mode: 'manual' })

    const monthly = await s.make('sched-monthly', [{ kind: 'monthly', startDate: '2026-03-17', time: '00:30', days: [1, 20], level: 'full' }])
    await walk(t, '2026-04-02T00:00:00Z', 24 * 3600_000)
    assert.deepEqual((await runsOf(s.operator, monthly.id)).map(r => r.startedAt), ['2026-03-20T00:30:00.000Z', '2026-04-01T00:30:00.000Z'])
    await s.operator.patch(`/api/tasks/${monthly.id}`, { mode: 'manual' })

    assert.equal((await s.operator.post('/api/tasks', { name: 'too-often', nodeId: once.nodeId, spaceId: once.spaceId, sources: { include: [src] }, mode: 'scheduled', schedules: [{ kind: 'interval', everyMinutes: 5, startDate: '2026-04-02', time: '00:00', level: 'full' }] })).status, 400, 'interval below 10 minutes')
    const interval = await s.make('sched-interval', [{ kind: 'interval', startDate: '2026-04-02', time: '01:00', everyMinutes: 30, level: 'incremental' }, { kind: 'once', startDate: '2026-04-02', time: '01:10', level: 'full' }])
    await walk(t, '2026-04-02T02:40:00Z', 5 * 60_000)
    assert.deepEqual((await runsOf(s.operator, interval.id)).map(r => `${r.startedAt.slice(11, 16)} ${r.level}`), ['01:00 full', '01:10 full', '01:30 incremental', '02:00 incremental', '02:30 incremental'], 'several schedules per task (the first run has no parent to compare with: it is a full one)')
  } finally {
    await t.close()
    if (src !== '') await rm(src, { recursive: true, force: true })
  }
})

test('a run that falls due while the task still runs is skipped and logged', async () => {
  const gate = jobGate()
  const t = await startTestDaemon({ ...longSessions, jobs: { beforeJob: gate.beforeJob } })
  let src = ''
  try {
    const s = await setup(t)
    src = s.src
    const task = await s.make('sched-busy', [{ kind: 'interval', startDate: '2026-03-02', time: '01:00', everyMinutes: 10, level: 'incremental' }])
    gate.hold()
    await t.clock.set(new Date('2026-03-02T01:00:00Z'))
    await t.daemon.scheduler.idle()
    await t.clock.set(new Date('2026-03-02T01:10:00Z'))
    await t.daemon.scheduler.idle()
    gate.release()
    await settle(t)
    assert.equal((await runsOf(s.operator, task.id)).length, 1)
    const logs = await s.operator.get('/api/logs?type=backup')
    assert.ok(logs.body.items.some((e: { message: string }) => /skipped: the task is still running/.test(e.message)))
  } finally {
    gate.release()
    await t.close()
    if (src !== '') await rm(src, { recursive: true, force: true })
  }
})

test('missed runs while the node was down: one catch-up run within the grace period, none after it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-daemon-'))
  let src = ''
  try {
    const first = await startTestDaemon(longSessions, dir)
    const s = await setup(first)
    src = s.src
    const task = await s.make('sched-missed', [{ kind: 'interval', startDate: '2026-03-02', time: '01:00', everyMinutes: 60, level: 'incremental' }])
    await walk(first, '2026-03-02T01:30:00Z', 30 * 60_000)
    assert.equal((await runsOf(s.operator, task.id)).length, 1)
    await first.daemon.stop()

    // Down from 01:30 to 05:15: runs of 02:00, 03:00, 04:00 and 05:00 were missed.
    const second = await startTestDaemon({ ...longSessions, clock: manualClock(new Date('2026-03-02T05:15:00Z')), scheduler: { missedRunGraceMs: 3600_000 } }, dir)
    await settle(second)
    const c = (await withLogin(second))
    const runs = await runsOf(c, task.id)
    assert.deepEqual(runs.map(r => r.trigger), ['schedule', 'catch-up'], 'one catch-up run however many were missed')
    assert.equal(runs[1].startedAt, '2026-03-02T05:15:00.000Z')
    assert.equal((await c.get(`/api/tasks/${task.id}`)).body.nextRuns[0].nextRunAt, '2026-03-02T06:00:00.000Z')
    await second.daemon.stop()

    // Down from 05:15 to 09:30 with a 15-minute grace: the latest miss (09:00) is too old.
    const third = await startTestDaemon({ ...longSessions, clock: manualClock(new Date('2026-03-02T09:30:00Z')), scheduler: { missedRunGraceMs: 15 * 60_000 } }, dir)
    await settle(third)
    const c3 = await withLogin(third)
    assert.equal((await runsOf(c3, task.id)).length, 2)
    const logs = await c3.get('/api/logs?type=backup&level=warning')
    assert.ok(logs.body.items.some((e: { message: string }) => /too long ago to catch up/.test(e.message)))
    await third.daemon.stop()
  } finally {
    await rm(dir, { recursive: true, force: true })
    if (src !== '') await rm(src, { recursive: true, force: true })
  }
})

async function withLogin (t: TestDaemon): Promise<ApiClient> {
  const c = new ApiClient(t.daemon.url)
  await c.login('ops01', 'operator password 1')
  return c
}

test('runsAfter walks the same runs as nextRun, one after the other', () => {
  const kinds: Array<Partial<Schedule>> = [
    { kind: 'daily', timeZone: 'America/New_York', startDate: '2026-03-01' },
    { kind: 'weekly', days: [1, 3] },
    { kind: 'monthly', days: [31, 1] },
    { kind: 'interval', everyMinutes: 45 },
    { kind: 'once' }
  ]
  for (const k of kinds) {
    const s: Schedule = { id: 'x', kind: 'daily', startDate: '2026-03-02', time: '02:00', timeZone: 'UTC', level: 'full', job: 'backup', enabled: true, ...k }
    const walked: string[] = []
    for (const d of runsAfter(s, new Date('2026-02-01T00:00:00Z'))) { walked.push(d.toISOString()); if (walked.length === 40) break }
    const stepped: string[] = []
    for (let d = nextRun(s, new Date('2026-02-01T00:00:00Z')); d !== null && stepped.length < 40; d = nextRun(s, d)) stepped.push(d.toISOString())
    assert.deepEqual(walked, stepped, `${s.kind}`)
  }
})
