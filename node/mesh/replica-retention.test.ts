// Issue 18: retention reaches the replicas. Two `cairn mesh run` processes on 127.0.0.1: the
// head office backs up three days and replicates to the DR site with manifests; it forgets two
// days and prunes; the next run hands the DR site its releases, and the DR site frees exactly
// the blocks no kept snapshot lists (it reads no sealed byte). Then a quota at the DR site
// (`cairn mesh receive --quota`) refuses day 4 at its offer, before its blocks travel, with an
// alert there and ReplicaQuotaError at the link; the kept snapshot restores byte for byte.
// test-suite: processes
import '../polyfill.ts'
import test from 'node:test'
import assert from 'node:assert/strict'
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { initRepository, openRepository } from '../../chunkstore/index.ts'
import { cliOk, startHeadAndDr, startNode, until, type NodeProcess } from '../testing/index.ts'
import { openStore } from './open-store.ts'

const PASSPHRASE = 'correct horse battery staple'
const KDF = { N: 1024, r: 8, p: 1 }

async function storeState (dir: string): Promise<{ blocks: Set<string>, heads: string[], records: string[], releases: string[] }> {
  const s = await openStore(dir)
  try {
    const blocks = new Set<string>()
    for await (const cid of s.blocks.cids()) blocks.add(cid.toString())
    const locks = await s.blocks.retentions()
    return { blocks, heads: locks.map(r => r.retention.head), records: locks.flatMap(r => r.retention.record ?? []), releases: (await s.blocks.releases()).map(r => r.release.toString()) }
  } finally {
    await s.close()
  }
}

