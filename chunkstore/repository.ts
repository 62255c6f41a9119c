import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import {
  formatKeyFile, isWriteOnly, newMasterKey, newSpaceId, openRecord, parseKeyFile,
  passphraseSlot, payloadKeys, sealRecord, unlockWithSecret, writeOnlyKeys, WriteOnlyKeyError
} from '../crypto/index.ts'
import type { CipherSuite, KeyFile, KeyPayload, KeySlot, ScryptParams, SpaceKeys } from '../crypto/index.ts'
import { Archiver, normaliseSources } from './archiver.ts'
import { rebuildIndex } from './index-rebuild.ts'
import type { IndexRebuild } from './index-rebuild.ts'
import { checkSnapshots } from './checker.ts'
import { checkForgetPolicy, segmentsToReclaim, snapshotsToForget } from './retention.ts'
import { BlockSealer, cidOf, suiteByName } from './codec.ts'
import {
  BlockNotFoundError, DiskFullError, InvalidOptionError, isDiskFull, RestoreIncompleteError, KeySlotError, LastSnapshotError, PathNotFoundError, SnapshotDamagedError, SnapshotNotFoundError,
  ReplicaNotAStoreError, SharedReplicaError, StoreCorruptError, StoreExistsError, StoreNotFoundError
} from './errors.ts'
import { DEFAULT_CDC, FIXED_SIZES } from './fastcdc.ts'
import { keyOf, LocalBlockStore } from './local-block-store.ts'
import type { Key } from './local-block-store.ts'
import type { Repository } from './repository-api.ts'
import { Restorer } from './restorer.ts'
import { isReplica } from './replica-marker.ts'
import { decodeNode, encodeNode, inlineFileNode } from './tree-node.ts'
import { repairTree } from './snapshot-repair.ts'
import { displayName } from './file-name.ts'
import type { DirNode, TreeNode } from './tree-node.ts'
import type { BlockLocation } from './block-store.ts'
import { WorkerPool } from './worker-pool.ts'
import type { FromWorker } from './worker-protocol.ts'
import type {
  BackupOptions, CheckResult, ChunkerSpec, ForgetPolicy, PruneResult, RestoreOptions, RestoreResult,
  SnapshotRecord, TreeEntry
} from './types.ts'

/** Store config format v1 (`config.json`, doc/design.md "Store layout"). */
export interface StoreConfig {
  format: 'cairn-store'
  version: 1
  id: string
  spaceId: string
  cipher: string
  created: string
  chunker: ChunkerSpec
  compression: number
}

export interface InitOptions {
  passphrase: string
  cipher?: string
  chunker?: ChunkerSpec
  compression?: number
  /** scrypt cost for the first passphrase slot (default: OWASP's recommendation). */
  kdf?: ScryptParams
  /** Use this master key (a mesh's) instead of a new one. */
  masterKey?: Uint8Array
}

export interface OpenOptions {
  passphrase?: string
  /** Already unlocked keys (e.g. from a token slot). */
  keys?: SpaceKeys
  /**
   * For commands that only read (snapshots, ls, check, restore): not a byte of the store
   * changes (LocalBlockStore.open, `readOnly`); anything that would write throws.
   */
  readOnly?: boolean
  /** An index that does not match the segments is reported in `blocks.damage` instead of refused (check). */
  reportDamage?: boolean
  /**
   * Check every table of the index against its checksums before using it (check and restore:
   * LevelDB would read a damaged table without noticing). Costs a read of the whole index.
   */
  verifyIndex?: boolean
}

const CONFIG = 'config.json'
const KEYS = 'keys.json'

function writeAtomic (path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`
  writeFileSync(tmp, text, { mode: 0o600 })
  const fd = openSync(tmp, 'r'); try { fsyncSync(fd) } finally { closeSync(fd) }
  renameSync(tmp, path)
}

export function readConfig (dir: string): StoreConfig {
  const p = join(dir, CONFIG)
  if (!existsSync(p)) throw isReplica(dir) ? new ReplicaNotAStoreError(dir, 'open') : new StoreNotFoundError(dir)
  let c: StoreConfig
  try { c = JSON.parse(readFileSync(p, 'utf8')) } catch (cause) { throw new StoreCorruptError(`${p} is not valid JSON; restore it from a copy.`, { cause }) }
  if (c.format !== 'cairn-store') throw new StoreNotFoundError(dir)
  if (c.version !== 1) throw new StoreCorruptError(`Store format version ${String(c.version)} is not supported by this Cairn; upgrade Cairn.`)
  return c
}

export function readKeyFile (dir: string): KeyFile {
  const p = join(dir, KEYS)
  if (!existsSync(p)) throw new StoreCorruptError(`The store's key file ${p} is missing; restore it from a copy (without it the data cannot be read).`)
  return parseKeyFile(readFileSync(p, 'utf8'))
}

