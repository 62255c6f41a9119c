// Issue 12: a repair fetches good copies from the mesh first. Site A backs up and replicates
// to site B (real `cairn mesh run` processes on 127.0.0.1); then A's index is lost and one of
// its blocks is damaged. `cairn repair index --mesh-dir` (the real binary) rebuilds the index
// from A's segments, joins the mesh as A for the repair, and fetches the damaged block from B.
// test-suite: processes
import '../polyfill.ts'
import test, { after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { closeSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalBlockStore } from '../../chunkstore/index.ts'
// The real binary with the stores' passphrase, a store with a cheap KDF, file contents.
import { cairn, createStore, dirBytes } from '../../chunkstore/testing/index.ts'
import { cliOk, startNode, until, type NodeProcess } from '../testing/index.ts'

const LISTEN = '/ip4/127.0.0.1/tcp/0'
const work = mkdtempSync(join(tmpdir(), 'cairn-mesh-repair-'))
const nodes: NodeProcess[] = []
after(async () => {
  await Promise.all(nodes.map(async n => { await n.stop() }))
  rmSync(work, { recursive: true, force: true })
})

test('repair index with --mesh-dir rebuilds from the segments and fetches a damaged block from another site', async () => {
  const a = { mesh: join(work, 'a', 'mesh'), store: join(work, 'a', 'store') }
  const b = { mesh: join(work, 'b', 'mesh'), store: join(work, 'b', 'store') }
  const src = join(work, 'src')
  mkdirSync(src)
  for (let i = 0; i < 6; i++) writeFileSync(join(src, `f${i}`), randomBytes(300_000 + i * 1000))
  await (await createStore(a.store)).close()
  const backup = await cairn(['backup', src, '--store', a.store])
  assert.equal(backup.code, 0, backup.stderr)

  await cliOk(['init', '--mesh-dir', a.mesh, '--site', 'a', '--role', 'head', '--listen', LISTEN])
  await cliOk(['policy', '--mesh-dir', a.mesh, '--copies', '2'])
  const na = await startNode({ meshDir: a.mesh, store: a.store })
  nodes.push(na)
  const invitation = (await na.control('invite', { ttlMs: 600_000 })).invitation
  await cliOk(['join', invitation, '--mesh-dir', b.mesh, '--site', 'b', '--role', 'dr', '--listen', LISTEN])
  const nb = await startNode({ meshDir: b.mesh, store: b.store })
  nodes.push(nb)
  await until('B holds A\'s snapshot', async () => {
    const [link] = await na.control('replicate')
    return link?.lastResult?.rootsAtPeer === 1 && link.blocksBehind === 0
  })
  await na.stop() // the repair needs A's store (and A's place in the mesh) to itself

  // Damage at A: the biggest block flipped, the index gone.
  const blocks = await LocalBlockStore.open(join(a.store, 'index'), join(a.store, 'segments'), { readOnly: true })
  let biggest = { segment: 0, offset: 0, length: 0 }
  for await (const e of blocks.entries()) if (e.loc.length > biggest.length) biggest = { ...e.loc }
  await blocks.close()
  const seg = join(a.store, 'segments', `${String(biggest.segment).padStart(8, '0')}.seg`)
  const fd = openSync(seg, 'r+')
  const byte = Buffer.alloc(1)
  readSync(fd, byte, 0, 1, biggest.offset + 7)
  writeSync(fd, Buffer.of(byte[0] ^ 1), 0, 1, biggest.offset + 7)
  closeSync(fd)
  rmSync(join(a.store, 'index'), { recursive: true })

  const repair = await cairn(['repair', 'index', '--store', a.store, '--mesh-dir', a.mesh])
  assert.equal(repair.code, 0, repair.stdout + repair.stderr)
  assert.match(repair.stdout, /1 block is damaged, 1 repaired from peers/)
  const check = await cairn(['check', '--read-data', '--store', a.store])
  assert.equal(check.code, 0, check.stdout)
  const out = join(work, 'out')
  assert.equal((await cairn(['restore', 'latest', '--target', out, '--store', a.store])).code, 0)
  assert.deepEqual(dirBytes(join(out, src)), dirBytes(src))
})
