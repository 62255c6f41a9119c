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
import { checkSnapshots } from './checker.ts'
import { checkForgetPolicy, segmentsToReclaim, snapshotsToForget } from './retention.ts'
import { BlockSealer, cidOf, suiteByName } from './codec.ts'
import {
  InvalidOptionError, KeySlotError, LastSnapshotError, PathNotFoundError, SnapshotNotFoundError,
  ReplicaNotAStoreError, SharedReplicaError, StoreCorruptError, StoreExistsError, StoreNotFoundError
} from './errors.ts'
import { DEFAULT_CDC, FIXED_SIZES } from './fastcdc.ts'
import { keyOf, LocalBlockStore } from './local-block-store.ts'
import type { Key } from './local-block-store.ts'
import type { Repository } from './repository-api.ts'
import { Restorer } from './restorer.ts'
import { isReplica } from './replica-marker.ts'
import { decodeNode, inlineFileNode } from './tree-node.ts'
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
  const store = await LocalBlockStore.open(join(dir, 'index'), join(dir, 'segments'))
  // A replica given a lost site's escrowed config and keys (F13) reads that site's snapshots;
  // its blocks are every site's, so it stays unchanged (SharedReplicaError), as through the daemon.
  return new LocalRepository(dir, config, keys, suite, store, { shared: isReplica(dir) })
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
}

export class LocalRepository implements Repository {
  private readonly sealer: BlockSealer

  /** Over a block store it does not own (a mesh replica): it changes nothing there and never closes it. */
  readonly shared: boolean

  constructor (readonly dir: string, readonly config: StoreConfig, readonly keys: SpaceKeys, readonly suite: CipherSuite, readonly blocks: LocalBlockStore, options: { shared?: boolean } = {}) {
    this.sealer = new BlockSealer(keys, suite, config.compression)
    this.shared = options.shared === true
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
    this.blocks.append(cid.bytes, undefined, sealed)
    await this.blocks.addSnapshotRoot(cid)
    return toRecord(cid, body)
  }

  async snapshots (filter: { task?: string } = {}): Promise<Array<SnapshotRecord & { rootId?: string }>> {
    const { own } = await this.records()
    return own.filter(r => filter.task === undefined || r.task === filter.task).sort((a, b) => a.time.localeCompare(b.time))
  }

  /**
   * The snapshot records here, opened, and the CIDs of those of other stores: a mesh replica
   * (F13) holds several sites' blocks, so a DR site opens it with one site's keys and sees that
   * site's snapshots. A record is another store's only if its bytes match its CID and still do
   * not open; a damaged one is an error.
   */
  private async records (): Promise<{ own: Array<SnapshotRecord & { rootId?: string }>, foreign: CID[] }> {
    if (this.writeOnly) throw new WriteOnlyKeyError('Listing snapshots')
    const own: Array<SnapshotRecord & { rootId?: string }> = []
    const foreign: CID[] = []
    for (const cid of await this.blocks.snapshotRoots()) {
      const plain = openRecord(this.keys, await this.blocks.get(cid, { verify: true }))
      if (plain === null) { foreign.push(cid); continue }
      const body = JSON.parse(Buffer.from(plain).toString()) as RecordBody
      own.push({ ...toRecord(cid, body), rootId: body.rootId })
    }
    return { own, foreign }
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
    throw new SnapshotNotFoundError(ref, hits.length > 1 ? ` uniquely (${hits.length} snapshots start with it; give more characters)` : '')
  }

  async restore (options: RestoreOptions): Promise<RestoreResult> {
    const snap = await this.resolveSnapshot(options.snapshot)
    const root = await this.loadNode(this.rootOf(snap)) as DirNode
    const restorer = new Restorer({
      store: this.blocks,
      loadNode: async ref => await this.loadNode(ref),
      makePool: this.makePool(this.config.compression, this.config.chunker)
    }, options, snap.stats.bytesTotal)
    return await restorer.run(root)
  }

  async * ls (snapshot: string, path = '/'): AsyncIterable<TreeEntry> {
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
    const snaps = options.snapshot !== undefined ? [await this.resolveSnapshot(options.snapshot)] : await this.snapshots()
    return await checkSnapshots({
      store: this.blocks, sealer: this.sealer, makePool: this.makePool(this.config.compression, this.config.chunker)
    }, snaps.map(s => ({ name: s.id.slice(0, 12), ...this.rootOf(s) })), options.readData === true, options.signal)
  }