export function writeKeyFile (dir: string, file: KeyFile): void {
  writeAtomic(join(dir, KEYS), formatKeyFile(file))
}

export function validateChunker (c: ChunkerSpec): ChunkerSpec {
  if (c.kind === 'fixed' && !FIXED_SIZES.includes(c.size)) {
    throw new InvalidOptionError(`Fixed chunk size ${c.size} is not one of ${FIXED_SIZES.map(s => `${s / 1024}K`).join(', ')}.`)
  }
  if (c.kind === 'cdc' && !([c.min, c.avg, c.max].every(Number.isInteger) && c.min >= 64 && c.min < c.avg && c.avg < c.max && c.max <= 64 << 20)) {
    throw new InvalidOptionError('CDC chunk sizes must be whole numbers with 64 B <= min < avg < max <= 64 MiB.')
  }
  return c
}

/** Creates a store in an empty or missing folder. */
export async function initRepository (dir: string, options: InitOptions): Promise<StoreConfig> {
  if (existsSync(dir) && readdirSync(dir).length > 0) throw isReplica(dir) ? new ReplicaNotAStoreError(dir, 'init') : new StoreExistsError(dir)
  const cipher = options.cipher ?? 'xsalsa20-poly1305'
  if (suiteByName(cipher) === undefined) throw new InvalidOptionError(`Unknown cipher "${cipher}".`)
  const compression = options.compression ?? 3
  if (!Number.isInteger(compression) || compression < -7 || compression > 19) throw new InvalidOptionError('Compression level must be off (0), -7…-1 or 1…19.')
  const spaceId = newSpaceId()
  const master = options.masterKey ?? newMasterKey()
  const slot = await passphraseSlot(options.passphrase, { access: 'full', master }, 'passphrase', options.kdf)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const config: StoreConfig = {
    format: 'cairn-store', version: 1, id: newSpaceId(), spaceId, cipher, created: new Date().toISOString(),
    chunker: validateChunker(options.chunker ?? { kind: 'cdc', ...DEFAULT_CDC }), compression
  }
  writeKeyFile(dir, { format: 'cairn-keyfile', version: 1, spaceId, access: 'full', slots: [slot] })
  writeAtomic(join(dir, CONFIG), JSON.stringify(config, null, 2) + '\n')
  const store = await LocalBlockStore.open(join(dir, 'index'), join(dir, 'segments'))
  await store.close()
  return config
}

/** Unlocks the key file with a passphrase (or recovery key). */
export async function unlockKeys (dir: string, passphrase: string): Promise<{ keys: SpaceKeys, payload: KeyPayload, slot: KeySlot }> {
  const file = readKeyFile(dir)
  const { payload, slot } = await unlockWithSecret(file, passphrase)
  return { keys: payloadKeys(payload, file.spaceId), payload, slot }
}

export async function openRepository (dir: string, options: OpenOptions): Promise<LocalRepository> {
  const { config, keys, suite } = await storeKeys(dir, options)
  const store = await LocalBlockStore.open(join(dir, 'index'), join(dir, 'segments'), { readOnly: options.readOnly, inconsistent: options.reportDamage === true ? 'report' : 'refuse', verifyTables: options.reportDamage === true || options.verifyIndex === true })
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
 * record key, so the full key is needed.
 */
export async function repairIndex (dir: string, options: OpenOptions): Promise<IndexRebuild> {
  const { keys } = await storeKeys(dir, options)
  if (isWriteOnly(keys)) throw new WriteOnlyKeyError('Rebuilding the index (snapshot records are found by opening them)')
  return await rebuildIndex(dir, block => {
    const plain = openRecord(keys, block)
    if (plain === null) return undefined
    let body: { v?: number, root?: unknown, forget?: unknown }
    try { body = JSON.parse(Buffer.from(plain).toString()) } catch { return undefined }
    if (body.v !== 1) return undefined
    if (typeof body.root === 'string') return { kind: 'snapshot' }
    if (Array.isArray(body.forget)) return { kind: 'forget', ids: body.forget.map(String) }
    return undefined
  })
}

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
  let keys = options.keys
  if (keys === undefined) {
    if (options.passphrase === undefined) throw new InvalidOptionError('A passphrase is needed: set CAIRN_PASSPHRASE or use --passphrase-file.')
    keys = (await unlockKeys(dir, options.passphrase)).keys
  }
  if (keys.spaceId !== config.spaceId) throw new InvalidOptionError('These keys belong to another store (space id differs).')
  const suite = suiteByName(config.cipher)
  if (suite === undefined) throw new StoreCorruptError(`The store uses cipher "${config.cipher}", which this Cairn does not know.`)
  return { config, keys, suite }
}

