// Issue 4, F11/F13: back up at A, replicate A→B→C as node processes, lose A, restore at the
// DR site C with the key material and compare byte for byte; a day-2 backup sends little more
// than its new blocks.
import '../polyfill.ts'
import test from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { initRepository, openRepository } from '../../chunkstore/index.ts'
import { cliOk, startNode, until, type NodeProcess } from './process-harness.ts'
import { openStore } from './open-store.ts'

const LISTEN = '/ip4/127.0.0.1/tcp/0'
const PASSPHRASE = 'correct horse battery staple'
const KDF = { N: 1024, r: 8, p: 1 }

async function blockSizes (store: string): Promise<Map<string, number>> {
  const s = await openStore(store)
  const out = new Map<string, number>()
  try {
    for await (const cid of s.blocks.cids()) out.set(cid.toString(), (await s.blocks.get(cid)).byteLength)
  } finally {
    await s.close()
  }
  return out
}

function events (n: NodeProcess): any[] {
  return n.log().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l))
}

test('F13 a DR site restores a lost site\'s snapshot, byte for byte; F11 day 2 sends only new blocks', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'cairn-dr-'))
  const nodes: NodeProcess[] = []
  t.after(async () => {
    await Promise.all(nodes.map(async n => { await n.stop() }))
    rmSync(base, { recursive: true, force: true })
  })
  const src = join(base, 'data')
  mkdirSync(join(src, 'docs'), { recursive: true })
  writeFileSync(join(src, 'docs', 'big.bin'), randomBytes(3 * 1024 * 1024))
  writeFileSync(join(src, 'notes.txt'), 'minutes of the meeting\n'.repeat(2000))
  const dirs = Object.fromEntries(['hq', 'branch', 'dr'].map(s => [s, { mesh: join(base, s, 'mesh'), store: join(base, s, 'store') }]))

  // Day 1 backup at the head office, before its daemon opens the store.
  await initRepository(dirs.hq.store, { passphrase: PASSPHRASE, kdf: KDF })
  let repo = await openRepository(dirs.hq.store, { passphrase: PASSPHRASE })
  const day1 = await repo.backup({ paths: [src], task: 'docs' })
  await repo.close()

  await cliOk(['init', '--mesh-dir', dirs.hq.mesh, '--site', 'hq', '--role', 'head', '--listen', LISTEN])
  await cliOk(['policy', '--mesh-dir', dirs.hq.mesh, '--copies', '2', '--role', 'branch'])
  let A = await startNode({ meshDir: dirs.hq.mesh, store: dirs.hq.store }); nodes.push(A)
  await cliOk(['join', (await A.control('invite')).invitation, '--mesh-dir', dirs.branch.mesh, '--site', 'branch', '--role', 'branch', '--listen', LISTEN])
  await cliOk(['policy', '--mesh-dir', dirs.branch.mesh, '--copies', '2', '--role', 'dr'])
  await cliOk(['join', (await A.control('invite')).invitation, '--mesh-dir', dirs.dr.mesh, '--site', 'dr', '--role', 'dr', '--listen', LISTEN])
  const B = await startNode({ meshDir: dirs.branch.mesh, store: dirs.branch.store }); nodes.push(B)
  const C = await startNode({ meshDir: dirs.dr.mesh, store: dirs.dr.store }); nodes.push(C)
  await until('A reaches B', async () => (await A.control('status')).links[0]?.connected === true)
  await A.control('replicate')
  await until('B forwarded the snapshot to C', async () => (await B.control('replicate'))[0]?.snapshotsBehind === 0)

  // Day 2: one file grows; A's daemon is stopped for the backup (the store is single-process).
  await A.stop(); nodes.splice(nodes.indexOf(A), 1)
  const before = await blockSizes(dirs.hq.store)
  appendFileSync(join(src, 'notes.txt'), 'day two: new agenda\n'.repeat(500))
  repo = await openRepository(dirs.hq.store, { passphrase: PASSPHRASE })
  await repo.backup({ paths: [src], task: 'docs', level: 'incremental' })
  await repo.close()
  const after = await blockSizes(dirs.hq.store)
  const newBytes = [...after].filter(([c]) => !before.has(c)).reduce((n, [, s]) => n + s, 0)
  A = await startNode({ meshDir: dirs.hq.mesh, store: dirs.hq.store }); nodes.push(A)
  await until('A reaches B again', async () => (await A.control('status')).links[0]?.connected === true)
  await A.control('replicate')
  const day2Runs = events(A).filter(e => e.event === 'replicated')
  const wire = day2Runs.reduce((n, e) => n + e.wireBytes, 0)
  assert.ok(newBytes > 0)
  assert.ok(wire <= 1.05 * newBytes + 4096, `day 2 put ${wire} bytes on the wire for ${newBytes} bytes of new blocks`)
  await until('C holds day 2 too', async () => (await B.control('replicate'))[0]?.snapshotsBehind === 0)
  // The DR site got hq's snapshots through the branch (cascade), and names hq as their origin.
  const held = (await C.control('status')).held
  assert.deepEqual(held.map((h: any) => [h.site, h.snapshots, h.self]), [['hq', 2, false]])
  assert.ok(!Number.isNaN(Date.parse(held[0].lastReceived)))
  assert.deepEqual((await A.control('status')).held.map((h: any) => [h.site, h.snapshots, h.self]), [['hq', 2, true]])

  // The head office is lost. The operator kept the store's config and key file (escrow).
  const escrow = join(base, 'escrow')
  mkdirSync(escrow)
  for (const f of ['config.json', 'keys.json']) copyFileSync(join(dirs.hq.store, f), join(escrow, f))
  await A.kill(); nodes.splice(nodes.indexOf(A), 1)
  rmSync(dirs.hq.store, { recursive: true, force: true })
  await C.stop(); nodes.splice(nodes.indexOf(C), 1)

  for (const f of ['config.json', 'keys.json']) copyFileSync(join(escrow, f), join(dirs.dr.store, f))
  const dr = await openRepository(dirs.dr.store, { passphrase: PASSPHRASE })
  try {
    const snaps = await dr.snapshots({ task: 'docs' })
    assert.equal(snaps.length, 2)
    assert.ok(snaps.some(s => s.id === day1.id))
    const target = join(base, 'restored')
    await dr.restore({ snapshot: 'latest', target })
    const restoredRoot = join(target, src.replace(/^\//, ''))
    const candidates = [join(target, 'docs', 'big.bin'), join(restoredRoot, 'docs', 'big.bin')]
    const bigPath = candidates.find(p => { try { readFileSync(p); return true } catch { return false } })
    assert.ok(bigPath !== undefined, `restored tree has docs/big.bin (looked in ${candidates.join(', ')})`)
    const dir = join(bigPath, '..', '..')
    assert.ok(readFileSync(join(dir, 'docs', 'big.bin')).equals(readFileSync(join(src, 'docs', 'big.bin'))))
    assert.ok(readFileSync(join(dir, 'notes.txt')).equals(readFileSync(join(src, 'notes.txt'))))
  } finally {
    await dr.close()
  }
})
