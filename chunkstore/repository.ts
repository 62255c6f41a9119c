import { hostname } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { isWriteOnly, OperationAbortedError, throwIfAborted, writeOnlyKeys, WriteOnlyKeyError } from '../crypto/index.ts'
import type { AbortOptions, CipherSuite, SpaceKeys } from '../crypto/index.ts'
import { Archiver, normaliseSources } from './archiver.ts'
import { rebuildIndex } from './index-rebuild.ts'
import type { IndexRebuild } from './index-rebuild.ts'
import { checkSnapshots } from './checker.ts'
import { checkForgetPolicy, snapshotsToForget } from './retention.ts'
import { BlockSealer, cidOf, suiteByName } from './codec.ts'
import {
  diskFullAt, InvalidOptionError, RestoreIncompleteError, LastSnapshotError, PathNotFoundError, SnapshotDamagedError, SnapshotNotFoundError,
  NotADiskImageError, SharedReplicaError, StoreCorruptError, BlockNotFoundError, CorruptBlockError
} from './errors.ts'
import { encodeManifestPages, snapshotBlocks, snapshotsStoredBytes, writeManifest } from './manifest.ts'
import type { StoredBytes } from './manifest.ts'
import { keyOf } from './index-layout.ts'
import type { Key } from './index-layout.ts'
import { unlockKeys } from './key-slots.ts'
import { LocalBlockStore } from './local-block-store.ts'
import { pruneStore } from './prune.ts'
import type { LsOptions, Repository } from './repository-api.ts'
import { Restorer } from './restorer.ts'
import { backupImage, getImageFiles, imageManifest, openImagePartition, restoreImage } from './disk-image.ts'
import type { ImageBackupOptions, ImageFilesOptions, ImageGetOptions, ImageGetResult, ImageLsOptions, ImageManifest, ImageReadDeps, ImageRestoreOptions, ImageRestoreResult } from './disk-image.ts'
import type { Ext4Entry, Ext4Reader } from './ext4-reader.ts'
import { isReplica } from './replica-marker.ts'
import { decodeNode, encodeNode, inlineFileNode } from './tree-node.ts'
import { repairTree } from './snapshot-repair.ts'
import { readSnapshotRecords, recordKind, rootOf, toRecord, writeForgetRecord, writeSnapshotRecord } from './snapshot-records.ts'
import type { DamagedSnapshot, OwnSnapshot, RecordBody, SnapshotRecords } from './snapshot-records.ts'
import { readConfig, validateChunker } from './store-config.ts'
import type { OpenOptions, StoreConfig } from './store-config.ts'
import { displayBytes, displayName } from './file-name.ts'
import type { DirNode, TreeNode } from './tree-node.ts'
import type { BlockLocation } from './block-store.ts'
import { WorkerPool } from './worker-pool.ts'
import type { FromWorker } from './worker-protocol.ts'
import type {
  BackupOptions, CheckOptions, CheckResult, ChunkerSpec, ForgetPolicy, PruneResult, RestoreOptions, RestoreResult,
  SnapshotRecord, TreeEntry
} from './types.ts'

// A store opened with its keys (Repository, repository-api.ts): backup, the snapshot list,
// restore, ls, check, forget, prune and repair. The store's folder and options:
// store-config.ts; its key file: key-slots.ts; the records: snapshot-records.ts; mark and
// sweep: prune.ts.

