// One store, many clients through `cairn serve` (issue 14): the daemon holds a user space's
// store from its start; `cairn snapshots` and `cairn backup` pointed at that store, with the
// space's secret, run their operations in the daemon instead of being refused, and the daemon's
// own jobs see what they wrote. Without the secret nothing runs.
// test-suite: processes
import test from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ApiClient, cairn, jobEnd, loginAdmin, startServe, type ServeProcess } from '../testing/index.ts'

const PASSWORD = 'correct horse battery staple'

test('cairn serve holds its spaces\' stores: the CLI lists and backs up through it, with the space\'s secret only', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'cairn-serve-holder-'))
  let daemon: ServeProcess | undefined
  t.after(async () => {
    await daemon?.stop()
    rmSync(base, { recursive: true, force: true })
  })
  const src = join(base, 'src')
  mkdirSync(src)
  writeFileSync(join(src, 'ledger.txt'), 'quarter,total\n'.repeat(1000))
  const data = join(base, 'node')
  daemon = await startServe({ dataDir: data, adminPassword: PASSWORD })
  let api = await loginAdmin(new ApiClient(daemon.url), PASSWORD)
  const nodeId = (await api.get('/api/nodes')).body.find((n: any) => n.local).id
  const ownerId = (await api.get('/api/users')).body.find((u: any) => u.name === 'admin').id
  const space = (await api.post('/api/spaces', { name: 'finance', type: 'backup', nodeId, ownerId, capacityBytes: 2 ** 30 })).body
  const task = (await api.post('/api/tasks', { name: 'finance-files', nodeId, spaceId: space.id, sources: { include: [src] } })).body
  assert.equal((await jobEnd(api, (await api.post(`/api/tasks/${task.id}/start`, {})).body.id)).status, 'success')

  // After a restart the daemon holds the store from its start, before any job opens it.
  await daemon.stop()
  daemon = await startServe({ dataDir: data, adminPassword: PASSWORD })
  api = await loginAdmin(new ApiClient(daemon.url), PASSWORD)
  const store = join(data, 'spaces', space.id)
  const secret = join(data, 'keys', `${space.id}.key`)

  const listed = await cairn(['snapshots', '--store', store, '--passphrase-file', secret, '--json'])
  assert.equal(listed.code, 0, listed.stderr)
  assert.equal(JSON.parse(listed.stdout).length, 1, 'the daemon\'s snapshot, listed through the daemon')

  // A CLI backup paced to 1 MiB/s runs in the daemon for seconds; the daemon's own job runs
  // beside it (had the CLI taken the store, the job would find it in use).
  writeFileSync(join(src, 'scan.bin'), randomBytes(8 << 20))
  const backup = cairn(['backup', src, '--store', store, '--passphrase-file', secret, '--task', 'from-cli', '--limit', '1', '--json'])
  await new Promise(resolve => setTimeout(resolve, 3000))
  assert.equal((await jobEnd(api, (await api.post(`/api/tasks/${task.id}/start`, {})).body.id)).status, 'success')
  const cli = await backup
  assert.equal(cli.code, 0, cli.stderr)
  assert.equal(JSON.parse(cli.stdout).stats.files, 2)
  const seen = (await api.get(`/api/spaces/${space.id}/snapshots`)).body
  assert.equal(seen.length, 3, 'the daemon sees the snapshot the CLI wrote through it')

  const wrong = join(base, 'wrong')
  writeFileSync(wrong, 'not the space key\n')
  const refused = await cairn(['snapshots', '--store', store, '--passphrase-file', wrong])
  assert.equal(refused.code, 1)
  assert.match(refused.stderr, /^cairn: .*(wrong|Wrong)/)
  assert.equal((await api.get(`/api/spaces/${space.id}/snapshots`)).body.length, 3)
})
