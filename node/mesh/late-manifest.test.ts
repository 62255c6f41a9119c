// Issue 18: a snapshot made before manifests existed blocked the replicas' GC for ever (its
// blocks are not known there). Through the bin: the head office's day 1 has no manifest (its
// listing is removed, as a pre-issue-18 store has none) and reaches the DR site without one,
// day 2 with one. Started with its passphrase, the head office's node writes day 1's manifest
// by walking its tree and sends the head to the DR site, which now locks and accounts day 1;
// once the head office forgets and prunes day 1, the DR site frees it like any other. Then the
// DR site's index is lost: `cairn repair index` brings its roots, locks and releases back.
// test-suite: processes
import '../polyfill.ts'
import test from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { initRepository, openRepository } from '../../chunkstore/index.ts'
import { cairn, startHeadAndDr, startNode, until, type NodeProcess } from '../testing/index.ts'
import { openStore } from './open-store.ts'

const PASSPHRASE = 'correct horse battery staple'
/** The index key of a snapshot's manifest listing (chunkstore/index-layout.ts, `'p'`). */
const pagesKey = (root: string): Buffer => Buffer.concat([Buffer.from('p'), CID.parse(root).bytes])

test('issue 18: a snapshot made before manifests gets one from its origin\'s keys, and the DR site then follows its retention', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'cairn-late-manifest-'))
  const nodes: NodeProcess[] = []
  t.after(async () => {
    await Promise.all(nodes.map(async n => { await n.stop() }))
    rmSync(base, { recursive: true, force: true })
  })
  const src = join(base, 'src')
  mkdirSync(src)
  const hq = { mesh: join(base, 'hq', 'mesh'), store: join(base, 'hq', 'store') }
  const dr = { mesh: join(base, 'dr', 'mesh'), store: join(base, 'dr', 'store') }
  const passFile = join(base, 'pass')
  writeFileSync(passFile, PASSPHRASE)
  await initRepository(hq.store, { passphrase: PASSPHRASE, kdf: { N: 1024, r: 8, p: 1 } })
  writeFileSync(join(src, 'kept.bin'), randomBytes(200_000))
  const days: string[] = []
  for (let day = 1; day <= 2; day++) {
    writeFileSync(join(src, 'daily.bin'), randomBytes(200_000))
    const repo = await openRepository(hq.store, { passphrase: PASSPHRASE })
    days.push((await repo.backup({ paths: [src], task: 'docs' })).id)
    // Day 1 as a store made before issue 18 holds it: no manifest listed.
    if (day === 1) await repo.blocks.db.del(pagesKey(days[0]))
    await repo.close()
  }

  const sites = await startHeadAndDr(hq, dr)
  let A = sites.A; nodes.push(A)
  const C = sites.C; nodes.push(C)
  assert.deepEqual((await C.control('locks')).map((l: any) => l.root), [days[1]], 'day 1 arrived without a manifest')

  // The head office's node with its keys: day 1's manifest is written and its head sent.
  await A.stop(); nodes.splice(nodes.indexOf(A), 1)
  A = await startNode({ meshDir: hq.mesh, store: hq.store, args: ['--passphrase-file', passFile] }); nodes.push(A)
  await until('A reaches the DR site again', async () => (await A.control('status')).links[0]?.connected === true)
  await A.control('replicate')
  await until('the DR site locks day 1 too', async () => (await C.control('locks')).length === 2)
  const space = (await C.control('status')).retention.space
  assert.equal(space[0].snapshots, 2, 'day 1 is accounted for at the DR site')

  // The head office forgets and prunes day 1: the DR site frees it, which it could not before.
  await A.stop(); nodes.splice(nodes.indexOf(A), 1)
  const repo = await openRepository(hq.store, { passphrase: PASSPHRASE })
  await repo.forgetSnapshots([days[0]])
  await repo.prune()
  await repo.close()
  A = await startNode({ meshDir: hq.mesh, store: hq.store }); nodes.push(A)
  await until('A reaches the DR site once more', async () => (await A.control('status')).links[0]?.connected === true)
  await A.control('replicate')
  await until('the DR site drops day 1', async () => {
    const gc = await C.control('gc')
    assert.deepEqual(gc.blockedBy, [], 'no root without a manifest holds GC back')
    return (await C.control('locks')).length === 1
  })
  await C.stop(); nodes.splice(nodes.indexOf(C), 1)
  const replicaState = async (): Promise<unknown> => {
    const replica = await openStore(dr.store)
    try {
      return { roots: await replica.blocks.snapshotRootOrigins(), locks: await replica.blocks.retentions(), releases: await replica.blocks.releases(), day1: await replica.blocks.has(CID.parse(days[0])) }
    } finally {
      await replica.close()
    }
  }
  const kept = await replicaState() as any
  assert.equal(kept.day1, false, 'day 1\'s record is freed at the DR site')
  assert.deepEqual(kept.roots.map((r: any) => r.cid.toString()), [days[1]])

  // The DR site loses its index: `cairn repair index` brings its roots, locks and releases back from its signed lock records.
  rmSync(join(dr.store, 'index'), { recursive: true, force: true })
  const repaired = await cairn(['repair', 'index', '--store', dr.store, '--mesh-dir', dr.mesh, '--json'])
  assert.equal(repaired.code, 0, repaired.stderr)
  assert.deepEqual(JSON.parse(repaired.stdout).replica.roots, [days[1]])
  assert.deepEqual(JSON.stringify(await replicaState()), JSON.stringify(kept))
})