export async function openRepository (dir: string, options: OpenOptions): Promise<LocalRepository> {
  const openBlocks = async (): Promise<LocalBlockStore> => await LocalBlockStore.open(join(dir, 'index'), join(dir, 'segments'), { readOnly: options.readOnly, inconsistent: options.reportDamage === true ? 'report' : 'refuse', verifyTables: options.reportDamage === true || options.verifyIndex === true })
  let opened: { config: StoreConfig, keys: SpaceKeys, suite: CipherSuite }
  let store: LocalBlockStore
  if (options.readOnly === true) {
    // Changes nothing, so it may open while the keys are derived; a key error is the one told.
    const [k, s] = await Promise.allSettled([storeKeys(dir, options), openBlocks()])
    if (k.status === 'rejected') {
      if (s.status === 'fulfilled') await s.value.close()
      throw k.reason
    }
    if (s.status === 'rejected') throw s.reason
    opened = k.value
    store = s.value
  } else {
    opened = await storeKeys(dir, options)
    store = await openBlocks()
  }
  const { config, keys, suite } = opened
  // A replica given a lost site's escrowed config and keys (F13) reads that site's snapshots;
  // its blocks are every site's, so it stays unchanged (SharedReplicaError), as through the daemon.
  return new LocalRepository(dir, config, keys, suite, store, { shared: isReplica(dir), owned: true })
}

/**
 * A repository over a block store this process already holds open — a mesh replica (F13) —
 * with the config and key file of the store whose data it reads kept in `dir` (a folder of
 * its own: the escrowed `config.json` and `keys.json`). It lists, restores, checks and
 * browses that store's snapshots. The replica holds other sites' data too, so every change
 * (backup, forget, removeSnapshot, prune) throws SharedReplicaError, and `close()` leaves the
 * block store open for its holder.
 */
export async function openRepositoryOver (dir: string, blocks: LocalBlockStore, options: OpenOptions): Promise<LocalRepository> {
  const { config, keys, suite } = await storeKeys(dir, options)
  return new LocalRepository(dir, config, keys, suite, blocks, { shared: true })
}

/**
 * `cairn repair index`: rebuilds the store's index from its segments (index-rebuild.ts).
 * Snapshot and forget records are told apart from other blocks by opening them with the
 * record key, so the full key is needed. Then each snapshot's manifest listing (`'p'`) is
 * written again from a walk of its tree: the same pages, so the same CIDs, as its backup wrote.
 */
export async function repairIndex (dir: string, options: OpenOptions): Promise<IndexRebuild & { manifests: ManifestRepair }> {
  const { keys } = await storeKeys(dir, options)
  if (isWriteOnly(keys)) throw new WriteOnlyKeyError('Rebuilding the index (snapshot records are found by opening them)')
  const rebuilt = await rebuildIndex(dir, block => recordKind(keys, block))
  // A replica's own listings are not this store's to write (and it has no snapshots of its own).
  if (isReplica(dir)) return { ...rebuilt, manifests: { written: [], failed: [] } }
  const repo = await openRepository(dir, { ...options, keys })
  try {
    // Not marked late: these snapshots had their listing before the index was lost.
    return { ...rebuilt, manifests: await repo.writeMissingManifests({ late: false }) }
  } finally {
    await repo.close()
  }
}

/**
 * `cairn repair index` at a mesh replica, which has no key: the block index from the segments
 * (no snapshot record can be recognised), and the CIDs of the plain lock records and releases
 * found, from which the mesh layer lists the replica's roots and locks again.
 */
export async function repairReplicaIndex (dir: string): Promise<IndexRebuild & { plain: CID[] }> {
  const plain = new Map<string, CID>()
  const marks = [Buffer.from('{"format":"cairn-lock"'), Buffer.from('{"format":"cairn-release"')]
  const rebuilt = await rebuildIndex(dir, block => {
    const start = Buffer.from(block.buffer, block.byteOffset, Math.min(block.byteLength, 32))
    if (marks.some(m => start.subarray(0, m.length).equals(m))) { const cid = cidOf(block); plain.set(cid.toString(), cid) }
    return undefined
  })
  return { ...rebuilt, plain: [...plain.values()] }
}

/** What `writeMissingManifests` did: snapshots that got a manifest, and those whose tree could not be walked. */
export interface ManifestRepair { written: string[], failed: Array<{ id: string, reason: string }> }

/**
 * A repository over the block store of this very folder that the caller already holds open
 * (a mesh node serving a site's own store): it reads and writes as `openRepository`'s does,
 * and `close()` leaves the block store to its holder.
 */
