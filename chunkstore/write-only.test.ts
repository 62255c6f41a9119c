// Issue 3, write-only keys: a branch node's store holds a key set without the record secret.
// It backs up (ids, sealing and dedup work), but it can neither list snapshots nor open any
// block of snapshots it did not make — not even with the head's blocks copied beside its own.
// The head, with the full key, lists and restores what the branch made, byte for byte.
import test, { after, before } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import {
  newSpaceId, openRecord, passphraseSlot, WriteOnlyKeyError, type SpaceKeys
} from '../crypto/index.ts'
import {
  BlockSealer, FIXED_SIZES, initRepository, openRepository, readConfig, readKeyFile, writeKeyFile,
  type FileNode, type DirNode, type LocalRepository, type SnapshotRecord
} from './index.ts'

const KDF = { N: 1024, r: 8, p: 1 }
let tmp: string
let headDir: string
let branchDir: string
let headData: string
let branchData: string
let sharedData: string

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'cairn-write-only-'))
  headDir = join(tmp, 'head')
  branchDir = join(tmp, 'branch')
  headData = join(tmp, 'head-data')
  branchData = join(tmp, 'branch-data')
  sharedData = join(tmp, 'shared-data')
  for (const [dir, tag] of [[headData, 'head'], [branchData, 'branch']] as const) {
    mkdirSync(join(dir, 'sub'), { recursive: true })
    writeFileSync(join(dir, 'random.bin'), randomBytes(300 << 10))
    writeFileSync(join(dir, 'sub', 'notes.txt'), `${tag} notes\n`.repeat(5000))
  }
  mkdirSync(sharedData)
  writeFileSync(join(sharedData, 'common.bin'), randomBytes(200 << 10))
  await initRepository(headDir, { passphrase: 'head secret', kdf: KDF, chunker: { kind: 'fixed', size: FIXED_SIZES[0] } })
  const head = await openRepository(headDir, { passphrase: 'head secret' })
  try {
    await head.backup({ paths: [headData] })
    await head.backup({ paths: [sharedData], task: 'shared' })
    await makeBranch(headDir, branchDir, head.exportWriteOnly(), 'branch secret')
  } finally {
    await head.close()
  }
})
after(() => rmSync(tmp, { recursive: true, force: true }))

/** What `cairn key export-write-only` does (node/cli/key-command.ts), kept here so chunkstore's test stands alone. */
async function makeBranch (from: string, to: string, keys: SpaceKeys, passphrase: string): Promise<void> {
  mkdirSync(to)
  const config = readConfig(from)
  writeFileSync(join(to, 'config.json'), JSON.stringify({ ...config, id: newSpaceId() }, null, 2) + '\n')
  const slot = await passphraseSlot(passphrase, { access: 'write-only', keys }, 'passphrase', KDF)
  writeKeyFile(to, { format: 'cairn-keyfile', version: 1, spaceId: config.spaceId, access: 'write-only', slots: [slot] })
}

async function withStore<T> (dir: string, passphrase: string, fn: (repo: LocalRepository) => Promise<T>): Promise<T> {
  const repo = await openRepository(dir, { passphrase })
  try { return await fn(repo) } finally { await repo.close() }
}

/** Every block CID a snapshot's tree reaches (record excluded), walked with the full key. */
async function reachable (repo: LocalRepository, snap: SnapshotRecord & { rootId?: string }): Promise<{ all: Set<string>, chunks: Set<string> }> {
  const all = new Set<string>()
  const chunks = new Set<string>()
  const stack: Array<{ cid: CID, id: Uint8Array }> = [{ cid: CID.parse(snap.root), id: new Uint8Array(Buffer.from(snap.rootId!, 'base64')) }]
  while (stack.length > 0) {
    const ref = stack.pop()!
    all.add(ref.cid.toString())
    const node = await repo.loadNode(ref)
    if (node.kind === 'dir') stack.push(...(node as DirNode).entries)
    if (node.kind === 'file') for (const c of (node as FileNode).chunks) { all.add(c.cid.toString()); chunks.add(c.cid.toString()) }
  }
  return { all, chunks }
}

