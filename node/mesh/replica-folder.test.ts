// What `cairn mesh run --store DIR` makes of DIR, and what the next documented command says
// about it: a new folder becomes a marked replica that `init`, `backup` and `snapshots` name as
// such (with the way out) and leave untouched; a folder of the user's is refused; a site's own
// store is served as it is; a replica given a lost site's keys reads but never changes.
import '../polyfill.ts'
import test from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { initRepository, openRepository } from '../../chunkstore/index.ts'
import { cairn as run, cliOk, startNode } from './process-harness.ts'

const PASSPHRASE = 'correct horse battery staple'
const KDF = { N: 1024, r: 8, p: 1 }

const cairn = async (args: string[]): ReturnType<typeof run> => await run(args, { CAIRN_PASSPHRASE: PASSPHRASE, CAIRN_STORE: undefined })

/** Every file below `dir` with its hash: a folder left exactly as it was compares equal. */
function fingerprint (dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (p: string): void => {
    for (const e of readdirSync(p, { withFileTypes: true })) {
      const q = join(p, e.name)
      if (e.isDirectory()) walk(q)
      else out[relative(dir, q)] = `${statSync(q).size}:${createHash('sha256').update(readFileSync(q)).digest('hex')}`
    }
  }
  walk(dir)
  return out
}

test('mesh run on a new folder makes a marked replica; init, backup and snapshots there say what it is and what to do, and change nothing', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'cairn-replica-folder-'))
  t.after(() => { rmSync(base, { recursive: true, force: true }) })
  const mesh = join(base, 'mesh')
  const replica = join(base, 'replica')
  await cliOk(['init', '--mesh-dir', mesh, '--site', 'dr-north', '--role', 'dr', '--listen', '/ip4/127.0.0.1/tcp/0'])
  const node = await startNode({ meshDir: mesh, store: replica })
  assert.equal(node.storeKind, 'created')
  // `cairn mesh stop` answers once the daemon has closed the store; the process then ends by itself.
  assert.match(await cliOk(['stop', '--mesh-dir', mesh]), /mesh daemon stopped/)
  await new Promise(resolve => { if (node.child.exitCode !== null) resolve(null); else node.child.once('exit', resolve) })
  assert.equal(node.child.exitCode, 0)
  assert.equal(JSON.parse(readFileSync(join(replica, 'replica.json'), 'utf8')).format, 'cairn-replica')

  const before = fingerprint(replica)
  const init = await cairn(['init', '--store', replica])
  assert.equal(init.code, 1)
  assert.match(init.stderr, /^cairn: .* is a mesh replica: .*"cairn init --store OTHER_FOLDER".*Nothing was changed\.\n$/)
  for (const args of [['backup', base, '--store', replica], ['snapshots', '--store', replica]]) {
    const r = await cairn(args)
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /is a mesh replica: .*no keys of this site's.*cairn init --store OTHER_FOLDER.*escrowed config\.json and keys\.json/)
  }
  assert.deepEqual(fingerprint(replica), before, 'the replica is as it was')
})

test('mesh run refuses a folder of the user\'s; serves a site\'s own store as a store', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'cairn-replica-folder-'))
  t.after(() => { rmSync(base, { recursive: true, force: true }) })
  const mesh = join(base, 'mesh')
  await cliOk(['init', '--mesh-dir', mesh, '--site', 'hq', '--role', 'head', '--listen', '/ip4/127.0.0.1/tcp/0'])
  const documents = join(base, 'documents')
  mkdirSync(documents)
  writeFileSync(join(documents, 'letter.txt'), 'dear branch office\n')
  const run = await cairn(['mesh', 'run', '--mesh-dir', mesh, '--store', documents])
  assert.equal(run.code, 1)
  assert.match(run.stderr, /documents is not empty and is neither a Cairn store nor a mesh replica; nothing was written there/)
  assert.deepEqual(readdirSync(documents), ['letter.txt'])

  const store = join(base, 'store')
  await initRepository(store, { passphrase: PASSPHRASE, kdf: KDF })
  const node = await startNode({ meshDir: mesh, store })
  try {
    assert.equal(node.storeKind, 'store')
  } finally { await node.stop() }
  assert.equal(readdirSync(store).includes('replica.json'), false, 'a site\'s store is not marked as a replica')
})

test('a replica given a lost site\'s config and keys lists its snapshots and refuses backup, forget and prune', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'cairn-replica-folder-'))
  t.after(() => { rmSync(base, { recursive: true, force: true }) })
  const site = join(base, 'site')
  await initRepository(site, { passphrase: PASSPHRASE, kdf: KDF })
  const src = join(base, 'src')
  mkdirSync(src)
  writeFileSync(join(src, 'a.txt'), 'a')
  let repo = await openRepository(site, { passphrase: PASSPHRASE })
  await repo.backup({ paths: [src], task: 'docs' })
  await repo.close()
  // The replica: the site's blocks as a mesh would have sent them, with the marker.
  const replica = join(base, 'replica')
  mkdirSync(replica)
  writeFileSync(join(replica, 'replica.json'), JSON.stringify({ format: 'cairn-replica', version: 1, created: new Date().toISOString() }))
  for (const d of ['index', 'segments']) {
    mkdirSync(join(replica, d))
    for (const f of readdirSync(join(site, d))) if (f !== 'LOCK') copyFileSync(join(site, d, f), join(replica, d, f))
  }
  for (const f of ['config.json', 'keys.json']) copyFileSync(join(site, f), join(replica, f))
  repo = await openRepository(replica, { passphrase: PASSPHRASE })
  try {
    assert.equal((await repo.snapshots()).length, 1)
    await assert.rejects(repo.backup({ paths: [src], task: 'docs' }), { name: 'SharedReplicaError' })
    await assert.rejects(repo.forget({ keepLast: 0 }), { name: 'SharedReplicaError' })
    await assert.rejects(repo.prune(), { name: 'SharedReplicaError' })
  } finally { await repo.close() }
})
