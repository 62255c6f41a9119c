// Retention at a replica (replica-retention.ts; doc/mesh.md "Retention at replicas") on real
// LevelDB stores: signed roots, releases, locks on an accelerated clock, GC that frees exactly
// what no kept snapshot of any origin lists, and what a hostile member cannot make it do.
import test, { after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { createReplicaRetention } from './replica-retention.ts'
import { LOCK_FOREVER } from './chunk-wire.ts'
import { createRetentionSource } from './retention-source.ts'
import { adminReleaseBlock, adminReleaseMessage, signRelease } from './snapshot-manifest.ts'
import { X509Certificate } from 'node:crypto'
import { withTokenSession } from '../crypto/index.ts'
import { createOperatorToken, createSoftHsm } from '../crypto/testing/index.ts'
import { Status } from './chunk-wire.ts'
import { cidOf, decodeManifestPage, LocalBlockStore, repairReplicaIndex, type LocalRepository } from '../chunkstore/index.ts'
import { signLockRecord } from './lock-record.ts'
import { readPemFile, RELEASE_ADMINS_FILE } from './admin-release.ts'
import { rebuildReplicaRetention } from './replica-rebuild.ts'
import { createStore, removeDir, tempDir } from '../chunkstore/testing/index.ts'
import type { PrivateKey } from '@libp2p/interface'

const MESH = '12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5'
const DAY = 86_400_000
const dirs: string[] = []
after(() => { for (const d of dirs) removeDir(d) })

interface World {
  origin: LocalRepository
  replica: LocalBlockStore
  src: string
  close: () => Promise<void>
}

async function world (): Promise<World> {
  const base = tempDir('cairn-retention-'); dirs.push(base)
  const src = join(base, 'src')
  mkdirSync(src)
  writeFileSync(join(src, 'kept.bin'), randomBytes(200_000))
  const origin = await createStore(join(base, 'origin'))
  const replica = await LocalBlockStore.open(join(base, 'replica', 'index'), join(base, 'replica', 'segments'))
  return { origin, replica, src, close: async () => { await origin.close(); await replica.close() } }
}

/** A new snapshot at the origin (one file changes each time). */
async function backup (w: World): Promise<CID> {
  writeFileSync(join(w.src, 'daily.bin'), randomBytes(100_000))
  return CID.parse((await w.origin.backup({ paths: [w.src], task: 't' })).id)
}

/** What a replication run puts at the replica before it lists roots: every block the origin holds. */
async function copyBlocks (w: World): Promise<void> {
  const blocks: Array<{ cid: CID, bytes: Uint8Array }> = []
  for await (const cid of w.origin.blocks.cids()) blocks.push({ cid, bytes: await w.origin.blocks.get(cid) })
  await w.replica.putMany(blocks)
  await w.replica.flush()
}

/** The origin's signed head for `root`, stored at the replica; its CID. */
async function sendHead (w: World, key: PrivateKey, root: CID): Promise<CID> {
  const head = await createRetentionSource({ stores: () => [w.origin.blocks], key, mesh: MESH }).headFor(root)
  assert.ok(head !== undefined)
  await w.replica.put(head.cid, head.bytes)
  return head.cid
}

async function sendRelease (w: World, key: PrivateKey, root: CID, issued = new Date().toISOString()): Promise<CID> {
  const bytes = await signRelease(key, { mesh: MESH, root: root.toString(), issued })
  const cid = cidOf(bytes)
  await w.replica.put(cid, bytes)
  return cid
}

async function listed (store: LocalBlockStore, root: CID): Promise<Set<string>> {
  const out = new Set<string>()
  for (const p of await store.manifestPages(root) ?? []) for (const e of decodeManifestPage(await store.get(p))) out.add(CID.decode(e.cid).toString())
  return out
}

async function stored (store: LocalBlockStore): Promise<Set<string>> {
  const out = new Set<string>()
  for await (const c of store.cids()) out.add(c.toString())
  return out
}

test('only the origin\'s key lists, releases or re-attributes its snapshot; a root is listed only whole', async () => {
  const w = await world()
  try {
    const hq = await generateKeyPair('Ed25519')
    const thief = await generateKeyPair('Ed25519')
    const r = createReplicaRetention({ store: w.replica, mesh: MESH })
    const s1 = await backup(w)
    const head = await sendHead(w, hq, s1)
    assert.equal((await r.addSignedRoot(s1, head, 0)).status, Status.INCOMPLETE, 'the head is there but none of the blocks')
    assert.equal((await r.addSignedRoot(s1, cidOf(randomBytes(10)), 0)).status, Status.NOT_FOUND, 'no head')
    // Blocks missing: refused INCOMPLETE, nothing listed.
    const blocks: Array<{ cid: CID, bytes: Uint8Array }> = []
    for await (const cid of w.origin.blocks.cids()) if (!cid.equals(s1)) blocks.push({ cid, bytes: await w.origin.blocks.get(cid) })
    await w.replica.putMany(blocks.slice(1))
    const record = await w.origin.blocks.get(s1)
    await w.replica.put(s1, record)
    assert.equal((await r.addSignedRoot(s1, head, 0)).status, Status.INCOMPLETE)
    assert.deepEqual(await w.replica.snapshotRoots(), [])
    await copyBlocks(w)
    const ok = await r.addSignedRoot(s1, head, 0)
    assert.deepEqual(ok, { status: Status.OK, origin: peerIdFromPrivateKey(hq).toString() })

    // A head signed by another key for the same root: refused, the first stays.
    const other = await sendHead(w, thief, s1)
    assert.equal((await r.addSignedRoot(s1, other, 0)).status, Status.REFUSED)
    // A forged head (the thief's signature over hq's name) and a forged release: BAD_SIGNATURE.
    const forged = JSON.parse(Buffer.from(await w.replica.get(head)).toString())
    forged.blocks += 1
    const forgedBytes = Buffer.from(JSON.stringify(forged))
    await w.replica.put(cidOf(forgedBytes), forgedBytes)
    assert.equal((await r.addSignedRoot(s1, cidOf(forgedBytes), 0)).status, Status.BAD_SIGNATURE)
    const real = JSON.parse(Buffer.from(await w.replica.get(await sendRelease(w, hq, s1))).toString())
    const fake = Buffer.from(JSON.stringify({ ...real, sig: JSON.parse(Buffer.from(await w.replica.get(await sendRelease(w, thief, s1))).toString()).sig }))
    await w.replica.put(cidOf(fake), fake)
    assert.equal(await r.release(cidOf(fake)), Status.BAD_SIGNATURE)
    // The thief's own release of hq's snapshot verifies, but it is not the origin: refused.
    assert.equal(await r.release(await sendRelease(w, thief, s1)), Status.REFUSED)
    assert.deepEqual(await w.replica.releases(), [])
    assert.equal((await r.gc()).dropped.length, 0)
    assert.ok((await stored(w.replica)).has(s1.toString()))
  } finally {
    await w.close()
  }
})

test('a lock fixed at receipt holds whatever the origin says; it only grows; GC then frees what no kept snapshot of any origin lists', async () => {
  const w = await world()
  try {
    let now = Date.parse('2026-12-01T00:00:00Z')
    const hq = await generateKeyPair('Ed25519')
    const branch = await generateKeyPair('Ed25519')
    const r = createReplicaRetention({ store: w.replica, mesh: MESH, now: () => now, floorDays: () => 14 })
    // hq's day 1, and a snapshot of the branch's that shares blocks with it (the unchanged file).
    const s1 = await backup(w)
    const s2 = await backup(w)
    await copyBlocks(w)
    assert.equal((await r.addSignedRoot(s1, await sendHead(w, hq, s1), 30)).status, Status.OK)
    assert.equal((await r.addSignedRoot(s2, await sendHead(w, branch, s2), 0)).status, Status.OK)
    const head1 = (await w.replica.retention(s1))!.head
    const head2 = (await w.replica.retention(s2))!.head
    const withPages = async (root: CID, head: string): Promise<Set<string>> => new Set([...await listed(w.origin.blocks, root), ...(await w.origin.blocks.manifestPages(root))!.map(String), head])
    const all1 = await withPages(s1, head1)
    const all2 = await withPages(s2, head2)
    const only1 = [...all1].filter(c => !all2.has(c))
    assert.ok([...all1].some(c => all2.has(c)), 'the two snapshots share blocks')

    // hq (or a thief with its key) releases day 1 at once: it stays for its 30 days.
    assert.equal(await r.release(await sendRelease(w, hq, s1)), Status.OK)
    assert.deepEqual((await r.gc()).dropped, [])
    // Asked again with no lock, the lock does not shrink.
    assert.equal((await r.addSignedRoot(s1, CID.parse(head1), 0)).status, Status.OK)
    const lock1 = (await r.locks()).find(l => l.root === s1.toString())!
    assert.equal(lock1.lockedUntil, new Date(now + 30 * DAY).toISOString())
    assert.equal(lock1.released, true)
    assert.equal(lock1.droppable, false)
    assert.equal((await r.locks()).find(l => l.root === s2.toString())!.lockedUntil, new Date(now + 14 * DAY).toISOString(), 'the replica\'s floor, not the 0 days asked')
    // Space: nothing releasable now; day 1's own blocks become releasable when its lock ends.
    const sizeOf = async (cids: string[]): Promise<number> => (await w.replica.sizes(cids.map(c => CID.parse(c)))).reduce((n: number, x) => n + (x ?? 0), 0)
    const space = (await r.space()).find(o => o.origin === peerIdFromPrivateKey(hq).toString())!
    assert.equal(space.releasableNow, 0)
    assert.deepEqual(space.nextRelease, { at: new Date(now + 30 * DAY).toISOString(), bytes: await sizeOf(only1) })
    assert.equal(space.held, await sizeOf([...all1]))
    const start = now
    now = start + 29 * DAY
    assert.deepEqual((await r.gc()).dropped, [])
    now = start + 31 * DAY
    assert.equal((await r.space()).find(o => o.origin === peerIdFromPrivateKey(hq).toString())!.releasableNow, await sizeOf(only1))
    const before = await stored(w.replica)
    const gc = await r.gc()
    assert.deepEqual(gc.dropped, [s1.toString()])
    const after = await stored(w.replica)
    assert.equal(gc.blocksFreed, only1.length)
    assert.deepEqual([...before].filter(c => !after.has(c)).sort(), [...only1].sort(), 'exactly day 1\'s blocks that the branch\'s snapshot does not list')
    for (const c of all2) assert.ok(after.has(c), 'the other origin\'s snapshot keeps every block')
    assert.deepEqual(await w.replica.snapshotRoots(), [s2])

    // A GC killed after its sweep, before it unlisted the root: the next one finishes.
    await w.replica.addSnapshotRoot(s1, { site: peerIdFromPrivateKey(hq).toString(), received: new Date(start).toISOString() })
    await w.replica.setRetention(s1, { head: head1, origin: peerIdFromPrivateKey(hq).toString(), received: new Date(start).toISOString(), lockedUntil: new Date(start + 30 * DAY).toISOString(), dropping: true })
    // Space asked while a GC unlists that root (status asks at any time): the store's list read
    // first has it, the one read next no longer does. The root is left out, nothing throws.
    const retentions = w.replica.retentions.bind(w.replica)
    let reads = 0
    w.replica.retentions = async () => { const all = await retentions(); return reads++ === 0 ? all : all.filter(x => !x.root.equals(s1)) }
    try {
      assert.equal((await r.space()).find(o => o.origin === peerIdFromPrivateKey(hq).toString()), undefined)
    } finally { w.replica.retentions = retentions }
    const again = await r.gc()
    assert.deepEqual(again.dropped, [s1.toString()])
    assert.equal(again.blocksFreed, 0)
    assert.deepEqual(await w.replica.snapshotRoots(), [s2])

    // Forever: ten years later, still kept.
    const s3 = await backup(w)
    await copyBlocks(w)
    assert.equal((await r.addSignedRoot(s3, await sendHead(w, hq, s3), LOCK_FOREVER)).status, Status.OK)
    assert.equal(await r.release(await sendRelease(w, hq, s3)), Status.OK)
    now += 3650 * DAY
    assert.deepEqual((await r.gc()).dropped, [])
    assert.equal((await r.locks()).find(l => l.root === s3.toString())!.lockedUntil, 'forever')

    // A root listed without a manifest (sent before manifests existed): its blocks are not
    // known, so nothing is freed while it is kept, even what may be dropped.
    assert.equal(await r.release(await sendRelease(w, branch, s2)), Status.OK)
    const s4 = await backup(w)
    await copyBlocks(w)
    await w.replica.addSnapshotRoot(s4, { site: peerIdFromPrivateKey(hq).toString(), received: new Date(now).toISOString() })
    const held = await r.gc()
    assert.deepEqual(held.dropped, [])
    assert.deepEqual(held.blockedBy.map(b => b.root), [s4.toString()])
    assert.ok((await stored(w.replica)).has(s2.toString()))
  } finally {
    await w.close()
  }
})

test('a quota per origin refuses a new snapshot at its offer, before its blocks travel, and says so once', async () => {
  const w = await world()
  try {
    const hq = await generateKeyPair('Ed25519')
    const refusals: unknown[] = []
    let quota: number | undefined
    const r = createReplicaRetention({ store: w.replica, mesh: MESH, quotaBytes: () => quota, onQuotaRefused: e => { refusals.push(e) } })
    const s1 = await backup(w)
    await copyBlocks(w)
    const head1 = await sendHead(w, hq, s1)
    assert.equal(await r.offer(s1, head1, 'peer'), Status.OK, 'no quota: any size')
    assert.equal((await r.addSignedRoot(s1, head1, 0)).status, Status.OK)
    const held = (await r.space())[0].held
    // Day 2: its head and pages only, as a sender sends them before OFFER_ROOT.
    const s2 = await backup(w)
    const source = createRetentionSource({ stores: () => [w.origin.blocks], key: hq, mesh: MESH })
    const head2 = (await source.headFor(s2))!
    await w.replica.put(head2.cid, head2.bytes)
    quota = held + 1000
    assert.equal(await r.offer(s2, head2.cid, 'peer'), Status.NOT_FOUND, 'its pages are not here yet')
    for (const p of (await w.origin.blocks.manifestPages(s2))!) await w.replica.put(p, await w.origin.blocks.get(p))
    assert.equal(await r.offer(s2, head2.cid, 'peer'), Status.QUOTA)
    assert.equal(refusals.length, 1)
    const e = refusals[0] as { origin: string, held: number, adding: number, quota: number }
    assert.equal(e.origin, peerIdFromPrivateKey(hq).toString())
    assert.equal(e.held, held)
    assert.ok(e.adding > 100_000, 'the new file\'s blocks count, the shared ones do not')
    quota = held + e.adding
    assert.equal(await r.offer(s2, head2.cid, 'peer'), Status.OK, 'exactly at the quota is allowed')

    // An offer's work does not grow with what the replica holds (issue 21): it reads the new
    // root's head and pages and its origin's total from the index, never the held manifests
    // (which it used to read, decode and keep in memory, all of them, and walk at each offer).
    const get = w.replica.get.bind(w.replica)
    let reads = 0
    w.replica.get = async (...args) => { reads++; return await get(...args) }
    const offerReads = async (): Promise<number> => {
      const s = await backup(w)
      const head = await sendHead(w, hq, s)
      for (const p of (await w.origin.blocks.manifestPages(s))!) await w.replica.put(p, await w.origin.blocks.get(p))
      quota = (await r.space())[0].held // full: the new file's blocks would pass it
      // As the first offer after the node starts (nothing of the held manifests in memory).
      const started = createReplicaRetention({ store: w.replica, mesh: MESH, quotaBytes: () => quota })
      reads = 0
      assert.equal(await started.offer(s, head, 'peer'), Status.QUOTA)
      const during = reads
      await copyBlocks(w)
      assert.equal((await r.addSignedRoot(s, head, 0)).status, Status.OK)
      return during
    }
    const first = await offerReads()
    for (let i = 0; i < 3; i++) await offerReads()
    assert.equal(await offerReads(), first, 'the same reads with six snapshots held as with two')
    w.replica.get = get
    const named = new Set<string>()
    for (const { root, retention: x } of await w.replica.retentions()) {
      for (const c of [...await listed(w.origin.blocks, root), ...(await w.origin.blocks.manifestPages(root))!.map(String), x.head]) named.add(c)
    }
    const namedBytes = (await w.replica.sizes([...named].map(c => CID.parse(c)))).reduce((n: number, x) => n + (x ?? 0), 0)
    assert.equal((await r.space())[0].held, namedBytes, 'held: the distinct blocks its snapshots name, each once')

    // A replica of an older version kept no totals: they are counted once, then read.
    for (const p of ['c', 'h', 'u']) await w.replica.db.clear({ gte: Buffer.from(p), lt: Buffer.from(String.fromCharCode(p.charCodeAt(0) + 1)) })
    reads = 0
    w.replica.get = async (...args) => { reads++; return await get(...args) }
    assert.equal((await createReplicaRetention({ store: w.replica, mesh: MESH }).space())[0].held, namedBytes)
    assert.ok(reads > 0)
    reads = 0
    assert.equal((await createReplicaRetention({ store: w.replica, mesh: MESH }).space())[0].held, namedBytes)
    assert.equal(reads, 0, 'counted once, then stored')
    w.replica.get = get
  } finally {
    await w.close()
  }
})

test('an administrator\'s USB-key release ends a lock early at the replica that trusts its certificate; a forged or untrusted one changes nothing', async () => {
  const hsm = createSoftHsm()
  const w = await world()
  try {
    const op = createOperatorToken(hsm)
    const other = createOperatorToken(hsm, { tokenLabel: 'someone-else', pin: '4321' })
    const hq = await generateKeyPair('Ed25519')
    const r = createReplicaRetention({ store: w.replica, mesh: MESH })
    const s1 = await backup(w)
    await copyBlocks(w)
    assert.equal((await r.addSignedRoot(s1, await sendHead(w, hq, s1), LOCK_FOREVER)).status, Status.OK)
    const certDer = (pem: string): string => new X509Certificate(pem).raw.toString('base64')
    const sign = (token: { tokenLabel: string, pin: string }, key: string, body: Parameters<typeof adminReleaseMessage>[0]): Uint8Array =>
      adminReleaseBlock(body, withTokenSession({ modulePath: hsm.modulePath, tokenLabel: token.tokenLabel, pin: token.pin }, s => s.sign({ label: key }, adminReleaseMessage(body))))
    const body = { mesh: MESH, root: s1.toString(), issued: new Date().toISOString(), reason: 'ransomware clean-up, ticket 4711', cert: certDer(op.ec.certificatePem) }
    const trusted = [op.ec.certificatePem]

    // Signed by another token's key while naming the trusted certificate: refused.
    await assert.rejects(r.adminRelease(sign(other, other.ec.label, body), trusted), /signature is not the certificate/)
    // A release carrying a certificate this replica does not trust: refused.
    const untrusted = { ...body, cert: certDer(other.ec.certificatePem) }
    await assert.rejects(r.adminRelease(sign(other, other.ec.label, untrusted), trusted), /not one this replica trusts/)
    // Without a reason: refused.
    await assert.rejects(r.adminRelease(sign(op, op.ec.label, { ...body, reason: ' ' }), trusted), /needs a reason/)
    assert.deepEqual((await r.gc()).dropped, [], 'locked forever, and nothing valid ended it')

    // The administrator's token (EC P-256), trusted here (as `cairn mesh run` reads its mesh folder's release-admins.pem): the lock ends at once.
    const pemFile = join(w.src, '..', RELEASE_ADMINS_FILE)
    writeFileSync(pemFile, `# admins\n${other.rsa.certificatePem}\n${op.ec.certificatePem}`)
    assert.deepEqual(readPemFile(pemFile).map(p => new X509Certificate(p).fingerprint256), [other.rsa.certificatePem, op.ec.certificatePem].map(p => new X509Certificate(p).fingerprint256))
    assert.deepEqual(readPemFile(join(w.src, 'none.pem')), [], 'no file: nobody trusted')
    const done = await r.adminRelease(sign(op, op.ec.label, body), readPemFile(pemFile))
    assert.equal(done.root, s1.toString())
    assert.equal(done.reason, body.reason)
    assert.match(done.subject, /CN=/)
    assert.equal(done.origin, peerIdFromPrivateKey(hq).toString())
    assert.ok((await r.locks())[0].droppable)
    assert.deepEqual((await r.gc()).dropped, [s1.toString()])
    assert.ok(!(await stored(w.replica)).has(s1.toString()))
  } finally {
    await w.close()
    hsm.dispose()
  }
})

test('repair index at a replica brings its roots, locks, releases and space back identical from its signed lock records; forged records change nothing', async () => {
  const w = await world()
  let replica = w.replica
  try {
    let now = Date.parse('2026-12-01T00:00:00Z')
    const hq = await generateKeyPair('Ed25519')
    const branch = await generateKeyPair('Ed25519')
    const self = await generateKeyPair('Ed25519')
    const retention = (store: LocalBlockStore): ReturnType<typeof createReplicaRetention> => createReplicaRetention({ store, mesh: MESH, now: () => now, floorDays: () => 7, key: self })
    let r = retention(replica)
    const s1 = await backup(w)
    const s2 = await backup(w)
    const s3 = await backup(w)
    await copyBlocks(w)
    assert.equal((await r.addSignedRoot(s1, await sendHead(w, hq, s1), 30)).status, Status.OK)
    assert.equal((await r.addSignedRoot(s2, await sendHead(w, branch, s2), LOCK_FOREVER)).status, Status.OK)
    assert.equal((await r.addSignedRoot(s3, await sendHead(w, hq, s3), 0)).status, Status.OK)
    now += DAY
    // s1's lock lengthened (a second record), s1 released while locked, s3 released and dropped.
    assert.equal((await r.addSignedRoot(s1, CID.parse((await replica.retention(s1))!.head), 45)).status, Status.OK)
    assert.equal(await r.release(await sendRelease(w, hq, s1)), Status.OK)
    assert.equal(await r.release(await sendRelease(w, hq, s3)), Status.OK)
    now += 8 * DAY
    assert.deepEqual((await r.gc()).dropped, [s3.toString()])
    // Forged lock records a peer could PUT: s1's lock ended, signed by another key, or altered.
    const forged = await signLockRecord(hq, MESH, s1.toString(), { ...(await replica.retention(s1))!, lockedUntil: new Date(0).toISOString() })
    const mine = JSON.parse(new TextDecoder().decode(await replica.get(CID.parse((await replica.retention(s2))!.record!))))
    const altered = new TextEncoder().encode(JSON.stringify({ ...mine, lockedUntil: new Date(0).toISOString() }))
    for (const bytes of [forged, altered]) await replica.put(cidOf(bytes), bytes)
    await replica.flush()

    const state = async (store: LocalBlockStore, rr: typeof r): Promise<unknown> => ({
      locks: (await rr.locks()).sort((a, b) => a.root.localeCompare(b.root)),
      space: (await rr.space()).sort((a, b) => a.origin.localeCompare(b.origin)),
      releases: (await store.releases()).map(x => [x.root.toString(), x.release.toString()]).sort(),
      roots: (await store.snapshotRootOrigins()).map(x => [x.cid.toString(), x.origin]).sort()
    })
    const before = await state(replica, r)
    assert.equal((before as any).locks.length, 2)

    await replica.close()
    const dir = join(w.src, '..', 'replica')
    rmSync(join(dir, 'index'), { recursive: true, force: true })
    const rebuilt = await repairReplicaIndex(dir)
    replica = await LocalBlockStore.open(join(dir, 'index'), join(dir, 'segments'))
    assert.deepEqual((await replica.retentions()).length, 0, 'the block index alone lists no lock')
    const back = await rebuildReplicaRetention(replica, { mesh: MESH, replica: peerIdFromPrivateKey(self).toString(), now }, rebuilt.plain)
    r = retention(replica)
    assert.deepEqual(back.roots.sort(), [s1.toString(), s2.toString()].sort())
    // s3, dropped: either its head is gone, or the segments still held the blocks its GC freed (the sweep reclaims settled segments only) and it is dropped again.
    assert.deepEqual([...back.incomplete, ...back.dropped ?? []], [s3.toString()])
    assert.deepEqual(await state(replica, r), before, 'locks, releases, roots and space as they were')
    assert.equal((await r.locks()).find(l => l.root === s1.toString())!.lockedUntil, new Date(Date.parse('2026-12-01T00:00:00Z') + 45 * DAY).toISOString(), 'the longest lock, not the forged ones')
  } finally {
    await replica.close()
    await w.origin.close()
  }
})