test('the exported branch store is write-only: same space, no record secret', async () => {
  assert.equal(readKeyFile(branchDir).access, 'write-only')
  assert.equal(readConfig(branchDir).spaceId, readConfig(headDir).spaceId)
  await withStore(branchDir, 'branch secret', async branch => {
    assert.ok(branch.writeOnly)
    assert.equal(branch.keys.recordSecretKey, undefined)
  })
})

test('a write-only store backs up, and refuses everything that reads or deletes', async () => {
  await withStore(branchDir, 'branch secret', async branch => {
    const snap = await branch.backup({ paths: [branchData] })
    assert.equal(snap.stats.files, 2)
    assert.ok(snap.stats.chunksNew > 0)
    assert.equal((await branch.blocks.snapshotRoots()).length, 1)
    await assert.rejects(branch.snapshots(), WriteOnlyKeyError)
    await assert.rejects(branch.restore({ snapshot: 'latest', target: join(tmp, 'nowhere') }), WriteOnlyKeyError)
    await assert.rejects(branch.check(), WriteOnlyKeyError)
    await assert.rejects(branch.forget({ keepLast: 1 }), WriteOnlyKeyError)
    await assert.rejects(branch.removeSnapshot(snap.id, { force: true }), WriteOnlyKeyError)
    await assert.rejects(branch.prune(), WriteOnlyKeyError)
    await assert.rejects((async () => { for await (const _ of branch.ls('latest')) break })(), WriteOnlyKeyError)
    assert.equal((await branch.blocks.snapshotRoots()).length, 1, 'nothing was removed')
  })
})

test('with the head\'s blocks copied in, the branch still cannot list or open any of them', async () => {
  const headBlocks = new Map<string, Uint8Array>()
  const headRecords: CID[] = []
  const headIds: Uint8Array[] = []
  await withStore(headDir, 'head secret', async head => {
    for await (const cid of head.blocks.cids()) headBlocks.set(cid.toString(), await head.blocks.get(cid))
    headRecords.push(...await head.blocks.snapshotRoots())
    for (const s of await head.snapshots()) {
      // The ids that unlock the head's trees: the branch must not be able to learn these.
      const stack: Array<{ cid: CID, id: Uint8Array }> = [{ cid: CID.parse(s.root), id: new Uint8Array(Buffer.from(s.rootId!, 'base64')) }]
      while (stack.length > 0) {
        const ref = stack.pop()!
        headIds.push(ref.id)
        const node = await head.loadNode(ref)
        if (node.kind === 'dir') stack.push(...(node as DirNode).entries)
        if (node.kind === 'file') headIds.push(...(node as FileNode).chunks.map(c => c.id))
      }
    }
  })
  await withStore(branchDir, 'branch secret', async branch => {
    for (const [cid, bytes] of headBlocks) await branch.blocks.put(CID.parse(cid), bytes)
    for (const cid of headRecords) await branch.blocks.addSnapshotRoot(cid)
    await assert.rejects(branch.snapshots(), WriteOnlyKeyError)
    await assert.rejects(branch.restore({ snapshot: headRecords[0].toString(), target: join(tmp, 'nowhere') }), WriteOnlyKeyError)
    // Below the repository's refusal: the records do not open with the write-only keys,
    for (const cid of headRecords) assert.equal(openRecord(branch.keys, await branch.blocks.get(cid)), null)
    // copied blocks arrive without their chunk ids,
    assert.deepEqual(await branch.blocks.lookupIds(headIds), headIds.map(() => undefined))
    // and no chunk id the branch holds (those of its own backup, kept in its segments) opens a head block.
    await branch.blocks.flush()
    const known = branch.blocks.log.segments().flatMap(seg => branch.blocks.log.scan(seg, 0).records.flatMap(r => r.id !== undefined ? [r.id] : []))
    assert.ok(known.length > 10)
    const sealer = new BlockSealer(branch.keys, branch.suite, 0)
    const [own] = await branch.blocks.lookupIds([known[0]])
    assert.ok(sealer.open(await branch.blocks.get(CID.decode(own!)), known[0]).length > 0, 'the ids do open the branch\'s own blocks')
    let opened = 0
    for (const [cid, bytes] of headBlocks) {
      if (headRecords.some(r => r.toString() === cid)) continue
      for (const id of known) {
        try { sealer.open(bytes, id); opened++ } catch { /* expected: it does not authenticate */ }
      }
    }
    assert.equal(opened, 0)
  })
})

