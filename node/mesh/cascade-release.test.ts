// Issue 18, cascades: "a site that forwards what it received also forwards the releases; each hop
// applies its own policy's immutability". hq (`cairn mesh run`) sends to branch with a 2-day lock;
// branch forwards to dr with a 5-day lock (its own policy). branch and dr are `cairn serve`
// processes (through the bin, like hq) because only `serve` has a stepped clock (`--test-clock`,
// `clock-set` over the control socket), which their locks need to pass. hq forgets and prunes a
// snapshot: the release reaches branch, then dr through branch; branch frees it after 2 days
// while dr keeps it; dr frees it after its own 5; the kept snapshot restores byte for byte at dr.
// test-suite: processes
import '../polyfill.ts'
import test from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { initRepository, openRepository } from '../../chunkstore/index.ts'
import { cliOk, startNode, startServe, until, type NodeProcess, type ServeProcess } from '../testing/index.ts'
import { REPLICA_DIR } from './hosted-mesh.ts'

const PASSPHRASE = 'correct horse battery staple'
const LISTEN = '/ip4/127.0.0.1/tcp/0'
const DAY = 86_400_000

test('issue 18: a release travels hq → branch → dr, and each hop frees the snapshot only after its own lock (2 days at branch, 5 at dr)', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'cairn-cascade-release-'))
  const procs: Array<NodeProcess | ServeProcess> = []
  t.after(async () => {
    await Promise.all(procs.map(async p => { await p.stop() }))
    rmSync(base, { recursive: true, force: true })
  })

  // Two snapshots at hq: "gone" (to be forgotten) and "kept", each with a file of its own.
  const hq = { mesh: join(base, 'hq', 'mesh'), store: join(base, 'hq', 'store') }
  const src = join(base, 'src')
  mkdirSync(src)
  await initRepository(hq.store, { passphrase: PASSPHRASE, kdf: { N: 1024, r: 8, p: 1 } })
  const backup = async (content: Buffer): Promise<string> => {
    writeFileSync(join(src, 'daily.bin'), content)
    const repo = await openRepository(hq.store, { passphrase: PASSPHRASE })
    try { return (await repo.backup({ paths: [src], task: 'docs' })).id } finally { await repo.close() }
  }
  const gone = await backup(randomBytes(300_000))
  const keptBytes = randomBytes(300_000)
  const kept = await backup(keptBytes)

  // hq → branch (2-day lock), branch → dr (5-day lock); branch and dr on one stepped clock each.
  await cliOk(['init', '--mesh-dir', hq.mesh, '--site', 'hq', '--role', 'head', '--listen', LISTEN])
  await cliOk(['policy', '--mesh-dir', hq.mesh, '--copies', '2', '--role', 'branch', '--immutable-days', '2'])
  let A = await startNode({ meshDir: hq.mesh, store: hq.store }); procs.push(A)
  const start = Date.now()
  const serve = async (site: string, role: string, policy?: string[]): Promise<ServeProcess> => {
    const dataDir = join(base, site)
    await cliOk(['join', (await A.control('invite')).invitation, '--mesh-dir', join(dataDir, 'mesh'), '--site', site, '--role', role, '--listen', LISTEN])
    if (policy !== undefined) await cliOk(['policy', '--mesh-dir', join(dataDir, 'mesh'), ...policy])
    const p = await startServe({ dataDir, adminPassword: 'violet lantern over quiet harbour 7', args: ['--test-clock', new Date(start).toISOString()] }); procs.push(p)
    return p
  }
  const B = await serve('branch', 'branch', ['--copies', '2', '--role', 'dr', '--immutable-days', '5'])
  const C = await serve('dr', 'dr')
  type Lock = { root: string, released: boolean, droppable: boolean, lockedUntil: string }
  const locks = async (p: ServeProcess): Promise<Lock[]> => (await p.control('locks')).sort((x: Lock, y: Lock) => x.root.localeCompare(y.root))
  const held = async (p: ServeProcess): Promise<number> => ((await p.control('status')).retention.space as Array<{ held: number }>).reduce((n, o) => n + o.held, 0)
  const both = [gone, kept].sort()
  await until('hq reaches branch', async () => (await A.control('status')).links[0]?.connected === true)
  await until('branch holds both snapshots', async () => (await A.control('replicate'))[0]?.snapshotsBehind === 0)
  await until('branch forwarded both to dr', async () => (await locks(C)).length === 2, 60, 250)
  assert.deepEqual((await locks(B)).map(l => l.root), both)
  assert.deepEqual((await locks(C)).map(l => l.root), both)
  // Each hop's lock is the one its sender's policy asked for, counted from receipt on its own clock.
  const lockedDays = async (p: ServeProcess): Promise<number[]> => (await locks(p)).map(l => Math.round((Date.parse(l.lockedUntil) - start) / DAY))
  assert.deepEqual(await lockedDays(B), [2, 2], 'branch locks for hq\'s policy: 2 days')
  assert.deepEqual(await lockedDays(C), [5, 5], 'dr locks for branch\'s policy: 5 days')
  const branchHeld = await held(B)
  const drHeld = await held(C)

  // hq forgets "gone" and prunes; its release reaches branch, and branch forwards it to dr.
  await A.stop(); procs.splice(procs.indexOf(A), 1)
  const hqRepo = await openRepository(hq.store, { passphrase: PASSPHRASE })
  await hqRepo.forgetSnapshots([gone], { force: true })
  await hqRepo.prune()
  await hqRepo.close()
  A = await startNode({ meshDir: hq.mesh, store: hq.store }); procs.push(A)
  await until('hq reaches branch again', async () => (await A.control('status')).links[0]?.connected === true)
  await A.control('replicate')
  const releasedOnly = async (p: ServeProcess): Promise<boolean> => JSON.stringify((await locks(p)).map(l => [l.root, l.released])) === JSON.stringify(both.map(r => [r, r === gone]))
  await until('branch holds hq\'s release of "gone"', async () => await releasedOnly(B))
  await until('dr holds the release too, forwarded by branch', async () => await releasedOnly(C), 60, 250)
  const branchPeer: string = (await A.control('status')).links[0].peer
  const drReleases = C.log().split('\n').filter(l => l.includes('release-received'))
  assert.ok(drReleases.length > 0 && drReleases.every(l => l.includes(branchPeer)), `dr received the release from branch:\n${drReleases.join('\n')}`)

  // Day 1: both still locked everywhere; nothing freed.
  for (const p of [B, C]) await p.control('clock-set', { to: new Date(start + 1 * DAY).toISOString() })
  assert.deepEqual((await B.control('gc')).dropped, [])
  assert.deepEqual((await C.control('gc')).dropped, [])
  // Day 3: branch's 2-day lock has passed, it frees "gone"; dr's 5-day lock holds.
  for (const p of [B, C]) await p.control('clock-set', { to: new Date(start + 3 * DAY).toISOString() })
  assert.deepEqual((await B.control('gc')).dropped, [gone], 'branch drops "gone" once its own lock has passed')
  assert.deepEqual((await C.control('gc')).dropped, [], 'dr keeps "gone": its own lock is longer')
  assert.deepEqual((await locks(B)).map(l => l.root), [kept])
  assert.deepEqual((await locks(C)).map(l => [l.root, l.droppable]), both.map(r => [r, false]))
  assert.ok(await held(B) < branchHeld - 300_000, 'branch freed "gone"\'s own file')
  assert.equal(await held(C), drHeld, 'dr holds what it held')
  // Day 6: dr's lock has passed too.
  await C.control('clock-set', { to: new Date(start + 6 * DAY).toISOString() })
  assert.deepEqual((await C.control('gc')).dropped, [gone], 'dr drops "gone" after its own 5 days')
  assert.deepEqual((await locks(C)).map(l => [l.root, l.released]), [[kept, false]])
  assert.ok(await held(C) < drHeld - 300_000, 'dr freed "gone"\'s own file')
  assert.equal(await held(C), await held(B), 'dr and branch now hold the same: "kept"')

  // "kept" restores at dr, byte for byte (escrowed config and key file).
  await Promise.all(procs.map(async p => { await p.stop() }))
  procs.length = 0
  const drStore = join(base, 'dr', REPLICA_DIR)
  for (const f of ['config.json', 'keys.json']) copyFileSync(join(hq.store, f), join(drStore, f))
  const at = await openRepository(drStore, { passphrase: PASSPHRASE })
  try {
    assert.deepEqual((await at.snapshots()).map(s => s.id), [kept])
    const target = join(base, 'restored')
    await at.restore({ snapshot: kept, target })
    assert.ok(readFileSync(join(target, src.replace(/^\//, ''), 'daily.bin')).equals(keptBytes), '"kept" restores byte for byte at dr')
  } finally {
    await at.close()
  }
})
