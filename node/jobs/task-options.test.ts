// Task options reach the data path (issue 5, manual 2.2.1): dedup off cuts fixed pieces, the
// exclusive-file option decides whether a file another program writes is backed up, and a
// backup bandwidth limit (F12, issue 4) is validated and applied.
import test from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { finished, spaceFor, startTestDaemon, withUsers } from '../testing/index.ts'

const MiB = 1 << 20

test('dedup off, exclusive-file mode and a backup bandwidth limit reach the backup', async (t) => {
  const d = await startTestDaemon()
  const src = await mkdtemp(join(tmpdir(), 'cairn-src-'))
  t.after(async () => { await d.close(); await rm(src, { recursive: true, force: true }) })
  await writeFile(join(src, 'big.bin'), randomBytes(3 * MiB))
  const busy = join(src, 'busy.log')
  await writeFile(busy, 'line 1\n')
  const holder = spawn(process.execPath, ['-e', `require('fs').openSync(${JSON.stringify(busy)}, 'a'); process.stdout.write('open\\n'); setInterval(() => {}, 1000)`], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => { holder.kill('SIGKILL') })
  await once(holder.stdout, 'data')

  const { operator, admin, operatorId } = await withUsers(d)
  const { nodeId, spaceId } = await spaceFor(d, admin, operatorId)
  const entries = async (snapshotId: string): Promise<string[]> =>
    (await operator.get(`/api/spaces/${spaceId}/snapshots/${snapshotId}/entries`)).body.entries.map((e: { path: string }) => e.path)

  // Bad limits are refused with the reason.
  for (const bandwidth of [{ windows: [{ from: '25:00', to: '08:00', mibps: 1 }] }, { defaultMibps: -1 }, { windows: [{ from: '08:00', to: '18:00', mibps: -1 }] }, { windows: [{ from: '08:00', to: '18:00', mibps: 1, days: [7] }] }]) {
    const r = await operator.post('/api/tasks', { name: 'bad-limit', nodeId, spaceId, sources: { include: [src] }, options: { bandwidth } })
    assert.equal(r.status, 400, JSON.stringify(bandwidth))
  }

  const plain = (await operator.post('/api/tasks', {
    name: 'no-dedup', nodeId, spaceId, sources: { include: [src] },
    options: { dedup: false, smallFiles: true, bandwidth: { defaultMibps: 500, windows: [{ from: '00:00', to: '00:00', mibps: 400 }] } }
  })).body
  assert.deepEqual(plain.options.bandwidth.windows[0].mibps, 400)
  const first = await finished(d, operator, (await operator.post(`/api/tasks/${plain.id}/start`, { level: 'full' })).body.id)
  assert.equal(first.status, 'warning', 'a skipped file makes the run a warning')
  const log = (await operator.get(`/api/jobs/${first.id}/log`)).body
  assert.ok(JSON.stringify(log).includes('busy.log: open for writing by another program'), JSON.stringify(log))
  const snap1 = (await operator.get(`/api/spaces/${spaceId}/snapshots?taskId=${plain.id}`)).body[0]
  // Fixed 1 MiB pieces: exactly three for the 3 MiB file (content-defined chunks vary in number).
  assert.equal(snap1.stats.chunksNew, 3)
  assert.equal(snap1.stats.files, 1)
  assert.ok(!(await entries(snap1.id)).some(p => p.endsWith('busy.log')))

  const exclusive = (await operator.post('/api/tasks', { name: 'exclusive', nodeId, spaceId, sources: { include: [src] }, options: { exclusiveFiles: true } })).body
  const second = await finished(d, operator, (await operator.post(`/api/tasks/${exclusive.id}/start`, { level: 'full' })).body.id)
  assert.equal(second.status, 'success')
  const snap2 = (await operator.get(`/api/spaces/${spaceId}/snapshots?taskId=${exclusive.id}`)).body[0]
  assert.equal(snap2.stats.files, 2)
  assert.ok((await entries(snap2.id)).some(p => p.endsWith('busy.log')))
})
