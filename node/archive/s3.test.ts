// The S3 archive device against a real S3-protocol server, s3rver, started here on 127.0.0.1:
// the BlockStore conformance suite, multipart packs, and the faults an operator meets (wrong
// credentials, a missing bucket, an unreachable endpoint, a server that goes away mid-archive).
//
// CAIRN_S3_TEST_ENDPOINT (with CAIRN_S3_TEST_ACCESS_KEY and CAIRN_S3_TEST_SECRET_KEY) runs the
// same file against another S3 server on 127.0.0.1 instead: Ceph's radosgw, by hand, through
// node/bench/archive/radosgw-conformance.sh; npm test always uses s3rver. That run makes buckets
// of its own, and adds what s3rver cannot show (a wrong secret, Object Lock, conditional PUT).
// The test that stops the server mid-archive runs there only if CAIRN_S3_TEST_STOP and
// CAIRN_S3_TEST_START give shell commands that stop and start it.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { execSync } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import S3rver from 's3rver'
import { CreateBucketCommand, HeadObjectCommand, ListObjectVersionsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import type { CID } from 'multiformats/cid'
import { cidOf, type BlockStore } from '../../chunkstore/index.ts'
import { blockStoreSuite, memoryBlockStore, removeDir, tempDir } from '../../chunkstore/testing/index.ts'
import { ArchiveDeviceUnavailableError, copyBlocks, openPackBlockStore, scanPack, verifyBlocks, type S3DeviceInit, type S3Medium } from './index.ts'
import { s3Medium } from './s3-medium.ts'

const external = process.env.CAIRN_S3_TEST_ENDPOINT
// As s3-medium.ts does: the SDK's notice about Node 22 is not this test's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
const dataDir = tempDir('cairn-s3rver-')
let server: S3rver | undefined
let port = 0
const startServer = async (): Promise<void> => {
  server = new S3rver({ address: '127.0.0.1', port, silent: true, directory: dataDir, configureBuckets: [{ name: 'archive', configs: [] }] })
  port = (await server.run() as AddressInfo).port
}
if (external === undefined) await startServer()
after(async () => { await server?.close(); removeDir(dataDir); admin.destroy() })

const endpoint = external ?? `http://127.0.0.1:${port}`
const keys = external === undefined
  ? { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }
  : { accessKeyId: process.env.CAIRN_S3_TEST_ACCESS_KEY ?? '', secretAccessKey: process.env.CAIRN_S3_TEST_SECRET_KEY ?? '' }
const bucket = external === undefined ? 'archive' : `cairn-${Date.now().toString(36)}`
/** The SDK's own client, for what the test sets up or looks at behind the device's back. */
const admin = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: keys, maxAttempts: 1 })
if (external !== undefined) await admin.send(new CreateBucketCommand({ Bucket: bucket }))

let prefixes = 0
const init = (over: Partial<S3DeviceInit> = {}): S3DeviceInit => ({
  device: 'oss-1', endpoint, region: 'us-east-1', bucket, forcePathStyle: true, ...keys, prefix: `run-${++prefixes}/`, maxAttempts: 2, ...over
})

/** Flips a byte of `cid`'s copy in whichever pack holds it, by rewriting the object. */
async function corruptIn (medium: S3Medium, cid: CID): Promise<void> {
  for await (const name of medium.list('packs/')) {
    if (!name.endsWith('.pack')) continue
    const pack = Buffer.from(await medium.read(name))
    const e = scanPack(pack).find(x => Buffer.from(x.cid).equals(cid.bytes))
    if (e === undefined) continue
    pack[e.offset + (e.length >> 1)] ^= 0xff
    await medium.write(name, pack)
  }
}

blockStoreSuite({
  name: `archive device: S3 (${external ?? 's3rver on 127.0.0.1'})`,
  async open () {
    const i = init()
    const medium = s3Medium(i)
    let store = await openPackBlockStore(medium, { packSize: 64 << 10 })
    return {
      store,
      reopen: async () => { store = await openPackBlockStore(s3Medium(i), { packSize: 64 << 10 }); return store },
      corrupt: async cid => { await corruptIn(medium, cid) },
      close: async () => { medium.close() }
    }
  }
})

const blocks = (n: number, size: number): Array<{ cid: CID, bytes: Uint8Array }> => Array.from({ length: n }, () => { const bytes = randomBytes(size); return { cid: cidOf(bytes), bytes } })
const storeOf = async (list: Array<{ cid: CID, bytes: Uint8Array }>): Promise<BlockStore> => {
  const s = memoryBlockStore()
  for (const b of list) await s.put(b.cid, b.bytes)
  return s
}