export async function openRepositoryOn (dir: string, blocks: LocalBlockStore, options: OpenOptions): Promise<LocalRepository> {
  const { config, keys, suite } = await storeKeys(dir, options)
  return new LocalRepository(dir, config, keys, suite, blocks, { shared: isReplica(dir), owned: false })
}

async function storeKeys (dir: string, options: OpenOptions): Promise<{ config: StoreConfig, keys: SpaceKeys, suite: CipherSuite }> {
  const config = readConfig(dir)
  let keys = await options.keys
  if (keys === undefined) {
    if (options.passphrase === undefined) throw new InvalidOptionError('A passphrase is needed: set CAIRN_PASSPHRASE or use --passphrase-file.')
    keys = (await unlockKeys(dir, options.passphrase)).keys
  }
  if (keys.spaceId !== config.spaceId) throw new InvalidOptionError('These keys belong to another store (space id differs).')
  const suite = suiteByName(config.cipher)
  if (suite === undefined) throw new StoreCorruptError(`The store uses cipher "${config.cipher}", which this Cairn does not know.`)
  return { config, keys, suite }
}

export class LocalRepository implements Repository {
  private readonly sealer: BlockSealer

  /** Over a block store it does not own (a mesh replica): it changes nothing there and never closes it. */
  readonly shared: boolean

  /** The block store was opened for this repository, and `close()` closes it (else its holder does). */
  private readonly owned: boolean

  constructor (readonly dir: string, readonly config: StoreConfig, readonly keys: SpaceKeys, readonly suite: CipherSuite, readonly blocks: LocalBlockStore, options: { shared?: boolean, owned?: boolean } = {}) {
    this.sealer = new BlockSealer(keys, suite, config.compression)
    this.shared = options.shared === true
    this.owned = options.owned ?? !this.shared
  }

  get writeOnly (): boolean { return isWriteOnly(this.keys) }

  private refuseShared (action: string): void {
    if (this.shared) throw new SharedReplicaError({ action })
  }

  private makePool (level: number, chunker: ChunkerSpec) {
    return (onMessage: (m: FromWorker, w: number) => void) => new WorkerPool({
      keys: this.keys, suite: this.suite.name, level, chunker, segmentDir: this.blocks.log.dir, segmentCounter: this.blocks.segmentCounter
    }, onMessage)
  }

  async loadNode (ref: { cid: CID, id: Uint8Array }, location?: BlockLocation): Promise<TreeNode> {
    const bytes = location !== undefined ? this.blocks.read(ref.cid, location, false) : await this.blocks.get(ref.cid)
    return decodeNode(this.sealer.open(bytes, ref.id, ref.cid))
  }

  async backup (options: BackupOptions): Promise<SnapshotRecord> {
    this.refuseShared('a backup')
    try {
      return await this.blocks.epochs.within('write', async () => await this.backupNow(options))
    } catch (err) {
      // Stopped while it read the store (its parent's tree): still the backup that was stopped.
      if (err instanceof OperationAbortedError && err.params?.what !== 'The backup') throw new OperationAbortedError('The backup', { cause: err })
      throw err
    }
  }

