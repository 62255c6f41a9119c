// F12: bandwidth windows and pacing, on simulated time (no wall-clock assertions).
import test from 'node:test'
import assert from 'node:assert/strict'
import { createLimiter, nextRateChange, rateAt, validateSchedule, type LimiterClock } from './bandwidth.ts'

const MIB = 1024 * 1024
const at = (day: number, hh: number, mm = 0): Date => new Date(2026, 10, 22 + day, hh, mm) // 2026-11-22 is a Sunday

test('F12 the rate in force follows the windows, days and the default', () => {
  const s = {
    defaultMibps: 100,
    windows: [
      { from: '08:00', to: '18:00', mibps: 10, days: [1, 2, 3, 4, 5] },
      { from: '22:00', to: '02:00', mibps: 0 }
    ]
  }
  assert.equal(rateAt(s, at(1, 9)), 10 * MIB) // Monday 09:00
  assert.equal(rateAt(s, at(0, 9)), 100 * MIB) // Sunday 09:00
  assert.equal(rateAt(s, at(1, 18)), 100 * MIB) // end is exclusive
  assert.equal(rateAt(s, at(1, 23)), 0)
  assert.equal(rateAt(s, at(2, 1, 30)), 0) // wraps past midnight
  assert.equal(rateAt({}, at(1, 9)), Infinity)
  assert.throws(() => validateSchedule({ windows: [{ from: '8', to: '18:00', mibps: 1 }] }), { name: 'InvalidScheduleError' })
})

function simClock (start: number): LimiterClock & { slept: number } {
  let t = start
  const c = { slept: 0, now: () => t, sleep: async (ms: number) => { t += ms; c.slept += ms } }
  return c
}

test('F12 the limiter paces traffic to the window rate on simulated time', async () => {
  const clock = simClock(at(1, 9).getTime())
  const limiter = createLimiter({ windows: [{ from: '08:00', to: '18:00', mibps: 2 }] }, clock)
  for (let i = 0; i < 20; i++) await limiter.take(MIB / 2) // 10 MiB at 2 MiB/s
  assert.ok(clock.slept >= 4500 && clock.slept <= 5100, `slept ${clock.slept} ms of simulated time`)
})

test('F12 a zero-rate window holds traffic until the window ends', async () => {
  const clock = simClock(at(1, 17, 58).getTime())
  const limiter = createLimiter({ windows: [{ from: '08:00', to: '18:00', mibps: 0 }] }, clock)
  await limiter.take(MIB)
  assert.ok(clock.now() >= at(1, 18).getTime(), 'nothing was sent before 18:00')
})

test('F12 the next change of rate: window edges, days, wrap past midnight, none without windows', () => {
  const s = {
    defaultMibps: 100,
    windows: [
      { from: '08:00', to: '18:00', mibps: 10, days: [1, 2, 3, 4, 5] },
      { from: '22:00', to: '02:00', mibps: 0 }
    ]
  }
  assert.deepEqual(nextRateChange(s, at(1, 9)), at(1, 18)) // Monday in the day window: it ends at 18:00
  assert.deepEqual(nextRateChange(s, at(1, 18)), at(1, 22))
  assert.deepEqual(nextRateChange(s, at(1, 23)), at(2, 2)) // the night window wraps past midnight
  assert.deepEqual(nextRateChange(s, at(6, 3)), at(6, 22)) // Saturday: no day window
  assert.deepEqual(nextRateChange(s, at(1, 7, 59)), at(1, 8))
  assert.equal(nextRateChange({ defaultMibps: 5 }, at(1, 9)), null)
  assert.equal(nextRateChange({ windows: [{ from: '00:00', to: '24:00', mibps: 3 }] }, at(1, 9)), null, 'a window all day every day never changes')
})

test('F12 in a zero-rate window the limiter sleeps until it ends, not minute by minute', async () => {
  const clock = simClock(at(1, 2).getTime())
  const sleeps: number[] = []
  const sleep = clock.sleep
  clock.sleep = async (ms: number) => { sleeps.push(ms); await sleep(ms) }
  const limiter = createLimiter({ windows: [{ from: '00:00', to: '06:30', mibps: 0 }] }, clock)
  await limiter.take(MIB)
  assert.deepEqual(sleeps, [3600_000, 3600_000, 3600_000, 3600_000, 1800_000], 'an hour at most, then to the window\'s end')
  assert.equal(clock.now(), at(1, 6, 30).getTime())
})
