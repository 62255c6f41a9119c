// The bench's page writer and its round arithmetic: pure functions, no tools run.
import test from 'node:test'
import assert from 'node:assert/strict'
import { computeRatios, medianRuns, withSections } from './report.ts'
import type { ToolRun } from './runner.ts'

test('a bench run replaces only its own sections of docs/bench.md and keeps the hand-kept ones', () => {
  const page = [
    '# Cairn benchmark', '', 'old table', '',
    '## Method', '', '- old method', '',
    '## Replication (mesh)', '', '- old replication', '',
    '## Archive (by hand)', '', 'kept text', '',
    '## Capacity-planning simulation', '', 'kept too', ''
  ].join('\n')
  const written = ['# Cairn benchmark', '', 'new table', '', '## Method', '', '- new method', '', '## Cipher suites', '', 'new ciphers', ''].join('\n')
  const out = withSections(page, written)
  assert.match(out, /new table/)
  assert.doesNotMatch(out, /old table|old method/)
  // not written this time: kept, as are the sections the bench never writes
  assert.match(out, /- old replication/)
  assert.match(out, /## Archive \(by hand\)\n\nkept text/)
  assert.match(out, /## Capacity-planning simulation\n\nkept too/)
  // a new section goes right after the last one replaced, before the hand-kept ones
  assert.ok(out.indexOf('## Method') < out.indexOf('## Cipher suites') && out.indexOf('## Cipher suites') < out.indexOf('## Replication'))
  // a section alone (the --replication run) keeps the page's head
  const again = withSections(out, '## Replication (mesh)\n\n- new replication\n')
  assert.match(again, /new table/)
  assert.match(again, /- new replication\n\n## Archive/)
})

const run = (tool: 'cairn' | 'restic', restore: number): ToolRun => ({
  tool,
  version: tool,
  restore: null,
  phases: [
    { phase: 'full', ok: true, seconds: 10, maxRssKiB: 1000, storedBytes: 100 },
    { phase: 'no-change', ok: true, seconds: 1, maxRssKiB: 1000, storedBytes: 100 },
    { phase: 'day-2', ok: true, seconds: 2, maxRssKiB: 1000, storedBytes: 100 },
    { phase: 'restore', ok: true, seconds: restore, maxRssKiB: 1000, storedBytes: null },
    { phase: 'check', ok: true, seconds: 5, maxRssKiB: 1000, storedBytes: null }
  ]
})

test('ratios compare the medians of the rounds; the restore target must hold in every round', () => {
  const rounds = [[run('cairn', 4), run('restic', 10)], [run('cairn', 9), run('restic', 10)], [run('cairn', 3), run('restic', 10)]]
  const runs = medianRuns(rounds)
  assert.equal(runs[0].phases.find(p => p.phase === 'restore')?.seconds, 4)
  const ratios = computeRatios(runs, rounds)
  const restore = ratios.find(r => r.figure === 'restore time')!
  assert.equal(restore.value, 0.4)
  assert.deepEqual(restore.perRound, [0.4, 0.9, 0.3])
  assert.equal(restore.ok, false, 'the median meets 0.5 but one round does not')
  const full = ratios.find(r => r.figure === 'full-backup time')!
  assert.equal(full.target, 0.7)
  assert.equal(full.ok, false)
  assert.equal(ratios.find(r => r.figure === 'peak RSS')?.target, 1.5)
})