  private async backupNow (options: BackupOptions): Promise<SnapshotRecord> {
    const task = options.task ?? 'default'
    const level = options.level ?? 'incremental'
    const compression = options.compression ?? this.config.compression
    const chunker = validateChunker(options.chunker ?? this.config.chunker)
    const sealer = new BlockSealer(this.keys, this.suite, compression)
    let parent: OwnSnapshot | undefined
    const sources = normaliseSources(options.paths)
    if (!this.writeOnly) {
      const paths = sources.join('\0')
      parent = (await this.snapshots({ task, signal: options.signal })).reverse().find(s => [...s.paths].sort().join('\0') === paths)
    }
    const archiver = new Archiver({
      store: this.blocks,
      sealer,
      loadNode: async (ref, loc) => await this.loadNode(ref, loc),
      makePool: this.makePool(compression, chunker)
    }, { ...options, level })
    this.blocks.writers++
    let result: Awaited<ReturnType<Archiver['run']>>
    try {
      result = await archiver.run(sources, level === 'incremental' && parent !== undefined ? rootOf(parent) : undefined)
    } catch (err) {
      throw diskFullAt(err, this.dir)
    } finally {
      this.blocks.writers--
    }
    const { root, stats, reached } = result
    // An incremental backup with no parent to compare against read every file: it is a full one.
    const done = level === 'incremental' && parent === undefined ? 'full' : level
    const body: RecordBody = {
      v: 1, root: root.cid.toString(), rootId: Buffer.from(root.id).toString('base64'), time: (options.now?.() ?? new Date()).toISOString(),
      host: hostname(), task, paths: sources, level: done, ...(parent !== undefined ? { parent: parent.id } : {}), stats
    }
    let cid: CID
    try {
      // The parent's pages hold the sizes of the blocks reused from it (no index lookup for those).
      const parentPages = parent !== undefined ? await this.blocks.manifestPages(CID.parse(parent.id)) : undefined
      cid = await writeSnapshotRecord(this.keys, this.blocks, body, { reached, parentPages })
    } catch (err) {
      throw diskFullAt(err, this.dir)
    }
    return toRecord(cid, body)
  }

  /** Backs up a block device or raw image file as a disk image snapshot (disk-image.ts). */
  async backupImage (options: ImageBackupOptions): Promise<SnapshotRecord> {
    this.refuseShared('a backup')
    return await this.blocks.epochs.within('write', async () => {
      this.blocks.writers++
      let result: Awaited<ReturnType<typeof backupImage>>
      try {
        result = await backupImage({ store: this.blocks, sealer: this.sealer }, options)
      } catch (err) {
        throw diskFullAt(err, this.dir)
      } finally {
        this.blocks.writers--
      }
      const { root, stats, manifest } = result
      const body: RecordBody = {
        v: 1, root: root.cid.toString(), rootId: Buffer.from(root.id).toString('base64'), time: new Date().toISOString(),
        host: hostname(), task: options.task ?? 'default', paths: [manifest.source], level: 'full', stats
      }
      try {
        return toRecord(await writeSnapshotRecord(this.keys, this.blocks, body, { loadNode: async ref => await this.loadNode(ref) }), body)
      } catch (err) {
        throw diskFullAt(err, this.dir)
      }
    })
  }

  /** The partition table and regions of a disk image snapshot; undefined for a snapshot of files. */
  async imageManifest (snapshot: string, options: AbortOptions = {}): Promise<ImageManifest | undefined> {
    return await this.blocks.epochs.within('read', async () => {
      const snap = await this.resolveSnapshot(snapshot, undefined, options)
      return await imageManifest(this.imageDeps(), await this.loadNode(rootOf(snap)) as DirNode)
    })
  }

  /** Writes a disk image snapshot onto a block device or image file, and verifies it by SHA-256. */
  async restoreImage (options: ImageRestoreOptions): Promise<ImageRestoreResult> {
    return await this.blocks.epochs.within('read', async () => {
      const snap = await this.resolveSnapshot(options.snapshot, undefined, options)
      const root = await this.loadNode(rootOf(snap)) as DirNode
      const manifest = await imageManifest(this.imageDeps(), root)
      if (manifest === undefined) throw new NotADiskImageError(snap.id)
      return await restoreImage(this.imageDeps(), root, manifest, options)
    })
  }

  /** The entries of a folder of an ext4 partition of a disk image snapshot, read from its chunks. */
  async imageLs (options: ImageLsOptions): Promise<Ext4Entry[]> {
    return await this.blocks.epochs.within('read', async () => {
      const reader = await this.imagePartition(options)
      return await reader.list(options.path ?? '/')
    })
  }

