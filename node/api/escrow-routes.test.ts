// F13 through the daemon, the origin's half: an admin takes a user space's keys into escrow.
// The recovery key opens the key file it came with, a second escrow replaces the first's slot,
// the secret reaches no log, and what cannot be escrowed or adopted here is refused clearly.
// (Adoption at a DR site, with a mesh, is node/mesh/serve-dr.test.ts.)
import test from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseKeyFile, unlockWithRecoveryKey } from '../../crypto/index.ts'
import { ApiClient, ADMIN_PASSWORD, spaceFor, startTestDaemon, withUsers } from '../daemon/test-daemon.ts'

test('escrow: a space\'s config, keys and a recovery key that opens them; once per call, replacing the previous escrow slot; never logged', async () => {
  const t = await startTestDaemon()
  try {
    const { admin, operator, operatorId } = await withUsers(t)
    const { spaceId, nodeId } = await spaceFor(t, admin, operatorId)
    const storeDir = join(t.dir, 'spaces', spaceId)
    assert.equal(readdirSync(t.dir).includes('spaces'), false, 'no store before the escrow')

    assert.equal((await operator.post(`/api/spaces/${spaceId}/escrow`)).status, 403, 'admins only')
    const first = await admin.post(`/api/spaces/${spaceId}/escrow`)
    assert.equal(first.status, 200, first.text)
    const e = first.body
    assert.equal(e.space.id, spaceId)
    assert.equal(e.site, undefined, 'no mesh, no site')
    assert.equal(e.config.format, 'cairn-store')
    assert.equal(e.config.spaceId, e.keys.spaceId)
    assert.deepEqual(JSON.parse(readFileSync(join(storeDir, 'config.json'), 'utf8')), e.config, 'the escrow initialised the store and gave its config.json')
    assert.deepEqual(parseKeyFile(readFileSync(join(storeDir, 'keys.json'), 'utf8')), e.keys, 'and its keys.json as it is now')
    assert.match(e.recoveryKey, /^([0-9A-Z]{5}-){7}[0-9A-Z]{5}$/)
    const opened = await unlockWithRecoveryKey(e.keys, e.recoveryKey)
    assert.equal(opened.slot.id, e.slot)
    assert.equal(opened.slot.label, 'escrow')
    assert.deepEqual(e.replaced, [])

    // A second escrow: a new recovery slot in place of the first; the first key no longer opens the site's key file.
    const second = (await admin.post(`/api/spaces/${spaceId}/escrow`)).body
    assert.notEqual(second.recoveryKey, e.recoveryKey)
    assert.deepEqual(second.replaced, [e.slot])
    const now = parseKeyFile(readFileSync(join(storeDir, 'keys.json'), 'utf8'))
    assert.deepEqual(now.slots.map(s => s.kind).sort(), ['passphrase', 'recovery'])
    await assert.rejects(unlockWithRecoveryKey(now, e.recoveryKey), { name: 'WrongPassphraseError' })
    assert.equal((await unlockWithRecoveryKey(now, second.recoveryKey)).slot.id, second.slot)

    // The space still backs up with its own passphrase (the store was not disturbed); the node's
    // own keys are never a source (issue 13, M1), so it backs up a folder of its own.
    assert.equal((await admin.post('/api/tasks', { name: 'node-keys', nodeId, spaceId, sources: { include: [join(t.dir, 'keys')] } })).body.name, 'PathNotAllowedError')
    const src = mkdtempSync(join(tmpdir(), 'cairn-src-'))
    writeFileSync(join(src, 'f'), 'x')
    const task = (await admin.post('/api/tasks', { name: 'after-escrow', nodeId, spaceId, sources: { include: [src] } })).body
    const job = (await admin.post(`/api/tasks/${task.id}/start`, {})).body
    await t.daemon.runner.waitFor(job.id)
    assert.equal((await admin.get(`/api/jobs/${job.id}`)).body.status, 'success')
    rmSync(src, { recursive: true, force: true })

    // Audited, and the recovery key is in no log, audit record or job record.
    const audit = (await admin.get('/api/audit')).body.filter((a: any) => a.action === 'space.escrow')
    assert.deepEqual(audit.map((a: any) => [a.target, a.detail.slot]), [[spaceId, e.slot], [spaceId, second.slot]])
    const everything = JSON.stringify([(await admin.get('/api/audit')).body, (await admin.get('/api/logs?pageSize=500')).body, (await admin.get('/api/jobs')).body])
    for (const key of [e.recoveryKey, second.recoveryKey]) {
      assert.equal(everything.includes(key), false, 'the recovery key is never logged')
      assert.equal(everything.includes(key.replaceAll('-', '')), false)
    }
    assert.ok(everything.includes('were taken into escrow'))
  } finally { await t.close() }
})

test('escrow refuses task-scoped and replication spaces and wants a recent reauth; adoption without a mesh is refused and stores nothing', async () => {
  const t = await startTestDaemon()
  try {
    const { admin, operatorId } = await withUsers(t)
    const nodeId = (await admin.get('/api/nodes')).body.find((n: any) => n.local).id
    const perTask = (await admin.post('/api/spaces', { name: 'per-task', type: 'backup', nodeId, ownerId: operatorId, capacityBytes: 0, dedupScope: 'task' })).body
    const r = await admin.post(`/api/spaces/${perTask.id}/escrow`)
    assert.equal(r.status, 409)
    assert.equal(r.body.name, 'EscrowUnsupportedError')
    assert.match(r.body.message, /one store per task/)
    const repl = (await admin.post('/api/spaces', { name: 'dr-copy', type: 'replication', nodeId, ownerId: operatorId, capacityBytes: 0 })).body
    assert.equal((await admin.post(`/api/spaces/${repl.id}/escrow`)).body.name, 'EscrowUnsupportedError')
    assert.equal((await admin.post('/api/spaces/no-such-space/escrow')).status, 404)

    const { spaceId } = await spaceFor(t, admin, operatorId, 'kept')
    const escrow = (await admin.post(`/api/spaces/${spaceId}/escrow`)).body
    const before = (await admin.get('/api/spaces')).body.length
    const adopt = await admin.post('/api/spaces/adopt', { name: 'lost-site', nodeId, ownerId: operatorId, config: escrow.config, keys: escrow.keys, recoveryKey: escrow.recoveryKey })
    assert.equal(adopt.status, 409)
    assert.equal(adopt.body.name, 'MeshNotRunningError')
    assert.equal((await admin.get('/api/spaces')).body.length, before, 'nothing was stored')

    // Six minutes on, the session must confirm the password again.
    await t.clock.advance(6 * 60_000)
    const stale = await admin.post(`/api/spaces/${spaceId}/escrow`)
    assert.equal(stale.body.name, 'ReauthenticationRequiredError')
    assert.equal((await admin.post('/api/auth/reauth', { password: ADMIN_PASSWORD })).status, 200)
    assert.equal((await admin.post(`/api/spaces/${spaceId}/escrow`)).status, 200)
    assert.equal((await new ApiClient(t.daemon.url).post(`/api/spaces/${spaceId}/escrow`)).status, 401)
  } finally { await t.close() }
})
