// Issue 18: an administrator's USB-key release, issued with `cairn mesh release` through the
// bin. The head office (`cairn mesh run`) sends two snapshots to the DR site (`cairn serve`),
// which locks them 30 days; then it releases both (forget, prune: what a thief with its node
// key could do), and the DR site keeps both until their locks pass on its stepped clock. The DR site trusts the USB keys its users with role admin enrolled:
// alice (admin) and bob (operator) each have a SoftHSM2 token. From the head office, a release
// signed with bob's key, one with a wrong PIN and one for a snapshot nobody locks are refused
// and change nothing; alice's ends the lock of day 1 at the DR site at once, its GC frees day 1
// and keeps day 2, and the DR site's audit trail names alice and her reason.
// test-suite: processes
import '../polyfill.ts'
import test from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { cidOf, initRepository, openRepository } from '../../chunkstore/index.ts'
import { createOperatorToken, createSoftHsm } from '../../crypto/testing/index.ts'
import { ApiClient, cairn, cliOk, loginAdmin, startNode, startServe, until, type NodeProcess, type ServeProcess } from '../testing/index.ts'

const LISTEN = '/ip4/127.0.0.1/tcp/0'
const PASSPHRASE = 'correct horse battery staple'
const PASSWORD = 'correct horse battery staple'

