// F13 through the node daemon: two `cairn serve` processes in one mesh over real TCP on
// 127.0.0.1. Site A backs up under a policy to the DR site B and an admin takes the space's
// keys into escrow; A is killed (-9: the site is lost). At B, an admin adopts the escrow as a
// replication space over B's replica — bad escrows are refused and store nothing — lists the
// snapshot, restores it with an ordinary restore job and gets A's files byte for byte. Backup,
// prune, clean and a second adoption are refused; the space survives B's restart.
// test-suite: processes
import '../polyfill.ts'
import test from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { newRecoveryKey } from '../../crypto/index.ts'
import { ApiClient, cliOk, jobEnd, loginAdmin, startServe, until, type ServeProcess } from '../testing/index.ts'

const LISTEN = '/ip4/127.0.0.1/tcp/0'
const PASSWORD = 'correct horse battery staple'

const finished = jobEnd
const admin = async (s: ServeProcess): Promise<ApiClient> => await loginAdmin(new ApiClient(s.url), PASSWORD)

/** Every file below `dir`, by path relative to it, with its bytes. */
function files (dir: string, rel = ''): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const p = join(rel, e.name)
    if (e.isDirectory()) for (const [k, v] of files(dir, p)) out.set(k, v)
    else out.set(p, readFileSync(join(dir, p)))
  }
  return out
}

