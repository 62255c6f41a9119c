// A task of agent type "disk image" (issue 20, F6) through the daemon's API: its job images the
// source (an image file with a GPT; chunkstore/disk-image.test.ts covers loop devices), and a
// restore of it writes a verified image file; writing onto a device is an administrator's.
import test from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileHash, writeRandom } from '../../chunkstore/testing/index.ts'
import { finished, spaceFor, startTestDaemon, withUsers } from '../testing/index.ts'

test('a disk image task backs up its image file, and a restore writes it back verified', async () => {
  const t = await startTestDaemon()
  const work = await mkdtemp(join(tmpdir(), 'cairn-image-'))
  try {
    const { admin, operator, operatorId } = await withUsers(t)
    const { nodeId, spaceId } = await spaceFor(t, admin, operatorId)
    assert.equal((await admin.patch(`/api/nodes/${nodeId}`, { agentTypes: ['filesystem', 'disk-image'] })).status, 200)
    const disk = join(work, 'disk.img')
    writeRandom(disk, 2 << 20)
    execFileSync('truncate', ['-s', String(16 << 20), disk])
    execFileSync('sgdisk', ['-n1:2048:+4M', '-c1:one', '-n2:0:0', '-c2:two', disk], { stdio: 'ignore' })
    const task = await operator.post('/api/tasks', { name: 'whole-disk', nodeId, spaceId, agentType: 'disk-image', sources: { include: [disk] } })
    assert.equal(task.status, 201, task.text)
    const job = await finished(t, operator, (await operator.post(`/api/tasks/${task.body.id}/start`, { level: 'full' })).body.id)
    assert.equal(job.status, 'success', JSON.stringify(job))
    assert.equal(job.result.bytesTotal, 16 << 20)

    const out = join(work, 'restored.img')
    const r = await operator.post('/api/restores', { spaceId, taskId: task.body.id, snapshot: 'latest', targetPath: out, conflict: 'overwrite' })
    assert.equal(r.status, 202, r.text)
    const restored = await finished(t, operator, r.body.id)
    assert.equal(restored.status, 'success', JSON.stringify(restored))
    assert.equal(fileHash(out), fileHash(disk))

    const device = await operator.post('/api/restores', { spaceId, taskId: task.body.id, snapshot: 'latest', targetPath: '/dev/loop7', conflict: 'overwrite' })
    assert.equal(device.status, 403, device.text)
    assert.equal(device.body.code, 'PATH_NOT_ALLOWED')
  } finally {
    await t.close()
    await rm(work, { recursive: true, force: true })
  }
})