test('issue 18: an admin\'s USB-key release frees a locked snapshot early at the DR site and is audited there; a non-admin key, a wrong PIN or an unlocked snapshot change nothing', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'cairn-admin-release-'))
  const hsm = createSoftHsm()
  const procs: Array<NodeProcess | ServeProcess> = []
  t.after(async () => {
    await Promise.all(procs.map(async p => { await p.stop() }))
    hsm.dispose()
    rmSync(base, { recursive: true, force: true })
  })
  const alice = createOperatorToken(hsm, { tokenLabel: 'alice-key', pin: '1111' })
  const bob = createOperatorToken(hsm, { tokenLabel: 'bob-key', pin: '2222' })
  const pinFile = (pin: string): string => { const f = join(base, `pin-${pin}`); writeFileSync(f, `${pin}\n`); return f }

  // Two days of backups at the head office, sent to the DR site with a 30-day lock.
  const src = join(base, 'src')
  mkdirSync(src)
  const hq = { mesh: join(base, 'hq', 'mesh'), store: join(base, 'hq', 'store') }
  await initRepository(hq.store, { passphrase: PASSPHRASE, kdf: { N: 1024, r: 8, p: 1 } })
  const days: string[] = []
  for (let day = 1; day <= 2; day++) {
    writeFileSync(join(src, 'daily.bin'), randomBytes(200_000))
    const repo = await openRepository(hq.store, { passphrase: PASSPHRASE })
    days.push((await repo.backup({ paths: [src], task: 'docs' })).id)
    await repo.close()
  }
  await cliOk(['init', '--mesh-dir', hq.mesh, '--site', 'hq', '--role', 'head', '--listen', LISTEN])
  await cliOk(['policy', '--mesh-dir', hq.mesh, '--copies', '2', '--role', 'dr', '--immutable-days', '30'])
  let A = await startNode({ meshDir: hq.mesh, store: hq.store }); procs.push(A)
  await cliOk(['join', (await A.control('invite')).invitation, '--mesh-dir', join(base, 'dr', 'mesh'), '--site', 'dr', '--role', 'dr', '--listen', LISTEN])
  // The DR site on a manual clock (stepped over its control socket), for its locks to pass.
  const start = Date.now()
  const B = await startServe({ dataDir: join(base, 'dr'), adminPassword: PASSWORD, args: ['--test-clock', new Date(start).toISOString()] }); procs.push(B)
  await until('the head office reaches the DR site', async () => (await A.control('status')).links[0]?.connected === true)
  await until('the DR site holds both days', async () => (await A.control('replicate'))[0]?.snapshotsBehind === 0)

  // At the DR site: alice (admin) and bob (operator) enrol their USB keys.
  const b = await loginAdmin(new ApiClient(B.url), PASSWORD)
  assert.equal((await b.post('/api/auth/reauth', { password: PASSWORD })).status, 200)
  for (const [name, role, token] of [['alice', 'admin', alice], ['bob', 'operator', bob]] as const) {
    const u = await b.post('/api/users', { name, password: `${name === 'alice' ? 'violet' : 'amber'} lantern over quiet harbour 7`, role })
    assert.equal(u.status, 201, u.text)
    const enrolled = await b.put(`/api/users/${u.body.id as string}/token`, { certificate: token.ec.certificatePem })
    assert.equal(enrolled.status, 200, enrolled.text)
  }
  const locks = async (): Promise<Array<{ root: string, released: boolean, droppable: boolean, lockedUntil: string }>> => (await B.control('locks')).sort((x: any, y: any) => x.root.localeCompare(y.root))

  // The head office (or whoever holds its node key) releases everything: forgets both days and
  // prunes. The DR site records the releases and keeps both for their 30 days.
  await A.stop(); procs.splice(procs.indexOf(A), 1)
  const hqRepo = await openRepository(hq.store, { passphrase: PASSPHRASE })
  await hqRepo.forgetSnapshots(days, { force: true })
  await hqRepo.prune()
  await hqRepo.close()
  A = await startNode({ meshDir: hq.mesh, store: hq.store }); procs.push(A)
  await until('the head office reaches the DR site again', async () => (await A.control('status')).links[0]?.connected === true)
  await A.control('replicate')
  await until('the DR site holds both releases', async () => (await locks()).every(l => l.released))
  await B.control('gc')
  const before = await locks()
  assert.deepEqual(before.map(l => l.root), [...days].sort(), 'released by their origin, both kept')
  assert.ok(before.every(l => !l.droppable && Date.parse(l.lockedUntil) >= start + 30 * 86_400_000), 'both locked 30 days')
  const heldBefore = (await B.control('status')).retention.space

  const release = async (root: string, token: { tokenLabel: string }, pin: string): Promise<{ code: number, stdout: string, stderr: string }> =>
    await cairn(['mesh', 'release', root, '--mesh-dir', hq.mesh, '--token-label', token.tokenLabel, '--key-label', 'operator-ec', '--pin-file', pinFile(pin), '--reason', 'ransomware clean-up, ticket 4711', '--json'])

  // bob's key is enrolled, but bob is no admin: refused at the DR site, nothing changes.
  const byBob = await release(days[0], bob, bob.pin)
  assert.equal(byBob.code, 1, byBob.stderr)
  assert.match(byBob.stderr, /applied nowhere: a replica that keeps it does not trust this certificate/)
  assert.deepEqual(JSON.parse(byBob.stdout).deliveries.map((d: any) => [d.site, d.outcome]), [['dr', 'untrusted'], ['hq', 'not-locked']])
  // A wrong PIN: the token says so, nothing is signed or sent.
  const wrongPin = await release(days[0], alice, '9999')
  assert.equal(wrongPin.code, 1)
  assert.match(wrongPin.stderr, /PIN for token "alice-key" is wrong/)
  assert.equal(wrongPin.stdout, '')
  // A snapshot nobody keeps under a lock.
  const unlocked = await release(cidOf(randomBytes(32)).toString(), alice, alice.pin)
  assert.equal(unlocked.code, 1)
  assert.match(unlocked.stderr, /no site reached keeps this snapshot under a lock/)
  assert.deepEqual(await locks(), before, 'no lock changed')
  await B.control('gc')
  assert.deepEqual(await locks(), before, 'GC dropped nothing')
  assert.deepEqual((await B.control('status')).retention.space, heldBefore, 'the DR site holds what it held')

  // alice's key: the lock of day 1 ends at the DR site at once; its GC frees day 1, keeps day 2.
  const byAlice = await release(days[0], alice, alice.pin)
  assert.equal(byAlice.code, 0, byAlice.stderr)
  assert.deepEqual(JSON.parse(byAlice.stdout).applied, ['dr'])
  await until('the DR site drops day 1', async () => {
    await B.control('gc')
    return (await locks()).length === 1
  })
  assert.deepEqual((await locks()).map(l => [l.root, l.released, l.droppable]), [[days[1], true, false]], 'day 2 stays: released by its origin, still locked')
  const space = (await B.control('status')).retention.space
  assert.ok(space[0].held < heldBefore[0].held, `day 1's own blocks were freed (${String(space[0].held)} < ${String(heldBefore[0].held)})`)

  // The DR site's audit trail: who (alice, by her enrolled key), why, which snapshot, relayed by hq; and bob's refusal.
  const entries = (await b.get('/api/audit')).body as any[]
  const done = entries.filter(e => e.action === 'mesh.release.admin')
  assert.equal(done.length, 1, JSON.stringify(entries.map(e => e.action)))
  assert.equal(done[0].user, 'alice')
  assert.equal(done[0].target, days[0])
  assert.equal(done[0].source, 'mesh:hq')
  assert.equal(done[0].detail.reason, 'ransomware clean-up, ticket 4711')
  assert.match(done[0].detail.subject, /CN=operator-ec/)
  assert.ok(entries.some(e => e.action === 'mesh.release.admin.refused' && /does not trust|not one this replica trusts/.test(e.detail.reason)), 'bob\'s refusal is audited')

  // 29 days on, day 2 is still locked; 31 days on, its lock has passed and the origin's release frees it.
  await B.control('clock-set', { to: new Date(start + 29 * 86_400_000).toISOString() })
  assert.deepEqual((await B.control('gc')).dropped, [])
  await B.control('clock-set', { to: new Date(start + 31 * 86_400_000).toISOString() })
  assert.deepEqual((await B.control('gc')).dropped, [days[1]])
  assert.deepEqual(await locks(), [])
  assert.deepEqual((await B.control('status')).retention.space, [])
})