interface RecordBody {
  v: 1
  root: string
  rootId: string
  time: string
  host: string
  task: string
  paths: string[]
  level: SnapshotRecord['level']
  parent?: string
  stats: SnapshotRecord['stats']
  repaired?: SnapshotRecord['repaired']
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

  private rootOf (r: SnapshotRecord & { rootId?: string }): { cid: CID, id: Uint8Array } {
    return { cid: CID.parse(r.root), id: new Uint8Array(Buffer.from(r.rootId!, 'base64')) }
  }

  async backup (options: BackupOptions): Promise<SnapshotRecord> {
    this.refuseShared('a backup')
    return await this.blocks.epochs.within('write', async () => await this.backupNow(options))
  }

  private async backupNow (options: BackupOptions): Promise<SnapshotRecord> {
    const task = options.task ?? 'default'
    const level = options.level ?? 'incremental'
    const compression = options.compression ?? this.config.compression
    const chunker = validateChunker(options.chunker ?? this.config.chunker)
    const sealer = new BlockSealer(this.keys, this.suite, compression)
    let parent: (SnapshotRecord & { rootId?: string }) | undefined
    const sources = normaliseSources(options.paths)
    if (!this.writeOnly) {
      const paths = sources.join('\0')
      parent = (await this.snapshots({ task })).reverse().find(s => [...s.paths].sort().join('\0') === paths)
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
      result = await archiver.run(sources, level === 'incremental' && parent !== undefined ? this.rootOf(parent) : undefined)
    } catch (err) {
      throw diskFull(err, this.dir)
    } finally {
      this.blocks.writers--
    }
    const { root, stats } = result
    // An incremental backup with no parent to compare against read every file: it is a full one.
    const done = level === 'incremental' && parent === undefined ? 'full' : level
    const body: RecordBody = {
      v: 1, root: root.cid.toString(), rootId: Buffer.from(root.id).toString('base64'), time: (options.now?.() ?? new Date()).toISOString(),
      host: hostname(), task, paths: sources, level: done, ...(parent !== undefined ? { parent: parent.id } : {}), stats
    }
    const sealed = sealRecord(this.keys, Buffer.from(JSON.stringify(body)))
    const cid = cidOf(sealed)
    try {
      this.blocks.append(cid.bytes, undefined, sealed)
      await this.blocks.addSnapshotRoot(cid)
    } catch (err) {
      throw diskFull(err, this.dir)
    }
    return toRecord(cid, body)
  }

  async snapshots (filter: { task?: string } = {}): Promise<Array<SnapshotRecord & { rootId?: string }>> {
    const { own } = await this.records()
    // A repaired snapshot keeps its original's time and comes right after it (so `latest` is the readable one).
    return own.filter(r => filter.task === undefined || r.task === filter.task).sort((a, b) => a.time.localeCompare(b.time) || Number(a.repaired !== undefined) - Number(b.repaired !== undefined))
  }