test('the head lists and restores, byte for byte, what the branch backed up once it has the branch\'s blocks', async () => {
  const branchRoots: CID[] = []
  const copied: Array<[CID, Uint8Array]> = []
  await withStore(branchDir, 'branch secret', async branch => {
    for await (const cid of branch.blocks.cids()) copied.push([cid, await branch.blocks.get(cid)])
    branchRoots.push(...await branch.blocks.snapshotRoots())
  })
  await withStore(headDir, 'head secret', async head => {
    for (const [cid, bytes] of copied) await head.blocks.put(cid, bytes)
    for (const cid of branchRoots) await head.blocks.addSnapshotRoot(cid)
    const snaps = await head.snapshots()
    const fromBranch = snaps.filter(s => s.paths[0] === branchData)
    assert.equal(fromBranch.length, 1)
    const target = join(tmp, 'restored')
    const r = await head.restore({ snapshot: fromBranch[0].id, target })
    assert.equal(r.files, 2)
    const restored = join(target, branchData)
    assert.deepEqual(readFileSync(join(restored, 'random.bin')), readFileSync(join(branchData, 'random.bin')))
    assert.deepEqual(readFileSync(join(restored, 'sub', 'notes.txt')), readFileSync(join(branchData, 'sub', 'notes.txt')))
    assert.deepEqual((await head.check({ readData: true })).errors, [])
  })
})

test('dedup across head and branch: the branch backing up data the head has makes the same CIDs', async () => {
  const branchCopy = join(tmp, 'branch-shared')
  cpSync(sharedData, branchCopy, { recursive: true, preserveTimestamps: true })
  const headShared = await withStore(headDir, 'head secret', async head => {
    const snap = (await head.snapshots({ task: 'shared' }))[0]
    return await reachable(head, snap)
  })
  const before = new Set<string>()
  const snap = await withStore(branchDir, 'branch secret', async branch => {
    for await (const cid of branch.blocks.cids()) before.add(cid.toString())
    // The head's blocks copied in by the previous test would hide new writes: count only chunks the branch writes now.
    return await branch.backup({ paths: [branchCopy], task: 'shared' })
  })
  assert.equal(snap.stats.files, 1)
  await withStore(branchDir, 'branch secret', async branch => {
    for (const cid of headShared.chunks) assert.ok(await branch.blocks.has(CID.parse(cid)), `the branch stores chunk ${cid}`)
  })
  // Pull the branch's new snapshot into the head: its data chunks are the ones the head already had.
  const copied: Array<[CID, Uint8Array]> = []
  await withStore(branchDir, 'branch secret', async branch => {
    for await (const cid of branch.blocks.cids()) if (!before.has(cid.toString())) copied.push([cid, await branch.blocks.get(cid)])
  })
  await withStore(headDir, 'head secret', async head => {
    for (const [cid, bytes] of copied) await head.blocks.put(cid, bytes)
    await head.blocks.addSnapshotRoot(CID.parse(snap.id))
    const mine = (await head.snapshots({ task: 'shared' })).find(s => s.id === snap.id)!
    const theirs = await reachable(head, mine)
    assert.deepEqual([...theirs.chunks].sort(), [...headShared.chunks].sort())
  })
})