test('S3: large packs go as multipart uploads and read back; the bucket reports no Object Lock', async () => {
  const i = init({ multipartFrom: 5 << 20, partConcurrency: 2 })
  const medium = s3Medium(i)
  try {
    assert.deepEqual(await medium.probe(), { objectLock: false })
    const some = blocks(12, 1 << 20)
    const r = await copyBlocks(await storeOf(some), await openPackBlockStore(medium, { packSize: (6 << 20) + 4096 }))
    assert.equal(r.blocksWritten, 12)
    let packs = 0
    for await (const n of medium.list('packs/')) if (n.endsWith('.pack')) packs++
    assert.equal(packs, 2)
    const v = await verifyBlocks(await openPackBlockStore(s3Medium(i)))
    assert.deepEqual({ blocks: v.blocks, bad: v.bad }, { blocks: 12, bad: [] })
  } finally { medium.close() }
})

test('S3: wrong credentials, a missing bucket and an unreachable endpoint are each named', async () => {
  const expect = async (i: S3DeviceInit, words: RegExp): Promise<void> => {
    const m = s3Medium(i)
    try {
      await assert.rejects(m.probe(), (err: Error) => err instanceof ArchiveDeviceUnavailableError && err.message.includes('oss-1') && words.test(err.message))
    } finally { m.close() }
  }
  // s3rver checks the access key id but not the signature: a wrong secret is tried only on the
  // other server (the same 403 path as an unknown key).
  await expect(init({ accessKeyId: 'NOBODY' }), /refused the access key/)
  if (external !== undefined) await expect(init({ secretAccessKey: 'not-the-secret' }), /refused the access key/)
  await expect(init({ bucket: 'no-such-bucket' }), /does not exist/)
  await expect(init({ endpoint: 'http://127.0.0.1:1', maxAttempts: 1 }), /cannot be reached/)
})

/** Stops and starts the server under test: s3rver, started here, or the other one through its commands. */
const serverControl = external === undefined
  ? { stop: async () => { await server!.close() }, start: startServer }
  : process.env.CAIRN_S3_TEST_STOP !== undefined && process.env.CAIRN_S3_TEST_START !== undefined
    ? { stop: async () => { execSync(process.env.CAIRN_S3_TEST_STOP!, { stdio: 'inherit' }) }, start: async () => { execSync(process.env.CAIRN_S3_TEST_START!, { stdio: 'inherit' }) } }
    : undefined
if (serverControl !== undefined) {
  test('S3: a server that goes away mid-archive fails the run with the device named; a rerun completes it', async () => {
    const i = init()
    const first = blocks(20, 30_000)
    const rest = blocks(20, 30_000)
    const m1 = s3Medium(i)
    await copyBlocks(await storeOf(first), await openPackBlockStore(m1, { packSize: 100_000 }))
    m1.close()
    const device = await openPackBlockStore(s3Medium(i), { packSize: 100_000 })
    await serverControl.stop()
    await assert.rejects(copyBlocks(await storeOf([...first, ...rest]), device), (err: Error) => err instanceof ArchiveDeviceUnavailableError && err.message.includes('oss-1'))
    await serverControl.start()
    const m2 = s3Medium(i)
    try {
      const again = await copyBlocks(await storeOf([...first, ...rest]), await openPackBlockStore(m2, { packSize: 100_000 }))
      assert.equal(again.blocksPresent, first.length)
      assert.equal(again.blocksWritten, rest.length)
      assert.equal((await verifyBlocks(await openPackBlockStore(m2))).bad.length, 0)
    } finally { m2.close() }
  })
}