  /**
   * The snapshot records here, opened, and the CIDs of those of other stores: a mesh replica
   * (F13) holds several sites' blocks, so a DR site opens it with one site's keys and sees that
   * site's snapshots. A record is another store's only if its bytes match its CID and still do
   * not open. A record that is missing or whose bytes no longer match is `damaged`: reported
   * for itself, while the others keep working.
   */
  private async records (): Promise<{ own: Array<SnapshotRecord & { rootId?: string }>, foreign: CID[], damaged: DamagedSnapshot[] }> {
    if (this.writeOnly) throw new WriteOnlyKeyError('Listing snapshots')
    const own: Array<SnapshotRecord & { rootId?: string }> = []
    const foreign: CID[] = []
    const damaged: DamagedSnapshot[] = []
    for (const cid of await this.blocks.snapshotRoots()) {
      let plain: Uint8Array | null
      try {
        plain = openRecord(this.keys, await this.blocks.get(cid, { verify: true }))
      } catch (err) {
        damaged.push({ id: cid.toString(), reason: err instanceof BlockNotFoundError ? 'its record block is missing' : 'its record block no longer matches its id' })
        continue
      }
      if (plain === null) { foreign.push(cid); continue }
      const body = parseRecordBody(plain)
      if (body === undefined) { damaged.push({ id: cid.toString(), reason: 'its record does not decode' }); continue }
      own.push({ ...toRecord(cid, body), rootId: body.rootId })
    }
    return { own, foreign, damaged }
  }

  /** Snapshot records listed in the index that cannot be read (see `records`). */
  async damagedSnapshots (): Promise<DamagedSnapshot[]> {
    return (await this.records()).damaged
  }

  async resolveSnapshot (ref: string, task?: string): Promise<SnapshotRecord & { rootId?: string }> {
    const all = await this.snapshots({ task })
    if (ref === 'latest') {
      const s = all.at(-1)
      if (s === undefined) throw new SnapshotNotFoundError(ref, task !== undefined ? ` (task ${task} has no snapshots)` : ' (the store has no snapshots)')
      return s
    }
    const hits = all.filter(s => s.id.startsWith(ref))
    if (hits.length === 1) return hits[0]
    if (hits.length === 0) {
      const bad = (await this.damagedSnapshots()).filter(d => d.id.startsWith(ref))
      if (bad.length === 1) throw new SnapshotDamagedError(bad[0].id, bad[0].reason)
    }
    throw new SnapshotNotFoundError(ref, hits.length > 1 ? ` uniquely (${hits.length} snapshots start with it; give more characters)` : '')
  }

  async restore (options: RestoreOptions): Promise<RestoreResult> {
    return await this.blocks.epochs.within('read', async () => await this.restoreNow(options))
  }

  private async restoreNow (options: RestoreOptions): Promise<RestoreResult> {
    const snap = await this.resolveSnapshot(options.snapshot)
    const root = await this.loadNode(this.rootOf(snap)) as DirNode
    const restorer = new Restorer({
      store: this.blocks,
      loadNode: async ref => await this.loadNode(ref),
      makePool: this.makePool(this.config.compression, this.config.chunker)
    }, options, snap.stats.bytesTotal)
    const result = await restorer.run(root)
    if (result.failed.length > 0 && options.continueOnError !== true) throw new RestoreIncompleteError(result.failed)
    return result
  }

  async * ls (snapshot: string, path = '/'): AsyncIterable<TreeEntry> {
    const lease = this.blocks.epochs.enter('read')
    try { yield * this.lsNow(snapshot, path) } finally { lease.leave() }
  }

  private async * lsNow (snapshot: string, path: string): AsyncIterable<TreeEntry> {
    const snap = await this.resolveSnapshot(snapshot)
    let node: TreeNode = await this.loadNode(this.rootOf(snap))
    const parts = path.split('/').filter(Boolean)
    for (const part of parts) {
      const e = node.kind === 'dir' ? node.entries.find(x => x.name === part) : undefined
      if (e === undefined) throw new PathNotFoundError('/' + parts.join('/'), `in snapshot ${snap.id.slice(0, 12)}`)
      node = inlineFileNode(e) ?? await this.loadNode(e)
    }
    const self = this
    async function * walk (n: TreeNode, p: string): AsyncGenerator<TreeEntry> {
      if (n.kind !== 'dir') return
      for (const e of n.entries) {
        const child = inlineFileNode(e) ?? await self.loadNode(e)
        const cp = p === '/' ? `/${displayName(e.name)}` : `${p}/${displayName(e.name)}`
        yield {
          path: cp, type: e.kind, size: e.size, mode: child.mode,
          mtime: new Date(Number(child.mtimeNs / 1_000_000n)).toISOString(),
          ...(child.kind === 'symlink' ? { target: child.target } : {})
        }
        if (child.kind === 'dir') yield * walk(child, cp)
      }
    }
    if (node.kind === 'dir') yield * walk(node, '/' + parts.join('/'))
    else yield { path: '/' + parts.join('/'), type: node.kind, size: node.kind === 'file' ? node.size : 0, mode: node.mode, mtime: new Date(Number(node.mtimeNs / 1_000_000n)).toISOString() }
  }

