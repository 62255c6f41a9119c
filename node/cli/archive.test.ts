// The DR case of F20 through the real bin: back up, archive to a local folder, to S3 (s3rver,
// started here on 127.0.0.1) and to a virtual tape library; then lose the store and the node's
// device registry, add the devices again, rebuild the store from each archive with only the
// escrowed config.json and keys.json, restore, and compare byte for byte. Also: the S3 secret
// is stored encrypted and never printed; bad devices give one-line errors.
// test-suite: processes
import test, { after } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import S3rver from 's3rver'
import { initRepository } from '../../chunkstore/index.ts'
import { FAST_KDF, removeDir, runCairn, tempDir, treePrint, writeRandom } from '../../chunkstore/testing/index.ts'

const PASS = 'archive test passphrase'
const work = tempDir('cairn-archive-cli-')
const s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: join(work, 's3rver'), configureBuckets: [{ name: 'archive', configs: [] }] })
const { port } = await s3.run() as AddressInfo
after(async () => { await s3.close(); removeDir(work) })

const devices = join(work, 'node-state', 'archive-devices.json')
// s3rver checks the key id (S3RVER) but not the signature, so any secret works against it here.
const SECRET = 'distinct-secret-9fK2q'
async function cairn (args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await runCairn(args, { env: { CAIRN_PASSPHRASE: PASS, CAIRN_STORE: undefined, CAIRN_DEBUG: undefined, CAIRN_ARCHIVE_DEVICES: devices, CAIRN_S3_SECRET_KEY: undefined, ...env } })
}
async function ok (args: string[], env: Record<string, string | undefined> = {}): Promise<any> {
  const r = await cairn([...args, '--json'], env)
  assert.equal(r.code, 0, `cairn ${args.join(' ')}: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

const addDevices = async (createLibrary: boolean): Promise<void> => {
  await ok(['archive', 'device', 'add', 'nas', '--type', 'dir', '--path', join(work, 'nas')])
  await ok(['archive', 'device', 'add', 'oss', '--type', 's3', '--endpoint', `http://127.0.0.1:${port}`, '--bucket', 'archive', '--prefix', 'site-a/', '--path-style', '--access-key', 'S3RVER'], { CAIRN_S3_SECRET_KEY: SECRET })
  await ok(['archive', 'device', 'add', 'tape', '--type', 'vtl', '--path', join(work, 'vtl'), '--pool', 'CRN001L8,CRN002L8', ...(createLibrary ? ['--create-library', '4', '--capacity', '1G'] : [])])
}

test('DR from each archive device through the bin: store and node state gone, escrowed keys only, byte for byte', async () => {
  const src = join(work, 'src'); mkdirSync(join(src, 'deep', 'er'), { recursive: true })
  writeRandom(join(src, 'a.bin'), 2 << 20)
  writeRandom(join(src, 'deep', 'er', 'b.txt'), 5000)
  const store = join(work, 'store')
  await initRepository(store, { passphrase: PASS, kdf: FAST_KDF })
  assert.equal((await cairn(['backup', src, '--store', store])).code, 0)
  mkdirSync(join(work, 'nas'))
  await addDevices(true)

  // The secret is stored encrypted and never shown.
  const list = await ok(['archive', 'device', 'list'])
  assert.deepEqual(list.map((d: { name: string, hasSecret: boolean }) => [d.name, d.hasSecret]), [['nas', false], ['oss', true], ['tape', false]])
  assert.doesNotMatch(JSON.stringify(list), new RegExp(SECRET))
  assert.doesNotMatch(readFileSync(devices, 'utf8'), new RegExp(SECRET))
  const probe = await ok(['archive', 'device', 'test', 'oss'])
  assert.deepEqual([probe.objectLock, probe.blocks], [false, 0])

  // One run at a time (a run holds the store), the verifies all at once (each its own process).
  for (const name of ['nas', 'oss', 'tape']) {
    const run = await ok(['archive', 'run', '--device', name, '--store', store])
    assert.ok(run.blocksWritten > 0 && run.rootsAdded === 1, JSON.stringify(run))
  }
  await Promise.all(['nas', 'oss', 'tape'].map(async name => { assert.equal((await ok(['archive', 'verify', '--device', name])).bad.length, 0) }))
  // Each segment went whole, its bytes as they lie in the store: a pack file, an S3 object, a tar member on tape.
  const segments = readdirSync(join(store, 'segments')).filter(n => n.endsWith('.seg')).map(n => readFileSync(join(store, 'segments', n)))
  for (const [name, dir] of [['nas', 'nas'], ['oss', 's3rver'], ['tape', 'vtl']]) {
    const files = (readdirSync(join(work, dir), { recursive: true }) as string[]).map(f => join(work, dir, f)).filter(f => statSync(f).isFile()).map(f => readFileSync(f))
    for (const seg of segments) assert.ok(files.some(f => f.includes(seg)), `a segment of ${seg.length} bytes whole on ${name}`)
  }
  const again = await ok(['archive', 'run', '--device', 'oss', '--store', store])
  assert.equal(again.blocksWritten, 0, 'only what the device lacks is written')
  assert.equal((await ok(['archive', 'ls', '--device', 'tape'])).length, 1)

  // Disaster: the store and the node's state (its device registry) are gone; escrow kept the keys.
  const escrow = join(work, 'escrow'); mkdirSync(escrow)
  for (const f of ['config.json', 'keys.json']) copyFileSync(join(store, f), join(escrow, f))
  rmSync(store, { recursive: true, force: true })
  rmSync(join(work, 'node-state'), { recursive: true, force: true })
  await addDevices(false)
  await Promise.all(['nas', 'oss', 'tape'].map(async name => {
    const rebuilt = join(work, `rebuilt-${name}`)
    const r = await ok(['archive', 'restore', '--device', name, '--store', rebuilt, '--keys-from', escrow])
    assert.equal(r.snapshots, 1)
    const target = join(work, `out-${name}`)
    assert.equal((await cairn(['restore', 'latest', '--store', rebuilt, '--target', target])).code, 0)
    assert.deepEqual(treePrint(join(target, src), { contents: true }), treePrint(src, { contents: true }), name)
  }))
})

test('archive: an unknown device, a missing secret and a missing bucket are one-line errors naming what to do', async () => {
  const unknown = await cairn(['archive', 'verify', '--device', 'nope'])
  assert.equal(unknown.code, 1)
  assert.match(unknown.stderr, /^cairn: No archive device named nope\. [^\n]+\n$/)
  const noSecret = await cairn(['archive', 'device', 'add', 'x', '--type', 's3', '--bucket', 'b', '--access-key', 'k'])
  assert.equal(noSecret.code, 1)
  assert.match(noSecret.stderr, /CAIRN_S3_SECRET_KEY/)
  await ok(['archive', 'device', 'add', 'gone', '--type', 's3', '--endpoint', `http://127.0.0.1:${port}`, '--bucket', 'no-such-bucket', '--path-style', '--access-key', 'S3RVER'], { CAIRN_S3_SECRET_KEY: SECRET })
  const missing = await cairn(['archive', 'device', 'test', 'gone'])
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /^cairn: Archive device gone cannot be used: the bucket no-such-bucket does not exist[^\n]+\n$/)
  assert.doesNotMatch(missing.stderr + missing.stdout, new RegExp(SECRET))
  // A SCSI tape library whose device nodes are not on this machine (none is, here): named, with what to check.
  const nodes = [join(work, 'dev', 'sg3'), join(work, 'dev', 'nst0'), join(work, 'dev', 'nst1')]
  const added = await ok(['archive', 'device', 'add', 'lto', '--type', 'tape', '--changer', nodes[0], '--drive', nodes[1], '--drive', nodes[2], '--pool', 'CRN001L8,CRN002L8', '--record-size', '256K'])
  assert.deepEqual(added.config, { type: 'tape', changer: nodes[0], drives: nodes.slice(1), pool: ['CRN001L8', 'CRN002L8'], recordSize: 262144 })
  const absent = await cairn(['archive', 'device', 'test', 'lto'])
  assert.equal(absent.code, 1)
  assert.match(absent.stderr, new RegExp(`^cairn: Archive device lto cannot be used: there is no ${nodes.join(', ')} on this machine \\(is the library connected[^\\n]+\\n$`))
  const noDrive = await cairn(['archive', 'device', 'add', 'lto2', '--type', 'tape', '--changer', nodes[0], '--pool', 'CRN001L8'])
  assert.equal(noDrive.code, 1)
  assert.match(noDrive.stderr, /--drive \/dev\/nstN/)
})