test('S3: an expired set\'s objects are deleted, what a set in force needs stays; an object under lock is left alone and the set kept', async () => {
  const i = init()
  const medium = s3Medium(i)
  try {
    const own = blocks(6, 30_000)
    const shared = blocks(3, 30_000)
    const later = blocks(3, 30_000)
    const a = await storeOf([...own, ...shared])
    await a.addSnapshotRoot(own[0].cid)
    const device = await openPackBlockStore(medium, { packSize: 100_000 })
    await copyBlocks(a, device)
    await device.addSet({ id: 'a', createdAt: '2026-01-01T00:00:00Z', expiresAt: '2026-02-01T00:00:00Z', roots: [own[0].cid], blocks: [...own, ...shared].map(b => b.cid) })
    await copyBlocks(await storeOf([...shared, ...later]), device)
    await device.addSet({ id: 'b', createdAt: '2026-01-02T00:00:00Z', roots: [], blocks: [...shared, ...later].map(b => b.cid) })
    const objects = async (): Promise<string[]> => { const out = []; for await (const n of medium.list('')) out.push(n); return out.sort() }
    const before = await objects()

    // s3rver has no Object Lock: a medium that answers as a locked bucket does stands in for
    // one (the real check, HeadObject's retain-until date, needs a server with Object Lock).
    const locked = { ...medium, remove: async () => 'locked' as const }
    const held = await (await openPackBlockStore(locked)).expire(new Date('2026-03-01T00:00:00Z'))
    assert.deepEqual({ sets: held.sets, packs: held.packs, kept: held.kept.map(k => k.set) }, { sets: [], packs: 0, kept: ['a'] })
    assert.match(held.kept[0].reason, /Object Lock.*oss-1/)
    assert.deepEqual(await objects(), before)

    // A snapshot archived without a set (cairn archive run) needs blocks no set names: nothing expires.
    const stray = await openPackBlockStore(medium)
    await stray.addSnapshotRoot(later[0].cid)
    await stray.flush()
    const unknown = await (await openPackBlockStore(medium)).expire(new Date('2026-03-01T00:00:00Z'))
    assert.deepEqual({ sets: unknown.sets, packs: unknown.packs, kept: unknown.kept.map(k => k.set) }, { sets: [], packs: 0, kept: ['a'] })
    assert.match(unknown.kept[0].reason, /without a set record/)
    await medium.remove!(`roots/${later[0].cid.toString()}.json`)

    const out = await (await openPackBlockStore(medium)).expire(new Date('2026-03-01T00:00:00Z'))
    assert.deepEqual({ sets: out.sets, roots: out.roots }, { sets: ['a'], roots: 1 })
    assert.ok(out.packs >= 1, JSON.stringify(out))
    const after = await objects()
    assert.equal(after.length, before.length - 2 * out.packs - 2, 'its packs and catalogues, its root and its set record')
    const left = await openPackBlockStore(medium)
    assert.deepEqual(await left.hasMany([...shared, ...later].map(b => b.cid)), Array(6).fill(true))
    assert.ok((await left.hasMany(own.map(b => b.cid))).some(h => !h))
    assert.deepEqual(await left.snapshotRoots(), [])
    assert.equal((await verifyBlocks(left)).bad.length, 0)
  } finally { medium.close() }
})

// What s3rver cannot show, on the other server only (it has neither Object Lock nor conditional writes).
if (external !== undefined) {
  test('S3 Object Lock: the device reports it and sets a retention, also on a multipart pack; a locked object is left alone, one out of retention goes with every version', async () => {
    const locked = `${bucket}-lock`
    await admin.send(new CreateBucketCommand({ Bucket: locked, ObjectLockEnabledForBucket: true }))
    const i = init({ bucket: locked, retentionDays: 1, multipartFrom: 5 << 20 })
    const medium = s3Medium(i)
    try {
      assert.deepEqual(await medium.probe(), { objectLock: true })
      await copyBlocks(await storeOf([...blocks(6, 1 << 20), ...blocks(4, 30_000)]), await openPackBlockStore(medium, { packSize: (6 << 20) + 4096 }))
      const names: string[] = []
      for await (const n of medium.list('')) names.push(n)
      assert.ok(names.some(n => n.endsWith('.pack')))
      for (const n of names) {
        const head = await admin.send(new HeadObjectCommand({ Bucket: locked, Key: i.prefix + n }))
        assert.equal(head.ObjectLockMode, 'GOVERNANCE', n)
        const days = (head.ObjectLockRetainUntilDate!.getTime() - Date.now()) / 86_400_000
        assert.ok(days > 0.9 && days <= 1, `${n}: retained ${days} days`)
      }
      assert.equal(await medium.remove!(names[0]), 'locked')
      assert.ok((await medium.read(names[0])).length > 0)
      assert.equal((await verifyBlocks(await openPackBlockStore(s3Medium(i)))).bad.length, 0)

      // Written twice (a second version) without a retention: both versions go, no delete marker stays behind.
      const free = s3Medium({ ...i, retentionDays: undefined })
      try {
        await free.write('loose/a', randomBytes(100))
        await free.write('loose/a', randomBytes(100))
        assert.equal(await free.remove!('loose/a'), 'removed')
        const v = await admin.send(new ListObjectVersionsCommand({ Bucket: locked, Prefix: i.prefix + 'loose/' }))
        assert.deepEqual({ versions: v.Versions ?? [], markers: v.DeleteMarkers ?? [] }, { versions: [], markers: [] })
        assert.equal(await free.remove!('loose/absent'), 'removed')
      } finally { free.close() }
    } finally { medium.close() }
  })

  test('S3 conditional PUT: If-None-Match: * writes a new name and refuses an existing one with 412', async () => {
    const Key = `cond-${randomBytes(4).toString('hex')}`
    await admin.send(new PutObjectCommand({ Bucket: bucket, Key, Body: randomBytes(10), IfNoneMatch: '*' }))
    await assert.rejects(admin.send(new PutObjectCommand({ Bucket: bucket, Key, Body: randomBytes(10), IfNoneMatch: '*' })), (err: Error & { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode === 412)
  })
}