  /** Restores files and folders of an ext4 partition of a disk image snapshot, without restoring the partition. */
  async imageGet (options: ImageGetOptions): Promise<ImageGetResult> {
    return await this.blocks.epochs.within('read', async () => {
      return await getImageFiles(await this.imagePartition(options), options.paths, options.target, options.signal)
    })
  }

  private async imagePartition (options: ImageFilesOptions): Promise<Ext4Reader> {
    const snap = await this.resolveSnapshot(options.snapshot, undefined, options)
    const root = await this.loadNode(rootOf(snap)) as DirNode
    const manifest = await imageManifest(this.imageDeps(), root)
    if (manifest === undefined) throw new NotADiskImageError(snap.id)
    return await openImagePartition(this.imageDeps(), root, manifest, options.partition)
  }

  private imageDeps (): ImageReadDeps {
    return { store: this.blocks, sealer: this.sealer, loadNode: async ref => await this.loadNode(ref), makePool: this.makePool(this.config.compression, this.config.chunker) }
  }

  async snapshots (filter: { task?: string } & AbortOptions = {}): Promise<OwnSnapshot[]> {
    const { own } = await this.records(filter)
    // A repaired snapshot keeps its original's time and comes right after it (so `latest` is the readable one).
    return own.filter(r => filter.task === undefined || r.task === filter.task).sort((a, b) => a.time.localeCompare(b.time) || Number(a.repaired !== undefined) - Number(b.repaired !== undefined))
  }

  /** The snapshot records the index lists (snapshot-records.ts); a write-only key opens none. */
  private async records (options: AbortOptions = {}): Promise<SnapshotRecords> {
    if (this.writeOnly) throw new WriteOnlyKeyError('Listing snapshots')
    return await readSnapshotRecords(this.keys, this.blocks, options)
  }

  /** Snapshot records listed in the index that cannot be read (see `records`). */
  async damagedSnapshots (options: AbortOptions = {}): Promise<DamagedSnapshot[]> {
    return (await this.records(options)).damaged
  }

  async resolveSnapshot (ref: string, task?: string, options: AbortOptions = {}): Promise<OwnSnapshot> {
    const all = await this.snapshots({ task, signal: options.signal })
    if (ref === 'latest') {
      const s = all.at(-1)
      if (s === undefined) throw new SnapshotNotFoundError(ref, task !== undefined ? ` (task ${task} has no snapshots)` : ' (the store has no snapshots)')
      return s
    }
    const hits = all.filter(s => s.id.startsWith(ref))
    if (hits.length === 1) return hits[0]
    if (hits.length === 0) {
      const bad = (await this.damagedSnapshots(options)).filter(d => d.id.startsWith(ref))
      if (bad.length === 1) throw new SnapshotDamagedError(bad[0].id, bad[0].reason)
    }
    throw new SnapshotNotFoundError(ref, hits.length > 1 ? ` uniquely (${hits.length} snapshots start with it; give more characters)` : '')
  }

  async restore (options: RestoreOptions): Promise<RestoreResult> {
    return await this.blocks.epochs.within('read', async () => await this.restoreNow(options))
  }

  private async restoreNow (options: RestoreOptions): Promise<RestoreResult> {
    const snap = await this.resolveSnapshot(options.snapshot, undefined, options)
    const root = await this.loadNode(rootOf(snap)) as DirNode
    const restorer = new Restorer({
      store: this.blocks,
      loadNode: async (ref, loc) => await this.loadNode(ref, loc),
      makePool: this.makePool(this.config.compression, this.config.chunker)
    }, options, snap.stats.bytesTotal)
    const result = await restorer.run(root)
    if (result.failed.length > 0 && options.continueOnError !== true) throw new RestoreIncompleteError(result.failed)
    return result
  }

  async * ls (snapshot: string, path = '/', options: LsOptions = {}): AsyncIterable<TreeEntry> {
    const lease = this.blocks.epochs.enter('read')
    try { yield * this.lsNow(snapshot, path, options) } finally { lease.leave() }
  }

