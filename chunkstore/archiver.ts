import { lstatSync, readdirSync, readlinkSync } from 'node:fs'
import type { BigIntStats } from 'node:fs'
import { resolve, sep } from 'node:path'
import { CID } from 'multiformats/cid'
import type { BlockSealer } from './codec.ts'
import { InvalidOptionError, PathNotFoundError } from './errors.ts'
import { OperationAbortedError } from '../crypto/index.ts'
import { excluder } from './exclude.ts'
import { childPath, nodeName, showPath } from './file-name.ts'
import type { FsPath } from './file-name.ts'
import { keyOf } from './index-layout.ts'
import { ReachedBlocks } from './manifest.ts'
import type { LocalBlockStore } from './local-block-store.ts'
import { BLOCK_CID_LENGTH } from './block-store.ts'
import type { BlockLocation } from './block-store.ts'
import { decodeNode, encodeNode } from './tree-node.ts'
import type { DirEntry, DirNode } from './tree-node.ts'
import type { WorkerPool } from './worker-pool.ts'
import { hasXattrs, readXattrs } from './xattrs.ts'
import type { Xattr } from './xattrs.ts'
import { fileKey, openForWriting } from './open-files.ts'
import type { BlocksMessage, FileDone, FilesDone, FromWorker, IdsMessage } from './worker-protocol.ts'
import type { BackupOptions, BackupProgress, BackupStats } from './types.ts'

/** A directory whose walk is over; `done` resolves once all its children are stored (an object, so `await` does not wait for it). */
interface Pending { done: Promise<NodeRef | null> }

/** A stored node: what a parent links to. */
export interface NodeRef { cid: CID, id: Uint8Array, tsize: number }

const JOB_FILES = 128
const JOB_BYTES = 8 << 20
const INFLIGHT_BYTES = 64 << 20
const INFLIGHT_FILES = 2048
/**
 * Entries of the parent snapshot's directory nodes prefetched at most (a decoded entry costs
 * about 1 KiB: CIDs, ids, bigints). Each node leaves the cache when the walk takes it.
 */
const PREFETCH_ENTRIES = 65_536
/** Reused multi-chunk file nodes read per index lookup (reachReusedFiles). */
const REUSED_BATCH = 1024

