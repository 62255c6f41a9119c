// Issue 4 in the node daemon: two `cairn serve` processes in one mesh over real TCP on
// 127.0.0.1. A backup at A under a per-space policy reaches B's replica store; a replicate
// job shows in the history; a corrupt block at B is found by scrub and fetched from A; a
// corrupt block at A is repaired from B by the verify job.
// test-suite: processes
import '../polyfill.ts'
import test from 'node:test'
import assert from 'node:assert/strict'
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { ApiClient, cliOk, jobEnd, loginAdmin, startServe, until, type ServeProcess } from '../testing/index.ts'
import { openStore } from './open-store.ts'

const LISTEN = '/ip4/127.0.0.1/tcp/0'
const PASSWORD = 'correct horse battery staple'

/** Flips one byte in the middle of the largest segment of a store: inside its largest block. */
function corrupt (storeDir: string): void {
  const segs = readdirSync(join(storeDir, 'segments')).map(n => join(storeDir, 'segments', n))
  const seg = segs.sort((a, b) => statSync(b).size - statSync(a).size)[0]
  const at = Math.floor(statSync(seg).size / 2)
  const fd = openSync(seg, 'r+')
  const b = Buffer.alloc(1); readSync(fd, b, 0, 1, at); b[0] ^= 0x01; writeSync(fd, b, 0, 1, at); closeSync(fd)
}

const finished = jobEnd
const admin = async (s: ServeProcess): Promise<ApiClient> => await loginAdmin(new ApiClient(s.url), PASSWORD)