  private async * lsNow (snapshot: string, path: string, options: LsOptions): AsyncIterable<TreeEntry> {
    const snap = await this.resolveSnapshot(snapshot, undefined, options)
    let node: TreeNode = await this.loadNode(rootOf(snap))
    const parts = path.split('/').filter(Boolean)
    for (const part of parts) {
      const e = node.kind === 'dir' ? node.entries.find(x => x.name === part) : undefined
      if (e === undefined) throw new PathNotFoundError('/' + parts.join('/'), `in snapshot ${snap.id.slice(0, 12)}`)
      node = inlineFileNode(e) ?? await this.loadNode(e)
    }
    const self = this
    async function * walk (n: TreeNode, p: string, depth: number): AsyncGenerator<TreeEntry> {
      if (n.kind !== 'dir') return
      for (const e of depth === 0 && options.offset !== undefined ? n.entries.slice(options.offset) : n.entries) {
        throwIfAborted(options.signal, 'The listing')
        const child = inlineFileNode(e) ?? await self.loadNode(e)
        const cp = p === '/' ? `/${displayName(e.name)}` : `${p}/${displayName(e.name)}`
        yield {
          path: cp, type: e.kind, size: e.size, mode: child.mode,
          mtime: new Date(Number(child.mtimeNs / 1_000_000n)).toISOString(),
          ...(child.kind === 'symlink' ? { target: displayBytes(child.target) } : {})
        }
        if (child.kind === 'dir' && options.children !== true) yield * walk(child, cp, depth + 1)
      }
    }
    if (node.kind === 'dir') yield * walk(node, '/' + parts.join('/'), 0)
    else yield { path: '/' + parts.join('/'), type: node.kind, size: node.kind === 'file' ? node.size : 0, mode: node.mode, mtime: new Date(Number(node.mtimeNs / 1_000_000n)).toISOString() }
  }

  async check (options: CheckOptions = {}): Promise<CheckResult> {
    return await this.blocks.epochs.within('read', async () => await this.checkNow(options))
  }

  private async checkNow (options: CheckOptions): Promise<CheckResult> {
    const snaps = options.snapshot !== undefined ? [await this.resolveSnapshot(options.snapshot, undefined, options)] : await this.snapshots(options)
    const result = await checkSnapshots({
      store: this.blocks, sealer: this.sealer, makePool: this.makePool(this.config.compression, this.config.chunker)
    }, snaps.map(s => ({ name: s.id.slice(0, 12), ...rootOf(s) })), options)
    result.errors.unshift(...this.blocks.damage)
    if (options.snapshot === undefined) {
      for (const d of await this.damagedSnapshots(options)) { result.errors.push(`snapshot ${d.id}: ${d.reason}`); result.badBlocks.push(d.id) }
    }
    return result
  }

  async forget (policy: ForgetPolicy, options: AbortOptions = {}): Promise<SnapshotRecord[]> {
    this.refuseShared('removing copies by retention')
    checkForgetPolicy(policy)
    const removed = snapshotsToForget(await this.snapshots({ task: policy.task, signal: options.signal }), policy, policy.now ?? new Date())
    await this.forgetRoots(removed.map(s => s.id))
    return removed
  }