test('F13 via the daemon: escrow at A, A lost, adopt at the DR site B, list and restore A\'s snapshot byte for byte', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'cairn-serve-dr-'))
  const daemons: ServeProcess[] = []
  t.after(async () => {
    await Promise.all(daemons.map(async d => { await d.stop() }))
    rmSync(base, { recursive: true, force: true })
  })
  const src = join(base, 'src')
  mkdirSync(join(src, 'ledgers', '2026'), { recursive: true })
  writeFileSync(join(src, 'ledgers', '2026', 'q1.bin'), randomBytes(1536 * 1024))
  writeFileSync(join(src, 'contracts.txt'), 'clause 4.2 applies\n'.repeat(3000))
  writeFileSync(join(src, 'empty'), '')

  await cliOk(['init', '--mesh-dir', join(base, 'a', 'mesh'), '--site', 'hq', '--role', 'head', '--listen', LISTEN])
  const A = await startServe({ dataDir: join(base, 'a'), adminPassword: PASSWORD }); daemons.push(A)
  await cliOk(['join', (await A.control('invite')).invitation, '--mesh-dir', join(base, 'b', 'mesh'), '--site', 'dr', '--role', 'dr', '--listen', LISTEN])
  let B = await startServe({ dataDir: join(base, 'b'), adminPassword: PASSWORD }); daemons.push(B)
  const a = await admin(A)
  let b = await admin(B)
  await until('A reaches B', async () => (await a.get('/api/mesh')).body.members.every((m: any) => m.connected))

  // Site A: a user space, a task, a policy sending the space to the DR site, a backup.
  const aNode = (await a.get('/api/nodes')).body.find((n: any) => n.local).id
  const aAdmin = (await a.get('/api/users')).body.find((u: any) => u.name === 'admin').id
  const space = (await a.post('/api/spaces', { name: 'finance', type: 'backup', nodeId: aNode, ownerId: aAdmin, capacityBytes: 2 ** 30 })).body
  const task = (await a.post('/api/tasks', { name: 'finance-files', nodeId: aNode, spaceId: space.id, sources: { include: [src] } })).body
  assert.equal((await a.put('/api/mesh/policies', { policies: [{ name: 'finance-dr', copies: 2, roles: ['dr'], spaces: ['finance'] }] })).status, 200)
  const backup = await finished(a, (await a.post(`/api/tasks/${task.id}/start`, {})).body.id)
  assert.equal(backup.status, 'success', JSON.stringify(backup))
  await until('B holds the snapshot', async () => {
    const [p] = (await a.get('/api/mesh')).body.policies
    return p.health === 'ok' && p.snapshotsBehind === 0 && p.bytesBehind === 0
  })

  // The escrow, kept apart from site A; then A is lost.
  const escrow = await a.post(`/api/spaces/${space.id}/escrow`)
  assert.equal(escrow.status, 200, escrow.text)
  const e = escrow.body
  assert.equal(e.site, 'hq')
  assert.deepEqual(e.tasks, [{ id: task.id, name: 'finance-files' }])
  await A.kill()
  daemons.splice(daemons.indexOf(A), 1)

  // The DR site B adopts it. Bad escrows first: each is a 400 that names the problem and stores nothing.
  const bNode = (await b.get('/api/nodes')).body.find((n: any) => n.local).id
  const bAdmin = (await b.get('/api/users')).body.find((u: any) => u.name === 'admin').id
  const good = { name: 'finance-hq', nodeId: bNode, ownerId: bAdmin, config: e.config, keys: e.keys, recoveryKey: e.recoveryKey, site: e.site, tasks: e.tasks }
  const typo = e.recoveryKey.slice(0, 3) + (e.recoveryKey[3] === 'A' ? 'B' : 'A') + e.recoveryKey.slice(4)
  const recoverySlot = e.keys.slots.find((s: any) => s.kind === 'recovery')
  const bad: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['another recovery key', { recoveryKey: newRecoveryKey() }, 'RecoveryKeyRejectedError', /does not open/],
    ['a mistyped recovery key', { recoveryKey: typo }, 'RecoveryKeyRejectedError', /mistyped|not one of/],
    ['not a recovery key', { recoveryKey: 'open sesame' }, 'RecoveryKeyRejectedError', /not a valid recovery key/],
    ['another store\'s config', { config: { ...e.config, spaceId: 'ffffffffffffffff' } }, 'EscrowInvalidError', /not one store's/],
    ['no config', { config: { format: 'something-else' } }, 'EscrowInvalidError', /config\.json/],
    ['a write-only key file', { keys: { ...e.keys, access: 'write-only' } }, 'EscrowInvalidError', /write-only/],
    ['an unknown key file', { keys: { ...e.keys, format: 'pem' } }, 'EscrowInvalidError', /not a Cairn key file/],
    ['a costly recovery slot', { keys: { ...e.keys, slots: [{ ...recoverySlot, kdf: { ...recoverySlot.kdf, N: 2 ** 30 } }] } }, 'EscrowInvalidError', /malformed key slots/]
  ]
  for (const [what, change, name, message] of bad) {
    const r = await b.post('/api/spaces/adopt', { ...good, ...change })
    assert.equal(r.status, 400, `${what}: ${r.text}`)
    assert.equal(r.body.name, name, what)
    assert.match(r.body.message, message, what)
  }
  assert.deepEqual((await b.get('/api/spaces')).body, [], 'nothing was stored')
  assert.equal(existsSync(join(B.dataDir, 'spaces')), false)

  const adopted = await b.post('/api/spaces/adopt', good)
  assert.equal(adopted.status, 201, adopted.text)
  const dr = adopted.body.space
  assert.equal(adopted.body.snapshots, 1)
  assert.equal(dr.type, 'replication')
  assert.deepEqual(dr.origin, { store: e.config.id, site: 'hq', tasks: e.tasks })
  assert.equal((await b.post('/api/spaces/adopt', { ...good, name: 'finance-again' })).body.name, 'EscrowAdoptedError')
  const audit = JSON.stringify((await b.get('/api/audit')).body)
  assert.ok(audit.includes('space.adopt'))
  assert.equal(audit.includes(e.recoveryKey), false, 'the recovery key is not in the audit log')

  // The restore wizard's path: user space → task → snapshot, then an ordinary restore job.
  const snaps = (await b.get(`/api/spaces/${dr.id}/snapshots?taskId=${task.id}`)).body
  assert.equal(snaps.length, 1)
  assert.equal(snaps[0].id, backup.snapshotId)
  assert.equal(snaps[0].task, task.id)
  const entries = (await b.get(`/api/spaces/${dr.id}/snapshots/latest/entries`)).body.entries.map((x: any) => x.path)
  assert.ok(entries.some((p: string) => p.endsWith('/ledgers/2026/q1.bin')), entries.join(', '))
  const target = join(base, 'restored')
  const started = await b.post('/api/restores', { spaceId: dr.id, taskId: task.id, snapshot: snaps[0].id, targetPath: target, conflict: 'overwrite' })
  assert.equal(started.status, 202, started.text)
  const restore = await finished(b, started.body.id)
  assert.equal(restore.status, 'success', JSON.stringify(restore))
  assert.deepEqual(files(join(target, src)), files(src), 'A\'s files, byte for byte')
  const other = await b.post('/api/restores', { spaceId: dr.id, taskId: 't999', snapshot: 'latest', targetPath: target, conflict: 'overwrite' })
  assert.equal(other.body.name, 'TaskInvalidError', 'a task with no copies there')

  // A DR copy only reads: no backup into it, no prune of the replica.
  const into = await b.post('/api/tasks', { name: 'into-dr-copy', nodeId: bNode, spaceId: dr.id, sources: { include: [src] } })
  assert.equal(into.status, 400)
  assert.match(into.body.message, /replication space/)
  const prune = await b.post(`/api/spaces/${dr.id}/prune`)
  assert.equal(prune.status, 409)
  assert.equal(prune.body.name, 'SharedReplicaError')
  const clean = await b.post('/api/data/clean', { taskId: task.id, mode: 'task' })
  assert.equal(clean.status, 404, 'clean names a task of this node; the lost site\'s are not')
  const verify = await finished(b, (await b.post(`/api/spaces/${dr.id}/verify`, {})).body.id)
  assert.equal(verify.status, 'success', JSON.stringify(verify))

  // After a restart the space opens again with the node's own slot (the recovery key is not kept).
  await B.stop()
  daemons.splice(daemons.indexOf(B), 1)
  assert.equal(readFileSync(join(B.dataDir, 'spaces', dr.id, 'keys.json'), 'utf8').includes(e.recoveryKey), false)
  B = await startServe({ dataDir: join(base, 'b'), adminPassword: PASSWORD }); daemons.push(B)
  b = await admin(B)
  assert.deepEqual((await b.get(`/api/spaces/${dr.id}/snapshots`)).body.map((s: any) => s.id), [backup.snapshotId])
})