test('issue 4: cairn serve hosts the mesh — per-space replication, replicate jobs, scrub and verify repair from a peer', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'cairn-serve-mesh-'))
  const daemons: ServeProcess[] = []
  t.after(async () => {
    await Promise.all(daemons.map(async d => { await d.stop() }))
    rmSync(base, { recursive: true, force: true })
  })
  const src = join(base, 'src')
  mkdirSync(src)
  writeFileSync(join(src, 'ledger.bin'), randomBytes(2 * 1024 * 1024))
  writeFileSync(join(src, 'notes.txt'), 'quarterly figures\n'.repeat(1000))

  // The mesh is made with the mesh commands in <data>/mesh; cairn serve picks it up there.
  await cliOk(['init', '--mesh-dir', join(base, 'a', 'mesh'), '--site', 'hq', '--role', 'head', '--listen', LISTEN])
  const A = await startServe({ dataDir: join(base, 'a'), adminPassword: PASSWORD }); daemons.push(A)
  const invitation = (await A.control('invite')).invitation
  await cliOk(['join', invitation, '--mesh-dir', join(base, 'b', 'mesh'), '--site', 'dr', '--role', 'dr', '--listen', LISTEN])
  const B = await startServe({ dataDir: join(base, 'b'), adminPassword: PASSWORD }); daemons.push(B)
  const [a, b] = await Promise.all([admin(A), admin(B)])
  await until('A reaches B', async () => (await a.get('/api/mesh')).body.members.every((m: any) => m.connected))

  // Manual 1.3: a site that joins registers itself with the console host as a node ("client"),
  // with its OS, version and address from identify, and no agent authorised until an admin does.
  let dr: any
  await until('B is a node at A', async () => {
    dr = (await a.get('/api/nodes')).body.find((n: any) => n.mesh?.site === 'dr')
    return dr?.version !== undefined && dr.version !== ''
  })
  assert.equal(dr.name, 'dr')
  assert.equal(dr.mesh.role, 'dr')
  assert.equal(dr.online, true)
  assert.equal(dr.ip, '127.0.0.1')
  assert.match(dr.os, /\S/)
  assert.deepEqual(dr.agentTypes, [])
  assert.equal(dr.local, false)
  assert.ok((await a.get('/api/logs?type=node')).text.includes('joined through the mesh'))

  // A user space with a backup task at A.
  const nodeId = (await a.get('/api/nodes')).body.find((n: any) => n.local).id
  const adminId = (await a.get('/api/users')).body.find((u: any) => u.name === 'admin').id
  const space = (await a.post('/api/spaces', { name: 'sales', type: 'backup', nodeId, ownerId: adminId, capacityBytes: 2 ** 30 })).body
  await a.post('/api/spaces', { name: 'hr', type: 'backup', nodeId, ownerId: adminId, capacityBytes: 2 ** 30 })
  const task = (await a.post('/api/tasks', { name: 'sales-docs', nodeId, spaceId: space.id, sources: { include: [src] } })).body

  // Policies per user space, checked before they are applied.
  for (const bad of [{ name: 'p', copies: 0 }, { name: 'p', copies: 10 }, { name: 'p', copies: 2, roles: ['boss'] }, { name: 'p', copies: 2, spaces: ['no-such-space'] }]) {
    const r = await a.put('/api/mesh/policies', { policies: [bad] })
    assert.equal(r.status, 400, `${JSON.stringify(bad)}: ${r.text}`)
    assert.equal(typeof r.body.message, 'string')
  }
  const put = await a.put('/api/mesh/policies', { policies: [{ name: 'sales-off-site', copies: 2, roles: ['dr'], spaces: ['sales'] }] })
  assert.equal(put.status, 200, put.text)
  assert.deepEqual(put.body.policies.map((p: any) => [p.name, p.targets]), [['sales-off-site', ['dr']]])

  // The backup's end starts replication; no operator action needed.
  const backup = await finished(a, (await a.post(`/api/tasks/${task.id}/start`, {})).body.id)
  assert.equal(backup.status, 'success', JSON.stringify(backup))
  await until('the policy reports B caught up', async () => {
    const [p] = (await a.get('/api/mesh')).body.policies
    return p.health === 'ok' && p.snapshotsBehind === 0 && p.bytesBehind === 0
  })
  const mesh = (await a.get('/api/mesh')).body
  assert.equal(mesh.configured, true)
  assert.equal(mesh.self.site, 'hq')
  assert.equal(mesh.links[0].site, 'dr')
  assert.equal(mesh.links[0].bytesBehind, 0)
  assert.ok(mesh.links[0].lastResult.bytesSent >= 2 * 1024 * 1024, 'the backup\'s blocks went to B')

  // Replicate now: a job in the history, with what it sent.
  const started = await a.post('/api/mesh/replicate')
  assert.equal(started.status, 202)
  const job = await finished(a, started.body.jobId)
  assert.equal(job.status, 'success', JSON.stringify(job))
  assert.equal(job.type, 'replicate')
  assert.equal(job.result.links, 1)
  assert.equal(job.result.blocksSent, 0, 'nothing was left to send')
  assert.deepEqual(job.result.errors, [])
  assert.ok((await a.get('/api/jobs?type=replicate')).body.items.some((j: any) => j.id === job.id))
  const status = JSON.parse(await cliOk(['status', '--mesh-dir', A.meshDir, '--json']))
  assert.equal(status.policies[0].health, 'ok', 'cairn mesh status reaches the daemon')

  // A byte flips in B's replica: scrub finds the block and fetches it from A.
  corrupt(join(B.dataDir, 'replica'))
  const scrub = JSON.parse(await cliOk(['scrub', '--mesh-dir', B.meshDir, '--json']))
  assert.equal(scrub.bad, 1, JSON.stringify(scrub))
  assert.equal(scrub.repaired.length, 1)
  assert.deepEqual(scrub.failed, [])
  assert.equal(JSON.parse(await cliOk(['scrub', '--mesh-dir', B.meshDir, '--json'])).bad, 0, 'B is whole again')

  // A byte flips in A's space store: the verify job repairs it from B.
  corrupt(join(A.dataDir, 'spaces', space.id))
  const verify = await finished(a, (await a.post(`/api/spaces/${space.id}/verify`, {})).body.id)
  assert.equal(verify.status, 'warning', JSON.stringify(verify))
  assert.equal(verify.result.errors, 0)
  assert.ok(verify.result.repairedFromPeers >= 1)
  assert.match((await a.get(`/api/jobs/${verify.id}/log`)).body.map((l: any) => l.message).join('\n'), /Repaired \d+ from peers/)
  assert.equal((await b.get('/api/mesh')).body.links.length, 0, 'B has no policy of its own')
  assert.match(await cliOk(['policy', '--mesh-dir', B.meshDir, '--name', 'dr-local', '--copies', '1']), /applied by the running daemon/)
  assert.deepEqual((await b.get('/api/mesh')).body.policies.map((p: any) => [p.name, p.health]), [['dr-local', 'ok']])

  // SIGTERM stops the daemons and their links; B's replica holds A's snapshot roots.
  await Promise.all(daemons.map(async d => { await d.stop() }))
  daemons.length = 0
  const spaceStore = await openStore(join(A.dataDir, 'spaces', space.id))
  const roots = (await spaceStore.blocks.snapshotRoots()).map(String)
  await spaceStore.close()
  const replica = await openStore(join(B.dataDir, 'replica'))
  const replicated = new Set((await replica.blocks.snapshotRoots()).map(String))
  await replica.close()
  assert.equal(roots.length, 1)
  assert.ok(roots.every(r => replicated.has(r)), 'B holds the snapshot root of A\'s backup')
})