interface Deferred<T> { promise: Promise<T>, resolve: (v: T) => void, reject: (e: unknown) => void }
function deferred<T> (): Deferred<T> {
  let resolve!: (v: T) => void; let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

export interface ArchiverDeps {
  store: LocalBlockStore
  sealer: BlockSealer
  /** Opens a tree node of the parent snapshot (the metadata cache). */
  loadNode: (ref: { cid: CID, id: Uint8Array }, location?: BlockLocation) => Promise<ReturnType<typeof decodeNode>>
  makePool: (onMessage: (m: FromWorker, worker: number) => void) => WorkerPool
}

/**
 * Backs up a set of paths into a tree of sealed nodes and returns the root. Directories are
 * walked depth-first on this thread; files go to the worker pool in jobs (small files grouped)
 * and a directory's node is written once all its children are. In-flight work is bounded, so
 * memory does not grow with the size of the data.
 */
export class Archiver {
  private readonly stats: BackupStats = {
    files: 0, dirs: 0, symlinks: 0, filesUnchanged: 0, bytesTotal: 0, bytesRead: 0,
    chunksNew: 0, bytesNew: 0, bytesStored: 0, durationMs: 0, warnings: []
  }

  private pool!: WorkerPool
  private readonly excluded: (p: string) => boolean
  private jobSeq = 0
  private readonly jobs = new Map<number, { worker: number, weight: number, files: Array<Deferred<FileDone | null>>, sizes: number[] }>()
  private current: { files: Array<{ path: FsPath, size: number, done: Deferred<FileDone | null> }>, bytes: number } = { files: [], bytes: 0 }
  private inflightBytes = 0
  private inflightFiles = 0
  private capacity: Deferred<void> | undefined
  private readonly claims = new Map<string, Deferred<Uint8Array>>()
  private failure: unknown
  private readonly failed = deferred<never>()
  private lastProgress = 0
  private currentFile = ''
  /** The parent snapshot's directory nodes, prefetched (see prefetchParent); each leaves when the walk takes it. */
  private readonly parentNodes = new Map<string, DirNode>()
  private readonly prefetchEntries: number
  /** Entries of the nodes in `parentNodes` now, and at most during the run (the bound tests read). */
  prefetched = 0
  peakPrefetched = 0
  /** Files to skip because another program writes them (options.openFiles 'skip'). */
  private openElsewhere: Map<string, number> | undefined
  /** Extended attributes are read into the nodes (options.xattrs, default on). */
  private readonly xattrs: boolean
  /** Every block the new snapshot links, for its manifest (manifest.ts), noted as the walk goes. */
  private readonly reached = new ReachedBlocks()
  /** Multi-chunk file nodes reused from the parent snapshot: their chunks are noted once the walk is over. */
  private reusedFiles: DirEntry[] = []

  constructor (private readonly deps: ArchiverDeps, private readonly options: BackupOptions, limits: { prefetchEntries?: number } = {}) {
    this.prefetchEntries = limits.prefetchEntries ?? PREFETCH_ENTRIES
    this.excluded = excluder(options.exclude ?? [])
    this.xattrs = options.xattrs !== false
    this.failed.promise.catch(() => {})
  }

  /** `sources` are the options' paths as `normaliseSources` returns them. */
  async run (sources: string[], parentRoot: { cid: CID, id: Uint8Array } | undefined): Promise<{ root: NodeRef, stats: BackupStats, reached: ReachedBlocks }> {
    const started = Date.now()
    this.pool = this.deps.makePool((m, w) => { this.onMessage(m, w).catch(err => this.fail(err)) })
    this.pool.onFailure(err => this.fail(err))
    const abort = (): void => this.fail(new OperationAbortedError('The backup'))
    this.options.signal?.addEventListener('abort', abort)
    try {
      if (this.options.signal?.aborted === true) abort()
      if (this.options.openFiles === 'skip') this.openElsewhere = await openForWriting()
      const parent = parentRoot !== undefined ? await this.oldDir(parentRoot) : undefined
      if (parent !== undefined) await this.prefetchParent(parent)
      const { done: rootDone } = await this.walkVirtual(sep, trieOf(sources), parent)
      this.sendJob()
      const root = await Promise.race([rootDone, this.failed.promise])
      if (root === null) throw new InvalidOptionError('Nothing to back up: every path was excluded or vanished.')
      await this.reachReusedFiles()
      this.progress('flush', true)
      await this.deps.store.flush()
      this.stats.durationMs = Date.now() - started
      return { root, stats: this.stats, reached: this.reached }
    } catch (err) {
      // Keep what reached the value log: the next run reuses it instead of sealing it again.
      await this.deps.store.flush().catch(() => {})
      throw err
    } finally {
      this.options.signal?.removeEventListener('abort', abort)
      await this.pool.close()
    }
  }

  /**
   * Loads the parent snapshot's directory nodes level by level, one index read per level,
   * instead of one awaited read per directory during the walk. Bounded: it stops at
   * `prefetchEntries` entries (within a level too: one level of a tree of millions of files
   * can hold them all), and the walk loads the rest as it goes.
   */
  private async prefetchParent (root: DirNode): Promise<void> {
    let level = root.entries.filter(e => e.kind === 'dir')
    let entries = root.entries.length
    while (level.length > 0 && entries < this.prefetchEntries) {
      const locs = await this.deps.store.locations(level.map(e => e.cid.bytes))
      const next: DirEntry[] = []
      for (let i = 0; i < level.length; i++) {
        const loc = locs[i]
        if (loc === undefined) continue
        const node = await this.oldDir(level[i], loc)
        if (node === undefined) continue
        const k = keyOf(level[i].cid.bytes)
        if (this.parentNodes.has(k)) continue
        this.parentNodes.set(k, node)
        this.prefetched += node.entries.length
        this.peakPrefetched = Math.max(this.peakPrefetched, this.prefetched)
        entries += node.entries.length
        if (entries >= this.prefetchEntries) return
        for (const e of node.entries) if (e.kind === 'dir') next.push(e)
      }
      level = next
    }
  }

  /**
   * Notes the chunks of the multi-chunk files reused unchanged from the parent snapshot: their
   * nodes are read now, a batch of locations at a time (single-chunk files are their chunk).
   * A node that cannot be read fails the backup, as the snapshot would not be whole.
   */
  private async reachReusedFiles (): Promise<void> {
    const files = this.reusedFiles
    this.reusedFiles = []
    for (let i = 0; i < files.length; i += REUSED_BATCH) {
      this.check()
      const batch = files.slice(i, i + REUSED_BATCH)
      const locs = await this.deps.store.locations(batch.map(e => e.cid.bytes))
      for (let j = 0; j < batch.length; j++) {
        const node = await this.deps.loadNode(batch[j], locs[j])
        if (node.kind === 'file') for (const c of node.chunks) this.reached.reached(c.cid.bytes)
      }
    }
  }

  /**
   * A directory node of the parent snapshot. One that cannot be read (a damaged store) only
   * costs the metadata cache: its files are read again, with a warning, and the backup goes on.
   */
  private async oldDir (e: { cid: CID, id: Uint8Array }, loc?: BlockLocation): Promise<DirNode | undefined> {
    const k = keyOf(e.cid.bytes)
    const cached = this.parentNodes.get(k)
    if (cached !== undefined) {
      // The walk takes each directory once: the cache need not keep it (a second directory
      // with the same node, rare, reads it again).
      this.parentNodes.delete(k)
      this.prefetched -= cached.entries.length
      return cached
    }
    try {
      return await this.deps.loadNode(e, loc) as DirNode
    } catch (err) {
      this.warn(`a directory of the parent snapshot cannot be read (${(err as Error).message}); its files are read again`)
      return undefined
    }
  }

  private fail (err: unknown): void {
    if (this.failure !== undefined) return
    this.failure = err
    this.failed.reject(err)
    this.capacity?.resolve()
  }

  private check (): void {
    if (this.failure !== undefined) throw this.failure
  }

  // -- the walk -------------------------------------------------------------------------

  private async walkVirtual (path: string, trie: Trie, parent: DirNode | undefined): Promise<Pending> {
    const st = lstatSync(path, { bigint: true })
    if (trie.source) return await this.walkDir(path, st, parent)
    const entries: Array<Promise<DirEntry | null>> = []
    const prev = new Map(parent?.entries.map(e => [e.name, e]))
    for (const [name, child] of [...trie.children].sort()) {
      const p = path === sep ? sep + name : path + sep + name
      if (child.source) {
        entries.push(...await this.walkEntries(path, [Buffer.from(name)], prev, parent?.xattrsRead === true))
      } else {
        const cst = lstatSync(p, { bigint: true })
        const prevDir = prev.get(name)
        const sub = await this.walkVirtual(p, child, prevDir?.kind === 'dir' ? await this.oldDir(prevDir) : undefined)
        entries.push(sub.done.then(ref => ref === null ? null : entryOf(name, 'dir', cst, ref, 0)))
      }
    }
    return this.finishDir(path, st, entries)
  }

  /** Walks a real directory; resolves (later) to its node. */
  private async walkDir (path: FsPath, st: BigIntStats, parent: DirNode | undefined, self?: DirEntry): Promise<Pending> {
    let names: Buffer[]
    try {
      names = readdirSync(path, { encoding: 'buffer' })
    } catch (err) {
      this.warn(`${showPath(path)}: cannot list (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); backed up as empty`)
      names = []
    }
    names.sort(Buffer.compare)
    const prev = new Map(parent?.entries.map(e => [e.name, e]))
    return this.finishDir(path, st, await this.walkEntries(path, names, prev, parent?.xattrsRead === true), self, parent)
  }

  /** `prevXattrs`: the parent snapshot's entries here carry their extended attributes (DirNode.xattrsRead). */
  private async walkEntries (dir: FsPath, names: Buffer[], prev: Map<string, DirEntry>, prevXattrs: boolean): Promise<Array<Promise<DirEntry | null>>> {
    const entries: Array<Promise<DirEntry | null>> = []
    // One index read for the locations of the parent snapshot's subdirectories here that
    // were not prefetched.
    const oldDirs = [...prev.values()].filter(e => e.kind === 'dir' && !this.parentNodes.has(keyOf(e.cid.bytes)))
    const locs = new Map<DirEntry, BlockLocation | undefined>()
    if (oldDirs.length > 0) (await this.deps.store.locations(oldDirs.map(e => e.cid.bytes))).forEach((l, i) => locs.set(oldDirs[i], l))
    for (const raw of names) {
      this.check()
      const name = nodeName(raw)
      const p = childPath(dir, raw)
      const shown = showPath(p)
      if (this.excluded(shown)) continue
      const st = lstatSync(p, { bigint: true, throwIfNoEntry: false })
      if (st === undefined) { this.warn(`${shown}: vanished before it could be read; not in this snapshot`); continue }
      const old = prev.get(name)
      if (st.isDirectory()) {
        const oldNode = old?.kind === 'dir' ? await this.oldDir(old, locs.get(old)) : undefined
        const sub = await this.walkDir(p, st, oldNode, old?.kind === 'dir' ? old : undefined)
        entries.push(sub.done.then(ref => ref === null ? null : entryOf(name, 'dir', st, ref, 0)))
      } else if (st.isFile()) {
        this.stats.files++
        this.stats.bytesTotal += Number(st.size)
        const kept = await this.keep(old, 'file', st, Number(st.size), p, prevXattrs)
        if (kept !== undefined) {
          this.stats.filesUnchanged++
          if (old!.inline === undefined) this.reusedFiles.push(old!)
          entries.push(Promise.resolve(kept))
          continue
        }
        const holder = this.openElsewhere?.get(fileKey(st.dev, st.ino))
        if (holder !== undefined) {
          this.stats.files--; this.stats.bytesTotal -= Number(st.size)
          this.warn(`${shown}: open for writing by another program (pid ${holder}); skipped (exclusive-file mode backs it up)`)
          continue
        }
        await this.reserve()
        entries.push(this.file(p, st).then(done => {
          if (done === null) return null
          if (!done.ok) { this.stats.files--; this.stats.bytesTotal -= Number(st.size); return null }
          if (done.inline !== undefined) {
            const { cid, id, ...meta } = done.inline
            this.reached.reached(cid)
            // Tsize is the plaintext size here: the sealed size is unknown for a deduplicated chunk.
            return { ...entryOf(name, 'file', st, { cid: CID.decode(cid), id, tsize: done.size }, done.size, done.changed === true), inline: meta }
          }
          const ref = { cid: CID.decode(done.node!.cid), id: done.node!.id, tsize: done.node!.loc.length }
          this.reached.reached(done.node!.cid)
          const chunks = done.chunks!
          for (let at = 0; at < chunks.length; at += BLOCK_CID_LENGTH) this.reached.reached(chunks.subarray(at, at + BLOCK_CID_LENGTH))
          return entryOf(name, 'file', st, ref, done.size, done.changed === true)
        }))
      } else if (st.isSymbolicLink()) {
        this.stats.symlinks++
        // A link's target never changes in place (a new one is a new inode): unchanged, its node is reused unread.
        const kept = await this.keep(old, 'symlink', st, 0, p, prevXattrs)
        if (kept !== undefined) { entries.push(Promise.resolve(kept)); continue }
        let target: Buffer
        try { target = readlinkSync(p, 'buffer') } catch { this.warn(`${shown}: vanished before it could be read; not in this snapshot`); continue }
        const ref = await this.putNode({ kind: 'symlink', target, mode: Number(st.mode), mtimeNs: st.mtimeNs, uid: Number(st.uid), gid: Number(st.gid), ...this.xattrsOf(p) })
        entries.push(Promise.resolve(entryOf(name, 'symlink', st, ref, 0)))
      } else {
        this.warn(`${shown}: skipped (sockets, FIFOs and device files are not backed up)`)
      }
    }
    return entries
  }

  /**
   * The parent snapshot's entry for this file or symlink, when the metadata cache vouches for
   * it (same size, mtime, ctime and inode; not a full backup): its node is reused unread. A
   * parent snapshot made without extended attributes vouches only for an entry that has none.
   */
  private async keep (old: DirEntry | undefined, kind: 'file' | 'symlink', st: BigIntStats, size: number, p: FsPath, prevXattrs: boolean): Promise<DirEntry | undefined> {
    if (this.options.level === 'full' || old?.kind !== kind || !unchanged(old, st, size)) return undefined
    if (!prevXattrs && this.xattrs && hasXattrs(p)) return undefined
    await this.deps.store.keepTree(old)
    this.reached.reached(old.cid.bytes)
    const nlink = Number(st.nlink)
    // Most entries of a no-change run are the parent's as they are: no copy to collect.
    return old.nlink === nlink && old.dev === st.dev ? old : { ...old, nlink, dev: st.dev }
  }

  private finishDir (path: FsPath, st: BigIntStats, entries: Array<Promise<DirEntry | null>>, old?: DirEntry, oldNode?: DirNode): Pending {
    this.stats.dirs++
    const done = Promise.all(entries).then(async list => {
      if (old !== undefined && oldNode !== undefined && (oldNode.xattrsRead === true) === this.xattrs && sameDir(old, st, oldNode, list)) {
        // Nothing here or below changed: the parent snapshot's node is this node.
        await this.deps.store.keepTree(old)
        this.reached.reached(old.cid.bytes)
        return { cid: old.cid, id: old.id, tsize: old.tsize }
      }
      return await this.putNode({
      kind: 'dir',
      mode: Number(st.mode),
      mtimeNs: st.mtimeNs,
      uid: Number(st.uid),
      gid: Number(st.gid),
      ...this.xattrsOf(path),
      entries: list.filter((e): e is DirEntry => e !== null),
      ...(this.xattrs ? { xattrsRead: true } : {})
    }, old)
    })
    done.catch(() => {})
    return { done }
  }

  private async putNode (node: Parameters<typeof encodeNode>[0], old?: DirEntry): Promise<NodeRef> {
    const { sealer, store } = this.deps
    // Sealing first is cheap for a tree node and gives its size, so a known node needs no second lookup.
    const sealed = sealer.seal(encodeNode(node))
    // Unchanged since the parent snapshot: same plaintext, same id, and the block is known to exist.
    if (old !== undefined && Buffer.from(old.id).equals(sealed.id)) {
      await store.keepTree(old)
      this.reached.reached(old.cid.bytes)
      return { cid: old.cid, id: old.id, tsize: sealed.bytes.length }
    }
    const [known] = await store.lookupIds([sealed.id])
    if (known !== undefined) {
      this.reached.reached(known)
      return { cid: CID.decode(known), id: sealed.id, tsize: sealed.bytes.length }
    }
    store.append(sealed.cid.bytes, sealed.id, sealed.bytes)
    this.reached.reached(sealed.cid.bytes, sealed.bytes.length)
    this.stats.bytesStored += sealed.bytes.length
    return { cid: sealed.cid, id: sealed.id, tsize: sealed.bytes.length }
  }

  /** The entry's extended attributes as a node field (none when off or empty); a read failure is a warning. */
  private xattrsOf (path: FsPath): { xattrs?: Xattr[] } {
    if (!this.xattrs) return {}
    const { xattrs, warning } = readXattrs(path)
    if (warning !== undefined) this.warn(warning)
    return xattrs.length > 0 ? { xattrs } : {}
  }

  private warn (w: string): void {
    this.stats.warnings.push(w)
  }

  // -- files to workers -------------------------------------------------------------------

  /** Waits until in-flight work is below its bounds (the walk pauses, memory stays bounded). */
  private async reserve (): Promise<void> {
    while (this.inflightBytes > INFLIGHT_BYTES || this.inflightFiles > INFLIGHT_FILES) {
      this.sendJob()
      this.capacity ??= deferred()
      await this.capacity.promise
      this.check()
    }
  }

  private async file (path: FsPath, st: BigIntStats): Promise<FileDone | null> {
    const size = Number(st.size)
    const done = deferred<FileDone | null>()
    if (size >= JOB_BYTES) this.sendJob()
    this.current.files.push({ path, size, done })
    this.current.bytes += size
    this.inflightBytes += size
    this.inflightFiles++
    this.currentFile = showPath(path)
    if (this.current.files.length >= JOB_FILES || this.current.bytes >= JOB_BYTES) this.sendJob()
    return await done.promise
  }

  private sendJob (): void {
    const { files, bytes } = this.current
    if (files.length === 0) return
    this.current = { files: [], bytes: 0 }
    const job = ++this.jobSeq
    const weight = bytes + files.length * 4096
    const worker = this.pool.dispatch({ t: 'backup', job, files: files.map((f, index) => ({ index, path: f.path })), xattrs: this.xattrs }, weight)
    this.jobs.set(job, { worker, weight, files: files.map(f => f.done), sizes: files.map(f => f.size) })
  }

  private async onMessage (m: FromWorker, worker: number): Promise<void> {
    switch (m.t) {
      case 'ids': await this.answerIds(m, worker); break
      case 'blocks': this.storeBlocks(m); break
      case 'files': await this.filesDone(m); break
      case 'done': {
        const job = this.jobs.get(m.job)!
        this.pool.done(job.worker, job.weight)
        this.jobs.delete(m.job)
        break
      }
    }
  }

  /** Dedup (F2): tell the worker which chunk ids are new, and the CIDs of the others. */
  private async answerIds (m: IdsMessage, worker: number): Promise<void> {
    const n = m.ids.length / 32
    const ids = Array.from({ length: n }, (_, i) => m.ids.subarray(i * 32, i * 32 + 32))
    const known = await this.deps.store.lookupIds(ids)
    const need = new Uint8Array(n)
    const waits: Array<Promise<void>> = []
    const cids: Array<Uint8Array | null> = known.map(c => c ?? null)
    ids.forEach((id, i) => {
      if (known[i] !== undefined) return
      const k = keyOf(id)
      const claim = this.claims.get(k)
      if (claim !== undefined) {
        waits.push(claim.promise.then(cid => { cids[i] = cid }))
      } else {
        this.claims.set(k, deferred())
        need[i] = 1
      }
    })
    if (waits.length > 0) await Promise.race([Promise.all(waits), this.failed.promise])
    // The worker waits for this answer before it reads on, so pacing here limits the read rate.
    if (this.options.pace !== undefined) await Promise.race([this.options.pace(m.bytes, this.options.signal), this.failed.promise])
    this.pool.send(worker, { t: 'need', job: m.job, batch: m.batch, need, cids })
  }

  private storeBlocks (m: BlocksMessage): void {
    for (const b of m.blocks) {
      this.deps.store.recordWritten(b.cid, b.id, b.loc)
      this.reached.wrote(b.cid, b.loc.length)
      this.stats.chunksNew++
      this.stats.bytesNew += b.size
      this.stats.bytesStored += b.loc.length
      const k = keyOf(b.id)
      this.claims.get(k)?.resolve(b.cid)
      this.claims.delete(k)
    }
    this.progress('backup')
  }

  private async filesDone (m: FilesDone): Promise<void> {
    const job = this.jobs.get(m.job)!
    const stored = m.files.filter(f => f.ok && f.node !== undefined)
    const known = await this.deps.store.lookupIds(stored.map(f => f.node!.id))
    stored.forEach((f, i) => {
      const node = f.node!
      const k = known[i]
      if (k === undefined) {
        this.deps.store.recordWritten(node.cid, node.id, node.loc)
        this.reached.wrote(node.cid, node.loc.length)
        this.stats.bytesStored += node.loc.length
      } else node.cid = k // already stored: the copy just written stays unindexed, for prune
    })
    for (const f of m.files) {
      if (f.ok) this.stats.bytesRead += f.bytesRead
      if (f.warning !== undefined) this.warn(f.warning)
      this.inflightFiles--
      this.inflightBytes -= job.sizes[f.index]
      job.files[f.index].resolve(f)
    }
    this.capacity?.resolve()
    this.capacity = undefined
  }

  private progress (phase: BackupProgress['phase'], force = false): void {
    const now = Date.now()
    if (this.options.onProgress === undefined || (!force && now - this.lastProgress < 200)) return
    this.lastProgress = now
    this.options.onProgress({ type: 'backup:progress', detail: { phase, files: this.stats.files, bytesRead: this.stats.bytesRead, bytesDone: this.stats.bytesRead, currentFile: this.currentFile } })
  }
}

function sameDir (old: DirEntry, st: BigIntStats, oldNode: DirNode, list: Array<DirEntry | null>): boolean {
  if (!unchanged(old, st, 0) || list.length !== oldNode.entries.length) return false
  return list.every((e, i) => {
    const o = oldNode.entries[i]
    return e !== null && e.name === o.name && e.cid.equals(o.cid) && e.size === o.size && e.mtimeNs === o.mtimeNs &&
      e.ctimeNs === o.ctimeNs && e.ino === o.ino && e.dev === o.dev && e.nlink === o.nlink
  })
}

function unchanged (old: DirEntry, st: BigIntStats, size = Number(st.size)): boolean {
  return old.mtimeNs !== 0n && old.size === size && old.mtimeNs === st.mtimeNs && old.ctimeNs === st.ctimeNs && old.ino === st.ino
}

function entryOf (name: string, kind: DirEntry['kind'], st: BigIntStats, ref: NodeRef, size: number, changed = false): DirEntry {
  return {
    name, kind, cid: ref.cid, id: ref.id, tsize: ref.tsize, size,
    // A file that changed while read must not be trusted by the next run's metadata cache.
    mtimeNs: changed ? 0n : st.mtimeNs,
    ctimeNs: st.ctimeNs, ino: st.ino, dev: st.dev, nlink: Number(st.nlink)
  }
}

interface Trie { source: boolean, children: Map<string, Trie> }

/** Absolute, existing, de-duplicated source paths (a path below another source is dropped). */
export function normaliseSources (paths: string[]): string[] {
  if (paths.length === 0) throw new InvalidOptionError('Give at least one path to back up.')
  const abs = [...new Set(paths.map(p => resolve(p)))].sort()
  for (const p of abs) {
    if (lstatSync(p, { throwIfNoEntry: false }) === undefined) throw new PathNotFoundError(p, 'on this machine; nothing was backed up')
  }
  return abs.filter(p => !abs.some(q => q !== p && (q === sep || p.startsWith(q + sep))))
}

function trieOf (sources: string[]): Trie {
  const root: Trie = { source: false, children: new Map() }
  for (const s of sources) {
    if (s === sep) { root.source = true; continue }
    let t = root
    for (const part of s.split(sep).filter(Boolean)) {
      let c = t.children.get(part)
      if (c === undefined) { c = { source: false, children: new Map() }; t.children.set(part, c) }
      t = c
    }
    t.source = true
  }
  return root
}

