// The daemon's one start order (lifecycle.ts): parts start in order and stop in reverse, once;
// a part that fails to start stops those already up; a part that fails to stop does not keep
// the others running.
import test from 'node:test'
import assert from 'node:assert/strict'
import { Lifecycle, type Part } from './lifecycle.ts'

function parts (names: string[], seen: string[], fail: { start?: string, stop?: string } = {}): Part[] {
  return names.map(name => ({
    name,
    start: async () => {
      await Promise.resolve()
      if (fail.start === name) throw new RangeError(`${name} would not start`)
      seen.push(`start ${name}`)
    },
    stop: async (why) => {
      await Promise.resolve()
      seen.push(`stop ${name} (${why})`)
      if (fail.stop === name) throw new RangeError(`${name} would not stop`)
    }
  }))
}

test('parts start in the declared order and stop in its reverse, after the part that was up already; a second stop does nothing', async () => {
  const seen: string[] = []
  const life = new Lifecycle()
  life.up({ name: 'state', stop: () => { seen.push('stop state') } })
  await life.start(parts(['stores', 'mesh', 'api'], seen))
  await Promise.all([life.stop(), life.stop()])
  await life.stop()
  assert.deepEqual(seen, ['start stores', 'start mesh', 'start api', 'stop api (stop)', 'stop mesh (stop)', 'stop stores (stop)', 'stop state'])
})

test('a part that fails to start stops the parts started before it, in reverse, and its error is thrown', async () => {
  const seen: string[] = []
  const life = new Lifecycle()
  await assert.rejects(life.start(parts(['stores', 'mesh', 'api', 'scheduler'], seen, { start: 'api' })), /api would not start/)
  assert.deepEqual(seen, ['start stores', 'start mesh', 'stop mesh (failed-start)', 'stop stores (failed-start)'])
  await life.stop()
  assert.equal(seen.length, 4, 'nothing is stopped twice')
})

test('a part that fails to stop does not keep the others up; the first failure is thrown at the end', async () => {
  const seen: string[] = []
  const life = new Lifecycle()
  await life.start(parts(['stores', 'mesh', 'api'], seen, { stop: 'mesh' }))
  await assert.rejects(life.stop(), /mesh would not stop/)
  assert.deepEqual(seen.slice(3), ['stop api (stop)', 'stop mesh (stop)', 'stop stores (stop)'])
})
