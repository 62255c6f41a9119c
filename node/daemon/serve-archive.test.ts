// The Archive manager in `cairn serve` (F20, manual 2.6), started through the package's bin and
// driven over real HTTP: devices (a local directory, and S3 on a real S3-protocol server —
// s3rver, on 127.0.0.1 in this test, with its own key pair), an archive task, its runs as jobs in
// the history with their bytes, a rerun that writes nothing new, a verify job, the records and
// data views, `cairn archive run` against the store the daemon holds — and the S3 secret key
// nowhere in what the API answers, the node logs or writes in the clear.
// test-suite: processes
import test from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import S3rver from 's3rver'
import { ApiClient, cairn, jobEnd, loginAdmin, startServe, type ServeProcess } from '../testing/index.ts'

const PASSWORD = 'correct horse battery staple'
const ACCESS_KEY = 'cairn-archive-test'
const SECRET = `s3-secret-${randomBytes(12).toString('hex')}`

/** Every file under `dir`, for a search of their bytes. */
const filesUnder = (dir: string): string[] => readdirSync(dir, { recursive: true, encoding: 'utf8' }).map(f => join(dir, f)).filter(f => statSync(f).isFile())

test('cairn serve archives a space\'s snapshots to a local directory and to S3 as jobs; the S3 secret never comes back out', async () => {
  const base = mkdtempSync(join(tmpdir(), 'cairn-serve-archive-'))
  // s3rver checks signatures against the key pairs of its (only) account: this test's is added there.
  createRequire(import.meta.url)('s3rver/lib/models/account.js').DUMMY_ACCOUNT.createKeyPair(ACCESS_KEY, SECRET)
  const s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: join(base, 's3'), configureBuckets: [{ name: 'archive', configs: [] }] })
  const { port } = await s3.run() as AddressInfo
  let daemon: ServeProcess | undefined
  try {
    await scenario(base, port, d => { daemon = d })
  } finally {
    // SIGTERM, then SIGKILL if the node has not ended 30 s later; s3rver's close is not waited for
    // past 10 s (a keep-alive socket it still counts).
    const stopped = daemon?.stop()
    await Promise.race([stopped, new Promise(resolve => setTimeout(resolve, 30_000).unref())])
    if (daemon?.child.exitCode === null && daemon.child.signalCode === null) await daemon.kill()
    await Promise.race([s3.close(), new Promise(resolve => setTimeout(resolve, 10_000).unref())])
    rmSync(base, { recursive: true, force: true })
  }
})