  async check (options: { readData?: boolean, snapshot?: string, signal?: AbortSignal } = {}): Promise<CheckResult> {
    return await this.blocks.epochs.within('read', async () => await this.checkNow(options))
  }

  private async checkNow (options: { readData?: boolean, snapshot?: string, signal?: AbortSignal }): Promise<CheckResult> {
    const snaps = options.snapshot !== undefined ? [await this.resolveSnapshot(options.snapshot)] : await this.snapshots()
    const result = await checkSnapshots({
      store: this.blocks, sealer: this.sealer, makePool: this.makePool(this.config.compression, this.config.chunker)
    }, snaps.map(s => ({ name: s.id.slice(0, 12), ...this.rootOf(s) })), options.readData === true, options.signal)
    result.errors.unshift(...this.blocks.damage)
    if (options.snapshot === undefined) {
      for (const d of await this.damagedSnapshots()) { result.errors.push(`snapshot ${d.id}: ${d.reason}`); result.badBlocks.push(d.id) }
    }
    return result
  }

  async forget (policy: ForgetPolicy): Promise<SnapshotRecord[]> {
    this.refuseShared('removing copies by retention')
    checkForgetPolicy(policy)
    const removed = snapshotsToForget(await this.snapshots({ task: policy.task }), policy, policy.now ?? new Date())
    await this.forgetRoots(removed.map(s => s.id))
    return removed
  }