test('issue 18: the DR site follows the origin\'s forget and prune, frees exactly the blocks no kept snapshot lists, and restores the kept one', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'cairn-retention-'))
  const nodes: NodeProcess[] = []
  t.after(async () => {
    await Promise.all(nodes.map(async n => { await n.stop() }))
    rmSync(base, { recursive: true, force: true })
  })
  const src = join(base, 'data')
  mkdirSync(src, { recursive: true })
  const hq = { mesh: join(base, 'hq', 'mesh'), store: join(base, 'hq', 'store') }
  const dr = { mesh: join(base, 'dr', 'mesh'), store: join(base, 'dr', 'store') }

  // Three days of backups: each day replaces one file and keeps another.
  await initRepository(hq.store, { passphrase: PASSPHRASE, kdf: KDF })
  writeFileSync(join(src, 'kept.bin'), randomBytes(400_000))
  const days: string[] = []
  for (let day = 1; day <= 3; day++) {
    writeFileSync(join(src, 'daily.bin'), randomBytes(300_000))
    appendFileSync(join(src, 'log.txt'), `day ${day}\n`)
    const repo = await openRepository(hq.store, { passphrase: PASSPHRASE })
    days.push((await repo.backup({ paths: [src], task: 'docs' })).id)
    await repo.close()
  }

  const sites = await startHeadAndDr(hq, dr)
  let A = sites.A; nodes.push(A)
  const C = sites.C; nodes.push(C)
  const locks = await C.control('locks')
  assert.deepEqual(locks.map((l: any) => l.root).sort(), [...days].sort(), 'every root arrived with its manifest')
  assert.ok(locks.every((l: any) => l.origin === A.peer && !l.released))
  assert.equal((await C.control('gc')).dropped.length, 0, 'nothing is released yet')
  const status = (await C.control('status')).retention
  assert.deepEqual(status.locks.map((l: any) => [l.site, l.released, l.droppable]), [['hq', false, false], ['hq', false, false], ['hq', false, false]])
  assert.equal(status.space.length, 1)
  assert.equal(status.space[0].snapshots, 3)
  assert.ok(status.space[0].held > 700_000 && status.space[0].releasableNow === 0)

  // The head office forgets days 1 and 2 and prunes (its node stopped: the store is single-process).
  await A.stop(); nodes.splice(nodes.indexOf(A), 1)
  const repo = await openRepository(hq.store, { passphrase: PASSPHRASE })
  await repo.forgetSnapshots(days.slice(0, 2))
  await repo.prune()
  await repo.close()
  const origin = await storeState(hq.store)

  A = await startNode({ meshDir: hq.mesh, store: hq.store }); nodes.push(A)
  await until('A reaches the DR site again', async () => (await A.control('status')).links[0]?.connected === true)
  await A.control('replicate')
  // The run that connecting started and the one asked for may share the releases between them.
  const released = A.log().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l)).filter(e => e.event === 'replicated')
  assert.ok(released.reduce((n, e) => n + e.releasesSent, 0) >= 2)
  await until('the DR site dropped days 1 and 2', async () => {
    await C.control('gc')
    return (await C.control('locks')).length === 1
  })
  assert.deepEqual((await C.control('locks')).map((l: any) => l.root), [days[2]])

  await C.stop(); nodes.splice(nodes.indexOf(C), 1)
  const replica = await storeState(dr.store)
  // Exactly what the origin keeps, plus the kept root's manifest head and lock record, and the two releases.
  assert.equal(replica.heads.length, 1)
  assert.equal(replica.records.length, 1)
  assert.equal(replica.releases.length, 2)
  const expected = new Set([...origin.blocks, ...replica.heads, ...replica.records, ...replica.releases])
  assert.deepEqual([...replica.blocks].filter(c => !expected.has(c)), [], 'the DR site freed every block no kept snapshot lists')
  assert.deepEqual([...expected].filter(c => !replica.blocks.has(c)), [], 'the DR site kept every block the kept snapshot lists')
  assert.ok(!replica.blocks.has(days[0]) && !replica.blocks.has(days[1]), 'the forgotten records are gone')
  assert.ok(CID.parse(days[2]) !== undefined && replica.blocks.has(days[2]))

  // A quota at the DR site that nothing more fits in, then day 4 at the head office: the offer
  // is refused before any of day 4's blocks travel, the link says why, the DR site alerts.
  // (One node stays up across each restart, so the other finds it at its known address.)
  assert.match(await cliOk(['receive', '--mesh-dir', dr.mesh, '--quota', 'hq=1']), /quotas: hq 1 B/)
  const C2 = await startNode({ meshDir: dr.mesh, store: dr.store }); nodes.push(C2)
  await until('the DR site reaches A after its restart', async () => (await A.control('status')).links[0]?.connected === true)
  await A.stop(); nodes.splice(nodes.indexOf(A), 1)
  const day3Daily = readFileSync(join(src, 'daily.bin'))
  writeFileSync(join(src, 'daily.bin'), randomBytes(300_000))
  const repo4 = await openRepository(hq.store, { passphrase: PASSPHRASE })
  const day4 = (await repo4.backup({ paths: [src], task: 'docs' })).id
  const pages4 = ((await repo4.blocks.manifestPages(CID.parse(day4))) ?? []).map(String)
  await repo4.close()
  A = await startNode({ meshDir: hq.mesh, store: hq.store }); nodes.push(A)
  await until('A reaches the DR site once more', async () => (await A.control('status')).links[0]?.connected === true)
  const refused = await A.control('replicate')
  assert.equal(refused[0].lastError?.name, 'ReplicaQuotaError', JSON.stringify(refused[0].lastError))
  const alerts = C2.log().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l)).filter(e => e.event === 'quota-refused')
  assert.ok(alerts.length >= 1 && alerts[0].site === 'hq' && alerts[0].root === day4 && alerts[0].quota === 1)
  await C2.stop(); nodes.splice(nodes.indexOf(C2), 1)
  await A.stop(); nodes.splice(nodes.indexOf(A), 1)
  const refusedState = await storeState(dr.store)
  const arrived = [...refusedState.blocks].filter(c => !replica.blocks.has(c))
  assert.ok(arrived.length <= pages4.length + 1 && arrived.every(c => pages4.includes(c) || !origin.blocks.has(c)), 'only day 4\'s head and pages reached the DR site')
  assert.ok(!refusedState.blocks.has(day4))

  // The kept snapshot restores at the DR site, byte for byte (escrowed config and key file).
  for (const f of ['config.json', 'keys.json']) copyFileSync(join(hq.store, f), join(dr.store, f))
  const at = await openRepository(dr.store, { passphrase: PASSPHRASE })
  try {
    assert.deepEqual((await at.snapshots()).map(s => s.id), [days[2]])
    const target = join(base, 'restored')
    await at.restore({ snapshot: days[2], target })
    const dir = join(target, src.replace(/^\//, ''))
    for (const f of ['kept.bin', 'log.txt']) assert.ok(readFileSync(join(dir, f)).equals(readFileSync(join(src, f))), `${f} restored byte for byte`)
    assert.ok(readFileSync(join(dir, 'daily.bin')).equals(day3Daily), 'day 3\'s daily.bin restored byte for byte')
  } finally {
    await at.close()
  }
})
