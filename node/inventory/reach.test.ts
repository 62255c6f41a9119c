// What operators reach on a node (issue 13, M1): sources and restore targets inside the roots an
// admin set, normalised before the check, never relative, never the daemon's own data folder
// (for admins either), browsing limited the same way; a restore that would overwrite the data
// folder is refused.
import test from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ApiClient, finished, startTestDaemon, withUsers } from '../daemon/test-daemon.ts'

test('operators back up and restore only inside the node\'s roots; paths are normalised; the data folder is out of reach', async () => {
  const t = await startTestDaemon()
  const work = mkdtempSync(join(tmpdir(), 'cairn-reach-'))
  try {
    const src = join(work, 'allowed-src')
    const out = join(work, 'allowed-out')
    mkdirSync(join(src, 'docs'), { recursive: true })
    mkdirSync(out)
    writeFileSync(join(src, 'docs', 'a.txt'), 'alpha')
    symlinkSync('/etc', join(src, 'etc-link'))
    const { admin, operator, operatorId } = await withUsers(t)
    const nodeId = (await admin.get('/api/nodes')).body[0].id
    assert.equal((await admin.patch(`/api/nodes/${nodeId}`, { ownerId: operatorId })).status, 200)
    const spaceId = (await admin.post('/api/spaces', { name: 'ops01_space', type: 'backup', nodeId, ownerId: operatorId, capacityBytes: 2 ** 30 })).body.id
    const task = async (include: string): Promise<{ status: number, body: any }> => await operator.post('/api/tasks', { name: `t-${Math.random().toString(36).slice(2, 8)}`, nodeId, spaceId, sources: { include: [include] } })

    const none = await task(join(src, 'docs'))
    assert.equal(none.status, 403)
    assert.match(none.body.message, /allows operators no source folders yet/)
    assert.equal((await operator.patch(`/api/nodes/${nodeId}`, { roots: { sources: ['/'], restores: ['/'] } })).status, 403, 'only admins set roots')
    const set = await admin.patch(`/api/nodes/${nodeId}`, { roots: { sources: [src + '/'], restores: [out] } })
    assert.equal(set.status, 200, set.text)
    assert.deepEqual((await operator.get(`/api/nodes/${nodeId}`)).body.roots, { sources: [src], restores: [out] }, 'the client\'s details show the roots')

    for (const [path, name] of [['/etc/shadow', 'PathNotAllowedError'], [`${src}/../../../etc`, 'PathNotAllowedError'], [join(src, 'etc-link'), 'PathNotAllowedError'], ['../../etc', 'PathInvalidError'], [join(t.dir, 'keys'), 'PathNotAllowedError'], [join(t.dir, 'tls', 'key.pem'), 'PathNotAllowedError']]) {
      const r = await task(path)
      assert.equal(r.body.name, name, `${path}: ${JSON.stringify(r.body)}`)
    }
    const ok = await task(`${src}/./docs//`)
    assert.equal(ok.status, 201, JSON.stringify(ok.body))
    assert.deepEqual(ok.body.sources.include, [join(src, 'docs')], 'stored normalised')
    // The data folder is out of an admin's reach too.
    assert.equal((await admin.post('/api/tasks', { name: 'admin-keys', nodeId, spaceId, sources: { include: [join(t.dir, 'keys')] } })).body.name, 'PathNotAllowedError')

    const job = (await operator.post(`/api/tasks/${ok.body.id}/start`, { level: 'full' })).body
    assert.equal((await finished(t, operator, job.id)).status, 'success')
    const restore = async (client: ApiClient, targetPath: string): Promise<{ status: number, body: any }> => await client.post('/api/restores', { spaceId, taskId: ok.body.id, snapshot: 'latest', targetPath, conflict: 'overwrite' })
    for (const target of ['/etc', `${out}/../../../etc`, '/', join(t.dir, 'state')]) {
      const r = await restore(operator, target)
      assert.equal(r.body.name, 'PathNotAllowedError', `${target}: ${JSON.stringify(r.body)}`)
    }
    for (const target of ['/proc/self/fd', '/sys/kernel', '/dev/shm/x']) {
      const r = await restore(admin, target)
      assert.equal(r.status, 400, target)
      assert.equal(r.body.name, 'RestoreTargetRefusedError', target)
    }
    assert.equal((await restore(admin, join(t.dir, 'keys'))).body.name, 'PathNotAllowedError', 'admins do not restore into the data folder either')
    const good = await restore(operator, join(out, 'here'))
    assert.equal(good.status, 202, JSON.stringify(good.body))
    assert.equal((await finished(t, operator, good.body.id)).status, 'success')

    // Browsing: operators see the way down to their roots and what is inside them; nobody sees the data folder.
    assert.equal((await operator.get(`/api/nodes/${nodeId}/files?path=/root`)).body.name, 'PathNotAllowedError')
    const top = (await operator.get(`/api/nodes/${nodeId}/files?path=/`)).body.entries.map((e: { name: string }) => e.name)
    assert.deepEqual(top, [tmpdir().split('/')[1]])
    assert.deepEqual((await operator.get(`/api/nodes/${nodeId}/files?path=${encodeURIComponent(src)}`)).body.entries.map((e: { name: string }) => e.name), ['docs', 'etc-link'])
    const tmp = (await admin.get(`/api/nodes/${nodeId}/files?path=${encodeURIComponent(tmpdir())}`)).body.entries.map((e: { path: string }) => e.path)
    assert.ok(tmp.includes(work) && !tmp.includes(t.dir), 'admins browse everything but the data folder')
    assert.equal((await admin.get(`/api/nodes/${nodeId}/files?path=${encodeURIComponent(join(t.dir, 'keys'))}`)).body.name, 'PathNotAllowedError')
  } finally {
    await t.close()
    rmSync(work, { recursive: true, force: true })
  }
})

