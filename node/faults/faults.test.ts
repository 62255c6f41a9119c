// A fixed-seed slice of the fault harness (issue 12; the full run is `npm run faults`, its
// figures in docs/reliability.md): kill -9 during a backup and during a restore, and a flipped
// bit in an index table, through the same code as the full run. Every figure that must be zero
// is zero. (Damaged blocks, records and a full disk are chunkstore/damage.test.ts's.)
// test-suite: processes
import '../polyfill.ts'
import test, { after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { flipCampaign } from './flips.ts'
import { killCampaign } from './kills.ts'
import { failures, newTally } from './tally.ts'
import { random } from './world.ts'

const work = mkdtempSync(join(tmpdir(), 'cairn-faults-slice-'))
after(() => rmSync(work, { recursive: true, force: true }))

test('fault harness slice (seed 5): kills and a flipped index bit lose nothing that exists elsewhere, and nothing is silently wrong', async () => {
  const tally = newTally(5)
  const rnd = random(5)
  await killCampaign(work, rnd, { backup: 1, prune: 0, forget: 0, 'replication receive': 0, restore: 1 }, tally, 0.2)
  await flipCampaign(work, rnd, 1, false, tally, ['index .ldb'])
  assert.deepEqual(failures(tally), [])
  assert.equal(tally.kills.backup.kills + tally.kills.restore.kills, 2)
  assert.equal(tally.faults['index .ldb'].repairedFromSegments, 1)
})