async function scenario (base: string, port: number, started: (d: ServeProcess) => void): Promise<void> {
  const src = join(base, 'src')
  mkdirSync(src)
  writeFileSync(join(src, 'ledger.bin'), randomBytes(3 << 20))
  writeFileSync(join(src, 'notes.txt'), 'quarter,total\n'.repeat(2000))
  const data = join(base, 'node')
  const daemon = await startServe({ dataDir: data, adminPassword: PASSWORD })
  started(daemon)
  const api = await loginAdmin(new ApiClient(daemon.url), PASSWORD)
  const answers: string[] = []
  const call = async (method: 'get' | 'post' | 'del', path: string, body?: unknown): Promise<any> => {
    const r = method === 'get' ? await api.get(path) : method === 'post' ? await api.post(path, body) : await api.del(path, body)
    answers.push(r.text)
    return r
  }
  const nodeId = (await api.get('/api/nodes')).body.find((n: any) => n.local).id
  const ownerId = (await api.get('/api/users')).body.find((u: any) => u.name === 'admin').id
  const space = (await api.post('/api/spaces', { name: 'finance', type: 'backup', nodeId, ownerId, capacityBytes: 2 ** 30 })).body
  const task = (await api.post('/api/tasks', { name: 'finance-files', nodeId, spaceId: space.id, sources: { include: [src] } })).body
  assert.equal((await jobEnd(api, (await api.post(`/api/tasks/${task.id}/start`, { level: 'full' })).body.id)).status, 'success')

  // Devices: names of 1–64 characters; an S3 device's secret goes in and never comes back.
  mkdirSync(join(base, 'archive-dir')) // a mounted disk, say: a device's folder is there before it
  const local = await call('post', '/api/archive/devices', { name: '本地归档', type: 'dir', path: join(base, 'archive-dir') })
  assert.equal(local.status, 201, local.text)
  assert.equal(local.body.nodeId, nodeId)
  assert.equal((await call('post', '/api/archive/devices', { name: 'x'.repeat(65), type: 'dir', path: join(base, 'other') })).status, 400)
  assert.equal((await call('post', '/api/archive/devices', { name: 'rel', type: 'dir', path: 'relative/path' })).status, 400)
  const oss = await call('post', '/api/archive/devices', { name: 'oss', type: 's3', endpoint: `http://127.0.0.1:${port}`, bucket: 'archive', prefix: 'cairn/', pathStyle: true, accessKeyId: ACCESS_KEY, secretAccessKey: SECRET })
  assert.equal(oss.status, 201, oss.text)
  assert.equal(oss.body.hasSecret, true)
  assert.equal((await call('post', '/api/archive/devices', { name: 'oss', type: 'dir', path: join(base, 'dup') })).status, 400, 'a taken name')
  const tested = await call('post', '/api/archive/devices/oss/test')
  assert.equal(tested.body.ok, true, tested.text)
  assert.equal(tested.body.blocks, 0)
  assert.equal((await call('get', '/api/archive/devices')).body.find((d: any) => d.name === 'oss').status, 'online')
  // A device whose bucket is missing is reported, not thrown: its status says so.
  await call('post', '/api/archive/devices', { name: 'no-bucket', type: 's3', endpoint: `http://127.0.0.1:${port}`, bucket: 'missing', pathStyle: true, accessKeyId: ACCESS_KEY, secretAccessKey: SECRET })
  const missing = await call('post', '/api/archive/devices/no-bucket/test')
  assert.equal(missing.body.ok, false)
  assert.equal((await call('get', '/api/archive/devices')).body.find((d: any) => d.name === 'no-bucket').status, 'offline')

  // `cairn archive run` while the daemon holds the store: it runs inside the daemon (node/holder/).
  const store = join(data, 'spaces', space.id)
  const viaCli = await cairn(['archive', 'run', '--store', store, '--passphrase-file', join(data, 'keys', `${space.id}.key`), '--devices', join(data, 'archive-devices.json'), '--device', '本地归档', '--json'])
  assert.equal(viaCli.code, 0, viaCli.stderr)
  const cliCopy = JSON.parse(viaCli.stdout)
  assert.ok(cliCopy.blocksWritten > 0 && cliCopy.rootsAdded === 1, viaCli.stdout)

  // An archive task of the latest snapshot, to S3: a job with bytes, speed, in the history.
  const bad = await call('post', '/api/archive/tasks', { name: 'to-oss', spaceId: space.id, taskIds: [task.id], select: { mode: 'latest' }, device: 'nowhere' })
  assert.equal(bad.status, 404, bad.text)
  const at = await call('post', '/api/archive/tasks', { name: 'to-oss', spaceId: space.id, taskIds: [task.id], select: { mode: 'latest' }, device: 'oss', retentionDays: 30 })
  assert.equal(at.status, 201, at.text)
  const first = await jobEnd(api, (await call('post', `/api/archive/tasks/${at.body.id}/start`)).body.id)
  assert.equal(first.status, 'success', JSON.stringify(first))
  assert.equal(first.type, 'archive')
  assert.equal(first.taskName, 'to-oss')
  assert.ok(first.result.bytesWritten > 3 << 20, `the 3 MiB file and the rest went to S3: ${JSON.stringify(first.result)}`)
  assert.equal(first.result.rootsAdded, 1)
  assert.equal(first.params.snapshots.length, 1)
  assert.ok(first.progress.bytes >= first.result.bytesWritten && first.progress.bytesTotal >= first.result.bytesWritten, JSON.stringify(first.progress))
  const history = (await call('get', '/api/jobs?type=archive')).body
  assert.ok((history.items ?? history).some((j: any) => j.id === first.id && j.result.bytesWritten === first.result.bytesWritten), 'the run is in the history with its bytes')

  // A rerun writes only what the device lacks: nothing.
  const again = await jobEnd(api, (await call('post', `/api/archive/tasks/${at.body.id}/start`)).body.id)
  assert.equal(again.status, 'success')
  assert.equal(again.result.bytesWritten, 0)
  assert.ok(again.result.blocksPresent > 0)

  // The same snapshot archived by the CLI to the local directory: an archive task there writes nothing new either.
  const toLocal = await call('post', '/api/archive/tasks', { name: '本地任务', spaceId: space.id, taskIds: [task.id], select: { mode: 'range', from: '2000-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' }, device: '本地归档' })
  assert.equal(toLocal.status, 201, toLocal.text)
  const localRun = await jobEnd(api, (await call('post', `/api/archive/tasks/${toLocal.body.id}/start`)).body.id)
  assert.equal(localRun.status, 'success', JSON.stringify(localRun))
  assert.equal(localRun.result.bytesWritten, 0, 'the CLI archived these blocks already')

  // Verify reads every block on the device back.
  const verified = await jobEnd(api, (await call('post', '/api/archive/devices/oss/verify')).body.id)
  assert.equal(verified.status, 'success', JSON.stringify(verified))
  assert.ok(verified.result.blocks > 0 && verified.result.bad === 0)

  // Records (manual 2.6.2) and data.
  const records = (await call('get', '/api/archive/records')).body
  const rec = records.find((r: any) => r.jobId === first.id)
  assert.deepEqual({ taskName: rec.taskName, status: rec.status, type: rec.type, device: rec.device, bytes: rec.bytes }, { taskName: 'to-oss', status: 'success', type: 'archive', device: 'oss', bytes: first.result.bytesWritten })
  assert.ok(rec.expiresAt > rec.endedAt, 'a 30-day retention shows as the run\'s expiry')
  assert.ok(records.some((r: any) => r.type === 'archive-verify' && r.device === 'oss'))
  const row = (await call('get', '/api/archive/data')).body.find((r: any) => r.device === 'oss')
  assert.deepEqual({ task: row.taskName, bytes: row.bytes, snapshots: row.snapshots, runs: row.runs }, { task: 'to-oss', bytes: first.result.bytesWritten, snapshots: 1, runs: 2 })

  // Restore from the archive: the snapshot cleaned out of the store (and its space reclaimed)
  // comes back from S3, and the restore wizard's restore gives the very bytes back.
  const snapId = first.params.snapshots[0].id
  const cleaned = await jobEnd(api, (await call('post', '/api/data/clean', { taskId: task.id, mode: 'snapshots', snapshots: [snapId] })).body.id)
  assert.equal(cleaned.status, 'success', JSON.stringify(cleaned))
  assert.equal((await api.get(`/api/spaces/${space.id}/snapshots`)).body.length, 0)
  assert.equal((await call('post', '/api/archive/restores', { archiveTaskId: at.body.id, snapshot: 'bafynotarchived' })).status, 400)
  const back = await jobEnd(api, (await call('post', '/api/archive/restores', { archiveTaskId: at.body.id, snapshot: snapId })).body.id)
  assert.equal(back.status, 'success', JSON.stringify(back))
  assert.equal(back.type, 'archive-restore')
  assert.ok(back.result.bytesWritten > 3 << 20 && back.result.rootsAdded === 1, JSON.stringify(back.result))
  assert.deepEqual((await api.get(`/api/spaces/${space.id}/snapshots`)).body.map((s: any) => s.id), [snapId])
  const target = join(base, 'restored')
  mkdirSync(target)
  const restored = await jobEnd(api, (await call('post', '/api/restores', { spaceId: space.id, taskId: task.id, snapshot: snapId, targetPath: target, conflict: 'overwrite' })).body.id)
  assert.equal(restored.status, 'success', JSON.stringify(restored))
  for (const f of ['ledger.bin', 'notes.txt']) assert.ok(readFileSync(join(target, src, f)).equals(readFileSync(join(src, f))), `${f} restored byte for byte`)

  // A device in use is not removed; one that is not is.
  assert.equal((await call('del', '/api/archive/devices/oss')).status, 409)
  assert.equal((await call('del', '/api/archive/devices/no-bucket')).status, 200)

  // The secret: in no answer, no log line or audit record, no job log, not in the daemon's output, in no file in the clear.
  answers.push((await api.get('/api/logs?pageSize=500')).text, (await api.get('/api/audit?limit=1000')).text, (await api.get(`/api/jobs/${first.id}/log`)).text)
  for (const text of answers) assert.ok(!text.includes(SECRET), `the secret in an answer: ${text.slice(0, 200)}`)
  assert.ok(answers.some(a => a.includes('archive.device.add')), 'the audit trail was searched')
  assert.ok(!daemon.log().includes(SECRET))
  for (const f of filesUnder(data)) assert.ok(!readFileSync(f).includes(SECRET), `the secret in the clear in ${f}`)
}
