// `cairn repair manifests` and `cairn repair index` at a replica through the bin (issue 18): a
// snapshot listed without a manifest (as one made before manifests existed) gets one, marked
// late, once; a replica folder's index is not rebuilt without the mesh folder whose key signed
// its lock records.
// test-suite: processes
import test, { after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { initRepository, LocalBlockStore, openRepository } from '../../chunkstore/index.ts'
import { runCairn } from '../../chunkstore/testing/index.ts'

const PASS = 'repair manifests passphrase'
const work = mkdtempSync(join(tmpdir(), 'cairn-repair-manifests-'))
after(() => rmSync(work, { recursive: true, force: true }))
const cairn = async (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> => await runCairn(args, { env: { CAIRN_PASSPHRASE: PASS, CAIRN_STORE: undefined, CAIRN_DEBUG: undefined } })

test('cairn repair manifests writes the manifest of a snapshot listed without one, once; repair index at a replica asks for --mesh-dir', async () => {
  const store = join(work, 'store')
  const src = join(work, 'src')
  mkdirSync(src)
  writeFileSync(join(src, 'a.bin'), randomBytes(100_000))
  await initRepository(store, { passphrase: PASS, kdf: { N: 1024, r: 8, p: 1 } })
  const repo = await openRepository(store, { passphrase: PASS })
  const id = (await repo.backup({ paths: [src], task: 't' })).id
  const pages = (await repo.blocks.manifestPages(CID.parse(id)))!.map(String)
  await repo.blocks.db.del(Buffer.concat([Buffer.from('p'), CID.parse(id).bytes]))
  await repo.close()

  const first = await cairn(['repair', 'manifests', '--store', store, '--json'])
  assert.equal(first.code, 0, first.stderr)
  assert.deepEqual(JSON.parse(first.stdout), { written: [id], failed: [] })
  const again = await cairn(['repair', 'manifests', '--store', store])
  assert.equal(again.code, 0, again.stderr)
  assert.match(again.stdout, /every snapshot has its manifest/)
  const back = await openRepository(store, { passphrase: PASS, readOnly: true })
  try {
    assert.deepEqual((await back.blocks.manifestPages(CID.parse(id)))!.map(String), pages, 'the pages its backup wrote')
    assert.deepEqual((await back.blocks.lateManifests()).map(String), [id])
  } finally {
    await back.close()
  }

  const replica = join(work, 'replica')
  await (await LocalBlockStore.open(join(replica, 'index'), join(replica, 'segments'))).close()
  const refused = await cairn(['repair', 'index', '--store', replica])
  assert.equal(refused.code, 1)
  assert.match(refused.stderr, /is a mesh replica: pass --mesh-dir/)
})