test('a backup of a folder holding the data folder leaves it out; a restore that would overwrite it is refused', async () => {
  const q = mkdtempSync(join(tmpdir(), 'cairn-q-'))
  const base = mkdtempSync(join(tmpdir(), 'cairn-base-'))
  // The data folder sits where a restore of q into `base` would write q's "node" folder.
  const dataDir = join(base, q, 'node')
  mkdirSync(dataDir, { recursive: true })
  const t = await startTestDaemon({}, dataDir)
  try {
    mkdirSync(join(q, 'node'))
    writeFileSync(join(q, 'node', 'state'), 'not the daemon\'s state')
    writeFileSync(join(q, 'kept.txt'), 'kept')
    const { admin } = await withUsers(t)
    const me = (await admin.get('/api/users/me')).body
    const nodeId = (await admin.get('/api/nodes')).body[0].id
    const spaceId = (await admin.post('/api/spaces', { name: 'admin_space', type: 'backup', nodeId, ownerId: me.id, capacityBytes: 2 ** 30 })).body.id
    const whole = (await admin.post('/api/tasks', { name: 'holds-data', nodeId, spaceId, sources: { include: [base] } })).body
    const job = (await admin.post(`/api/tasks/${whole.id}/start`, { level: 'full' })).body
    assert.equal((await finished(t, admin, job.id)).status, 'success')
    const entries = (await admin.get(`/api/spaces/${spaceId}/snapshots/latest/entries?path=${encodeURIComponent(base)}&limit=10000`)).body.entries.map((e: { path: string }) => e.path)
    assert.ok(entries.length > 0 && !entries.some((p: string) => p.startsWith(dataDir)), `the data folder is not in the snapshot: ${entries.join(', ')}`)

    const mimic = (await admin.post('/api/tasks', { name: 'mimics-data', nodeId, spaceId, sources: { include: [q] } })).body
    const second = (await admin.post(`/api/tasks/${mimic.id}/start`, { level: 'full' })).body
    assert.equal((await finished(t, admin, second.id)).status, 'success')
    const r = await admin.post('/api/restores', { spaceId, taskId: mimic.id, snapshot: 'latest', targetPath: base, conflict: 'overwrite' })
    const refused = await finished(t, admin, r.body.id)
    assert.equal(refused.status, 'failed')
    assert.match(refused.error, /overwrite this node's own data folder/)
    assert.equal((await admin.get('/api/health')).status, 200)
  } finally {
    await t.close()
    rmSync(q, { recursive: true, force: true })
    rmSync(base, { recursive: true, force: true })
  }
})