  /**
   * Forgets the snapshots `refs` name (ids or unique prefixes), damaged ones included (their
   * task is unknown, so no rule keeps them); an intact snapshot that is the last of its task
   * only with `force`.
   */
  async forgetSnapshots (refs: string[], options: { force?: boolean } & AbortOptions = {}): Promise<Array<{ id: string, task?: string, time?: string }>> {
    this.refuseShared('removing a copy')
    const { own, damaged } = await this.records(options)
    const chosen = new Map<string, { id: string, task?: string, time?: string }>()
    for (const ref of refs) {
      const hits = [...own.filter(s => s.id.startsWith(ref)).map(s => ({ id: s.id, task: s.task, time: s.time })), ...damaged.filter(d => d.id.startsWith(ref)).map(d => ({ id: d.id }))]
      if (hits.length !== 1) throw new SnapshotNotFoundError(ref, hits.length > 1 ? ` uniquely (${hits.length} snapshots start with it; give more characters)` : '')
      chosen.set(hits[0].id, hits[0])
    }
    for (const s of chosen.values()) {
      if (s.task === undefined || options.force === true) continue
      const left = own.filter(o => o.task === s.task && !chosen.has(o.id))
      if (left.length === 0) throw new LastSnapshotError(s.task)
    }
    await this.forgetRoots([...chosen.keys()])
    return [...chosen.values()]
  }

  /** Forgets `ids` with a forget record first (snapshot-records.ts). */
  private async forgetRoots (ids: string[]): Promise<void> {
    await writeForgetRecord(this.keys, this.blocks, ids)
  }

  async removeSnapshot (id: string, options: { force?: boolean } & AbortOptions = {}): Promise<void> {
    this.refuseShared('removing a copy')
    const snap = await this.resolveSnapshot(id, undefined, options)
    const same = await this.snapshots({ task: snap.task, signal: options.signal })
    if (same.length === 1 && options.force !== true) throw new LastSnapshotError(snap.task)
    await this.forgetRoots([snap.id])
  }

  /**
   * The bytes the blocks of the snapshots `ids` (full ids) occupy in the store, each block once
   * (manifest.ts `snapshotsStoredBytes`): what a task's copies keep on disk. Read from their
   * manifests; a snapshot without one is walked. A snapshot not listed is a SnapshotNotFoundError.
   */
  async storedBytes (ids: string[], options: AbortOptions = {}): Promise<StoredBytes> {
    return await this.blocks.epochs.within('read', async () => {
      const listed = new Map((await this.snapshots(options)).map(s => [s.id, s]))
      return await snapshotsStoredBytes(this.blocks, ids.map(id => {
        const snap = listed.get(id)
        if (snap === undefined) throw new SnapshotNotFoundError(id)
        const record = CID.parse(id)
        return { record, walk: async () => await snapshotBlocks(this.blocks, record, rootOf(snap), async ref => await this.loadNode(ref)) }
      }))
    })
  }

  /** Mark and sweep (prune.ts), one prune at a time; never on a shared replica or with a write-only key. */
  async prune (options: AbortOptions = {}): Promise<PruneResult> {
    this.refuseShared('pruning')
    // A write-only key opens no record, so every record would look like another store's.
    if (this.writeOnly) throw new WriteOnlyKeyError('Pruning')
    return await this.blocks.onePrune(async () => {
      try {
        return await pruneStore({ blocks: this.blocks, records: async () => await this.records(options), loadNode: async ref => await this.loadNode(ref) }, options)
      } catch (err) {
        throw diskFullAt(err, this.dir)
      }
    })
  }