  async forget (policy: ForgetPolicy): Promise<SnapshotRecord[]> {
    this.refuseShared('removing copies by retention')
    checkForgetPolicy(policy)
    const removed = snapshotsToForget(await this.snapshots({ task: policy.task }), policy, policy.now ?? new Date())
    for (const s of removed) await this.blocks.removeSnapshotRoot(CID.parse(s.id))
    return removed
  }

  async removeSnapshot (id: string, options: { force?: boolean } = {}): Promise<void> {
    this.refuseShared('removing a copy')
    const snap = await this.resolveSnapshot(id)
    const same = await this.snapshots({ task: snap.task })
    if (same.length === 1 && options.force !== true) throw new LastSnapshotError(snap.task)
    await this.blocks.removeSnapshotRoot(CID.parse(snap.id))
  }

  /**
   * Mark and sweep (F19). Blocks that a backup running meanwhile reads or writes are
   * recorded in `blocks.protected` and kept, so a backup never waits for a prune.
   */
  async prune (options: { signal?: AbortSignal } = {}): Promise<PruneResult> {
    this.refuseShared('pruning')
    // A write-only key opens no record, so every record would look like another store's.
    if (this.writeOnly) throw new WriteOnlyKeyError('Pruning')
    const store = this.blocks
    const result: PruneResult = { blocksRemoved: 0, bytesFreed: 0, segmentsRewritten: 0, segmentsDeleted: 0 }
    // Protection starts before the snapshots are read: a backup that ends meanwhile keeps its blocks.
    store.protected = new Set()
    try {
      const { own, foreign } = await this.records()
      if (foreign.length > 0) throw new SharedReplicaError({ foreign: foreign.length })
      const live = new Set<Key>()
      for (const s of own) {
        live.add(keyOf(CID.parse(s.id).bytes))
        const stack = [this.rootOf(s)]
        while (stack.length > 0) {
          if (options.signal?.aborted === true) throw options.signal.reason
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
      await store.flush()
      const current = store.log.tail?.segment
      const perSeg = new Map<number, { live: number, dead: number }>()
      const dead = new Set<Key>()
      for await (const { cid, loc } of store.entries()) {
        const k = keyOf(cid)
        const s = perSeg.get(loc.segment) ?? { live: 0, dead: 0 }
        perSeg.set(loc.segment, s)
        if (live.has(k) || store.protected.has(k)) s.live += loc.length
        else { s.dead += loc.length; dead.add(k); result.blocksRemoved++; result.bytesFreed += loc.length }
      }
      const { rewrite, drop } = segmentsToReclaim(perSeg, current)
      // Segments no index entry points into (left by a crash). While a backup runs, its threads
      // may be filling segments they have not reported yet: leave every unindexed one alone then.
      if (store.writers === 0) for (const seg of store.log.segments()) if (!perSeg.has(seg) && seg !== current) drop.push(seg)
      if (rewrite.length > 0) {
        store.log.seal()
        for (const seg of rewrite) {
          for (const r of store.log.scan(seg, 0).records) {
            const k = keyOf(r.cid)
            if (dead.has(k)) continue
            const loc = await store.location(CID.decode(r.cid))
            if (loc === undefined || loc.segment !== seg) continue
            store.move(r.cid, r.id, store.log.read(r.location))
          }
          result.segmentsRewritten++
        }
        await store.flush()
      }
      await store.forgetBlocks(dead)
      for (const seg of [...rewrite, ...drop]) {
        await store.dropSegment(seg)
        if (drop.includes(seg)) result.segmentsDeleted++
      }
      return result
    } finally {
      store.protected = undefined
    }
  }

  /** A write-only copy of this store's keys (for a branch node that may back up but not read). */
  exportWriteOnly (): SpaceKeys {
    return writeOnlyKeys(this.keys)
  }

  async close (): Promise<void> {
    if (!this.shared) await this.blocks.close()
  }
}

function toRecord (cid: CID, b: RecordBody): SnapshotRecord {
  return { id: cid.toString(), root: b.root, time: b.time, host: b.host, task: b.task, paths: b.paths, level: b.level, ...(b.parent !== undefined ? { parent: b.parent } : {}), stats: b.stats }
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