  /**
   * Forgets the snapshots `refs` name (ids or unique prefixes), damaged ones included (their
   * task is unknown, so no rule keeps them); an intact snapshot that is the last of its task
   * only with `force`.
   */
  async forgetSnapshots (refs: string[], options: { force?: boolean } = {}): Promise<Array<{ id: string, task?: string, time?: string }>> {
    this.refuseShared('removing a copy')
    const { own, damaged } = await this.records()
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

  /**
   * Writes a forget record naming `ids` (so that "repair index" never brings them back), then
   * drops their roots. A crash between the two leaves them listed; the forget record wins at
   * the next "repair index".
   */
  private async forgetRoots (ids: string[]): Promise<void> {
    if (ids.length === 0) return
    const sealed = sealRecord(this.keys, Buffer.from(JSON.stringify({ v: 1, forget: ids, time: new Date().toISOString() })))
    const cid = cidOf(sealed)
    this.blocks.append(cid.bytes, undefined, sealed)
    await this.blocks.addForgetRecord(cid)
    for (const id of ids) await this.blocks.removeSnapshotRoot(CID.parse(id))
  }

  async removeSnapshot (id: string, options: { force?: boolean } = {}): Promise<void> {
    this.refuseShared('removing a copy')
    const snap = await this.resolveSnapshot(id)
    const same = await this.snapshots({ task: snap.task })
    if (same.length === 1 && options.force !== true) throw new LastSnapshotError(snap.task)
    await this.forgetRoots([snap.id])
  }

  /**
   * Mark and sweep (F19), beside any number of backups, restores and checks in this process;
   * none of them ever waits for it. What it may free follows the epoch rule (epochs.ts,
   * doc/design.md "Epochs: what a prune may free"): blocks that operations touch while it runs
   * are kept, it waits for backups that began before it, and it deletes a segment file only
   * once every operation that could still hold a location in it has ended. Prunes run one at
   * a time.
   */
  async prune (options: { signal?: AbortSignal } = {}): Promise<PruneResult> {
    this.refuseShared('pruning')
    // A write-only key opens no record, so every record would look like another store's.
    if (this.writeOnly) throw new WriteOnlyKeyError('Pruning')
    return await this.blocks.onePrune(async () => await this.pruneNow(options.signal))
  }

  private async pruneNow (signal: AbortSignal | undefined): Promise<PruneResult> {
    const store = this.blocks
    const result: PruneResult = { blocksRemoved: 0, bytesFreed: 0, segmentsRewritten: 0, segmentsDeleted: 0 }
    // Protection starts before the epoch advances and before the snapshots are read: whatever a
    // backup that enters from now on references, and every backup that ends meanwhile, is kept.
    store.protected = new Set()
    store.protectedTrees = []
    const started = store.epochs.advance()
    try {
      const live = new Set<Key>()
      const marked = new Set<string>()
      const markTree = async (root: { cid: CID, id: Uint8Array }): Promise<void> => {
        const stack = [root]
        while (stack.length > 0) {
          signal?.throwIfAborted()
          const ref = stack.pop()!
          const k = keyOf(ref.cid.bytes)
          if (live.has(k)) continue
          live.add(k)
          const node = await this.loadNode(ref)
          if (node.kind === 'dir') {
            for (const e of node.entries) if (e.inline !== undefined) live.add(keyOf(e.cid.bytes)); else stack.push(e)
          }
          else if (node.kind === 'file') for (const c of node.chunks) live.add(keyOf(c.cid.bytes))
        }
      }
      /** Marks every snapshot not marked yet (those written since the last call too). */
      const markSnapshots = async (): Promise<void> => {
        const { own, foreign, damaged } = await this.records()
        if (foreign.length > 0) throw new SharedReplicaError({ foreign: foreign.length })
        // A damaged record's tree cannot be walked: its blocks would look dead. Nothing is removed.
        if (damaged.length > 0) throw new SnapshotDamagedError(damaged[0].id, `${damaged[0].reason}, so prune cannot tell which blocks it needs and removed nothing`)
        for (const f of await store.forgetRecords()) live.add(keyOf(f.bytes))
        for (const s of own) {
          if (marked.has(s.id)) continue
          marked.add(s.id)
          live.add(keyOf(CID.parse(s.id).bytes))
          await markTree(this.rootOf(s))
        }
      }
      /** Marks below the trees backups reused from their parents since the last call. */
      const markReused = async (): Promise<void> => {
        for (let ref = store.protectedTrees!.shift(); ref !== undefined; ref = store.protectedTrees!.shift()) {
          live.delete(keyOf(ref.cid.bytes)) // the root itself is protected; walk below it all the same
          await markTree(ref)
        }
      }
      await markSnapshots()
      // A backup that began before the epoch advanced may have deduplicated against a block
      // before protection began: wait for it to end, then mark the snapshot it wrote.
      if (store.epochs.count(started, ['write']) > 0) {
        await store.epochs.drained(started, ['write'], signal)
        await markSnapshots()
      }
      await markReused()
      await store.flush()
      const current = store.log.tail?.segment
      const perSeg = new Map<number, { live: number, dead: number }>()
      const dead = new Map<Key, number>()
      for await (const { cid, loc } of store.entries()) {
        const k = keyOf(cid)
        const s = perSeg.get(loc.segment) ?? { live: 0, dead: 0 }
        perSeg.set(loc.segment, s)
        if (live.has(k) || store.protected.has(k)) s.live += loc.length
        else { s.dead += loc.length; dead.set(k, loc.length) }
      }
      const { rewrite, drop } = segmentsToReclaim(perSeg, current)
      // Segments no index entry points into (left by a crash). While a backup runs, its threads
      // may be filling segments they have not reported yet: leave every unindexed one alone then.
      if (store.writers === 0) for (const seg of store.log.segments()) if (!perSeg.has(seg) && seg !== current) drop.push(seg)
      await markReused()
      const gone = new Set(dead.keys())
      for (const k of live) gone.delete(k)
      // Lookups and reuse wait while the index entries go (the last mark runs with them held).
      await store.forgetBlocks(gone, async () => {
        await markReused()
        for (const k of live) gone.delete(k)
      })
      for (const k of gone) { result.blocksRemoved++; result.bytesFreed += dead.get(k)! }
      // Every block still indexed in a segment about to go moves first: live ones, and dead
      // ones a backup took up again after the sweep decided.
      const leaving = [...rewrite, ...drop]
      if (leaving.length > 0) store.log.seal()
      for (const seg of leaving) {
        let moved = 0
        for (const r of store.log.scan(seg, 0).records) {
          const loc = await store.location(CID.decode(r.cid))
          if (loc === undefined || loc.segment !== seg || loc.offset !== r.location.offset) continue
          store.move(r.cid, r.id, store.log.read(r.location))
          moved++
        }
        if (rewrite.includes(seg) || moved > 0) result.segmentsRewritten++
      }
      await store.flush()
      // A reader or writer that entered before now may still hold a location in those segments.
      const unlinked = store.epochs.advance()
      await store.epochs.drained(unlinked)
      for (const seg of leaving) {
        await store.dropSegment(seg)
        if (drop.includes(seg)) result.segmentsDeleted++
      }
      return result
    } catch (err) {
      throw diskFull(err, this.dir)
    } finally {
      store.protected = undefined
      store.protectedTrees = undefined
    }
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
      }, this.rootOf(snap))
      if (r.rootLost || r.root === undefined) { out.push({ from: snap.id, lost: r.lost }); continue }
      const body: RecordBody = {
        v: 1, root: r.root.cid.toString(), rootId: Buffer.from(r.root.id).toString('base64'), time: snap.time, host: snap.host, task: snap.task,
        paths: snap.paths, level: snap.level, ...(snap.parent !== undefined ? { parent: snap.parent } : {}), stats: snap.stats,
        repaired: { from: snap.id, lost: r.lost }
      }
      const sealed = sealRecord(this.keys, Buffer.from(JSON.stringify(body)))
      const cid = cidOf(sealed)
      this.blocks.append(cid.bytes, undefined, sealed)
      await this.blocks.addSnapshotRoot(cid)
      out.push({ from: snap.id, id: cid.toString(), lost: r.lost })
    }
    await this.blocks.forgetChunkIds(healed)
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

