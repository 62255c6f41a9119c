// What a daemon prints: sentences on a terminal, JSON lines in a pipe or with --json.
import test from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { describeEvent, eventLines } from './event-lines.ts'

function stream (isTTY: boolean): { s: NodeJS.WriteStream, text: () => string } {
  let text = ''
  const w = new Writable({ write (chunk, _enc, done) { text += String(chunk); done() } }) as unknown as NodeJS.WriteStream
  Object.assign(w, { isTTY })
  return { s: w, text: () => text }
}

const unreachable = { event: 'replication-waiting', peer: '12D3KooWQu9FgzLGYLAXY9wGeLebMDxZ3s7qPioMJfFfuhQ89QfP', site: 'branch-1', reason: 'unreachable' } as const
const run = { blocksOffered: 1, blocksMissing: 1, bytesMissing: 2048, wireBytes: 2100, rootsAtPeer: 2, durationMs: 5 }

test('on a terminal: one sentence per event, operator lines prefixed, no JSON', () => {
  const out = stream(true)
  const lines = eventLines({ stream: out.s })
  assert.equal(lines.json, false)
  lines.say('Cairn node listening on http://127.0.0.1:8080')
  lines.event({ event: 'member-joined', peer: 'p', site: 'dr-north', role: 'dr' })
  lines.event(unreachable)
  lines.event({ event: 'replicated', peer: 'p', site: 'dr-north', ...run, blocksSent: 1, bytesSent: 2048, rootsAdded: 2, releasesSent: 0 })
  const text = out.text().split('\n')
  assert.equal(text[0], 'cairn: Cairn node listening on http://127.0.0.1:8080')
  assert.match(text[1], /^\d\d:\d\d:\d\d dr-north joined the mesh as dr$/)
  assert.match(text[2], /branch-1 is not reachable yet .* starts when it connects$/)
  assert.doesNotMatch(text[2], /fail|error/i, 'a site not started yet is not an error')
  assert.match(text[3], /replicated to dr-north: 1 block \(2\.00 KiB\), 2 new snapshots$/)
  assert.doesNotMatch(out.text(), /[{}]/)
})

test('in a pipe or with --json: one JSON object per line with its time', () => {
  for (const [isTTY, json] of [[false, undefined], [true, true]] as const) {
    const out = stream(isTTY)
    const lines = eventLines({ stream: out.s, json })
    assert.equal(lines.json, true)
    lines.say('listening')
    lines.event(unreachable)
    const [a, b] = out.text().trim().split('\n').map(l => JSON.parse(l))
    assert.equal(a.message, 'listening')
    assert.ok(!Number.isNaN(Date.parse(a.time)))
    assert.deepEqual({ ...b, time: undefined }, { ...unreachable, time: undefined })
  }
})

test('an event without a sentence still prints its name and fields', () => {
  assert.equal(describeEvent({ event: 'scrub-found', bad: ['bafkrei1', 'bafkrei2'] }), 'scrub-found bad=["bafkrei1","bafkrei2"]')
  assert.equal(describeEvent({ event: 'repair', repaired: 2, failed: 0 }), 'repair repaired=2 failed=0')
})