  /**
   * `cairn repair snapshots`: for each snapshot (or those `ids` name) whose tree has blocks
   * missing or damaged, writes a new snapshot without the entries that cannot be read whole
   * (snapshot-repair.ts), with the original's task, paths and time and `repaired: { from,
   * lost }`; the original stays until it is forgotten. The chunk ids of damaged blocks leave
   * the dedup index, so the next full backup of those files stores them again, which heals
   * every snapshot that uses them (sealing is deterministic: same chunk, same CID).
   */
  async repairSnapshots (options: { ids?: string[], signal?: AbortSignal } = {}): Promise<SnapshotRepair[]> {
    this.refuseShared('repairing snapshots')
    const all = await this.snapshots()
    const chosen = options.ids === undefined || options.ids.length === 0 ? all : options.ids.map(ref => { const s = all.filter(x => x.id.startsWith(ref)); if (s.length !== 1) throw new SnapshotNotFoundError(ref); return s[0] })
    const out: SnapshotRepair[] = []
    const healed = new Set<Key>()
    for (const snap of chosen) {
      // Repaired once already (its stand-in exists), or itself a repair: nothing more to do.
      if (snap.repaired !== undefined || all.some(x => x.repaired?.from === snap.id)) continue
      const check = await this.check({ readData: true, snapshot: snap.id, signal: options.signal })
      if (check.errors.length === 0) continue
      const bad = new Set(check.badBlocks.map(c => keyOf(CID.parse(c).bytes)))
      for (const k of bad) healed.add(k)
      const sealer = this.sealer
      const r = await repairTree({
        bad,
        loadNode: async ref => await this.loadNode(ref),
        putNode: async node => {
          const sealed = sealer.seal(encodeNode(node))
          const [known] = await this.blocks.lookupIds([sealed.id])
          if (known === undefined) this.blocks.append(sealed.cid.bytes, sealed.id, sealed.bytes)
          return { cid: known === undefined ? sealed.cid : CID.decode(known), id: sealed.id, tsize: sealed.bytes.length }
        }
      }, rootOf(snap))
      if (r.rootLost || r.root === undefined) { out.push({ from: snap.id, lost: r.lost }); continue }
      const body: RecordBody = {
        v: 1, root: r.root.cid.toString(), rootId: Buffer.from(r.root.id).toString('base64'), time: snap.time, host: snap.host, task: snap.task,
        paths: snap.paths, level: snap.level, ...(snap.parent !== undefined ? { parent: snap.parent } : {}), stats: snap.stats,
        repaired: { from: snap.id, lost: r.lost }
      }
      const cid = await writeSnapshotRecord(this.keys, this.blocks, body, { loadNode: async ref => await this.loadNode(ref) })
      out.push({ from: snap.id, id: cid.toString(), lost: r.lost })
    }
    await this.blocks.forgetChunkIds(healed)
    return out
  }

  /**
   * Writes the manifest of every snapshot listed without one (made before manifests existed,
   * or after `repair index`) by walking its tree once: what replicas need to free its blocks
   * when it is forgotten (doc/mesh.md "Retention at replicas"). A snapshot whose tree cannot be
   * read whole is reported and left without one. Each is marked late (`'m'`, unless `late` is
   * false), so the mesh node sends its head to replicas that listed it without one.
   */
  async writeMissingManifests (options: AbortOptions & { late?: boolean } = {}): Promise<ManifestRepair> {
    this.refuseShared('writing manifests')
    if (this.writeOnly) throw new WriteOnlyKeyError('Writing manifests (a snapshot\'s tree is walked)')
    const out: ManifestRepair = { written: [], failed: [] }
    for (const snap of await this.snapshots(options)) {
      throwIfAborted(options.signal, 'Writing manifests')
      const record = CID.parse(snap.id)
      if (await this.blocks.manifestPages(record) !== undefined) continue
      let pages: Uint8Array[]
      try {
        pages = encodeManifestPages(await snapshotBlocks(this.blocks, record, rootOf(snap), async ref => await this.loadNode(ref)))
      } catch (err) {
        if (!(err instanceof StoreCorruptError || err instanceof BlockNotFoundError || err instanceof CorruptBlockError)) throw err
        out.failed.push({ id: snap.id, reason: err.message })
        continue
      }
      await writeManifest(this.blocks, record, pages, { late: options.late !== false })
      out.written.push(snap.id)
    }
    return out
  }

  /** A write-only copy of this store's keys (for a branch node that may back up but not read). */
  exportWriteOnly (): SpaceKeys {
    return writeOnlyKeys(this.keys)
  }

  async close (): Promise<void> {
    if (this.owned) await this.blocks.close()
  }
}

/** What `repairSnapshots` did for one damaged snapshot: the new snapshot's id (none when its root cannot be read) and the paths left out. */
export interface SnapshotRepair { from: string, id?: string, lost: string[] }