/** A full disk named as such (with the store it holds), any other error as it is. */
function diskFull (err: unknown, dir: string): unknown {
  return isDiskFull(err) && !(err instanceof DiskFullError) ? new DiskFullError(dir, { cause: err }) : err
}

/** A snapshot listed in the index whose record cannot be read. */
export interface DamagedSnapshot { id: string, reason: string }

function parseRecordBody (plain: Uint8Array): RecordBody | undefined {
  try {
    const b = JSON.parse(Buffer.from(plain).toString()) as RecordBody
    if (b.v !== 1 || typeof b.root !== 'string' || typeof b.rootId !== 'string' || typeof b.time !== 'string') return undefined
    CID.parse(b.root)
    return b
  } catch {
    return undefined
  }
}

/** What `repairSnapshots` did for one damaged snapshot: the new snapshot's id (none when its root cannot be read) and the paths left out. */
export interface SnapshotRepair { from: string, id?: string, lost: string[] }

function toRecord (cid: CID, b: RecordBody): SnapshotRecord {
  return { id: cid.toString(), root: b.root, time: b.time, host: b.host, task: b.task, paths: b.paths, level: b.level, ...(b.parent !== undefined ? { parent: b.parent } : {}), stats: b.stats, ...(b.repaired !== undefined ? { repaired: b.repaired } : {}) }
}

// -- key slots (passphrases; token and recovery slots come with the keys issue) ----------

export async function addPassphrase (dir: string, current: string, added: string, label = 'passphrase', kdf?: ScryptParams): Promise<KeySlot> {
  const file = readKeyFile(dir)
  const { payload } = await unlockWithSecret(file, current)
  const slot = await passphraseSlot(added, payload, label, kdf)
  writeKeyFile(dir, { ...file, slots: [...file.slots, slot] })
  return slot
}

export async function removeKeySlot (dir: string, current: string, slotId: string): Promise<void> {
  const file = readKeyFile(dir)
  await unlockWithSecret(file, current)
  if (!file.slots.some(s => s.id === slotId)) throw new KeySlotError(`No key slot with id ${slotId}; list them with "cairn key list".`)
  if (file.slots.length === 1) throw new KeySlotError('Refusing to remove the last key slot: the store could never be opened again. Add another slot first.')
  writeKeyFile(dir, { ...file, slots: file.slots.filter(s => s.id !== slotId) })
}

export async function changePassphrase (dir: string, current: string, next: string, kdf?: ScryptParams): Promise<KeySlot> {
  const file = readKeyFile(dir)
  const { payload, slot: old } = await unlockWithSecret(file, current)
  const slot = await passphraseSlot(next, payload, old.label, kdf)
  writeKeyFile(dir, { ...file, slots: file.slots.map(s => s.id === old.id ? slot : s) })
  return slot
}

export function listKeySlots (dir: string): Array<Omit<KeySlot, 'wrapped' | 'kdf'>> {
  return readKeyFile(dir).slots.map(({ wrapped: _w, kdf: _k, ...rest }) => rest)
}

