import { createHash } from 'node:crypto'
import { chmodSync, chownSync, lchownSync, linkSync, lstatSync, lutimesSync, readdirSync, rmSync, symlinkSync, unlinkSync, utimesSync } from 'node:fs'
import type { CID } from 'multiformats/cid'
import { BlockNotFoundError, PathNotFoundError } from './errors.ts'
import { OperationAbortedError } from '../crypto/index.ts'
import { childPath, rawName, showPath } from './file-name.ts'
import type { FsPath } from './file-name.ts'
import type { BlockLocation } from './block-store.ts'
import type { LocalBlockStore } from './local-block-store.ts'
import { makeDir, prepareRestoreTarget } from './restore-target.ts'
import { fsTime, inlineFileNode } from './tree-node.ts'
import type { DirEntry, DirNode, FileNode, SymlinkNode, TreeNode } from './tree-node.ts'
import type { WorkerPool } from './worker-pool.ts'
import type { FromWorker, RestoreFileJob } from './worker-protocol.ts'
import { setNanosecondTimes } from './nanosecond-times.ts'
import { writeXattrs } from './xattrs.ts'
import type { Xattr } from './xattrs.ts'
import type { ConflictMode, RestoreOptions, RestoreResult } from './types.ts'

type NsTime = Parameters<typeof setNanosecondTimes>[0][number]
const fsPath = (p: string | Uint8Array): FsPath => typeof p === 'string' ? p : Buffer.from(p)

/** A file's name while it is being written: hidden, fixed per name (a rerun reuses it), short whatever the name's length. */
function partialPath (dir: FsPath, name: Buffer): FsPath {
  return childPath(dir, Buffer.from(`.cairn-partial-${createHash('sha256').update(name).digest('hex').slice(0, 16)}`))
}

/** A file of a folder, its node loaded, waiting to be sent to a worker; `ready` applies the conflict mode. */
interface RestoreFile { e: DirEntry, node: FileNode, target: FsPath, dir: FsPath, ready: () => boolean }

const JOB_FILES = 128
const JOB_BYTES = 16 << 20
const INFLIGHT_FILES = 4096

export interface RestorerDeps {
  store: LocalBlockStore
  /** A tree node, from its location when the caller looked it up already. */
  loadNode: (ref: { cid: CID, id: Uint8Array }, location?: BlockLocation) => Promise<TreeNode>
  makePool: (onMessage: (m: FromWorker, worker: number) => void) => WorkerPool
}

/**
 * Restores a snapshot tree into a target folder (F7). Directories, symlinks and hardlinks are
 * made on this thread; file contents are read, opened and written by the worker pool. Directory
 * metadata is applied last, deepest first, so writing into a directory does not change its mtime.
 * An entry that cannot be restored (a block missing or damaged) is listed in `failed` and the
 * rest is restored; a file appears under its name only once complete.
 */
export class Restorer {
  private readonly result: RestoreResult = { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, bytes: 0, skipped: 0, durationMs: 0, warnings: [], failed: [] }
  private pool!: WorkerPool
  private jobSeq = 0
  private batch: RestoreFileJob[] = []
  private batchBytes = 0
  private readonly jobs = new Map<number, { worker: number, weight: number, times: NsTime[] }>()
  /** Entries restored, with their mtime: set again to the nanosecond at the end (nanosecond-times.ts). */
  private readonly times: NsTime[] = []
  private inflight = 0
  private waiter: (() => void) | undefined
  private allDone: (() => void) | undefined
  private failure: unknown
  private readonly dirs: Array<{ path: FsPath, node: DirNode }> = []
  private readonly links: Array<{ from: FsPath, to: FsPath }> = []
  private readonly firstLink = new Map<string, FsPath>()
  private readonly chown = process.getuid?.() === 0
  private readonly conflict: ConflictMode
  private readonly includes: string[][]
  private lastProgress = 0
  private targetReal = '/'
  private readonly xattrs: boolean

  constructor (private readonly deps: RestorerDeps, private readonly options: RestoreOptions, private readonly bytesTotal: number) {
    this.conflict = options.conflict ?? 'overwrite'
    this.includes = (options.include ?? []).map(p => p.split('/').filter(Boolean))
    this.xattrs = options.xattrs !== false
  }

  async run (root: DirNode): Promise<RestoreResult> {
    const started = Date.now()
    for (const inc of this.includes) await this.mustExist(root, inc)
    this.targetReal = prepareRestoreTarget(this.options.target)
    this.pool = this.deps.makePool((m, w) => this.onMessage(m, w))
    this.pool.onFailure(err => this.fail(err))
    const abort = (): void => this.fail(new OperationAbortedError('The restore'))
    this.options.signal?.addEventListener('abort', abort)
    try {
      await this.restoreDir(root, this.options.target, [], readdirSync(this.options.target).length === 0)
      this.sendJob()
      if (this.inflight > 0) await new Promise<void>(resolve => { this.allDone = resolve })
      this.check()
      for (const { from, to } of this.links) {
        try {
          if (this.prepare(to, 0n)) { linkSync(from, to); this.result.hardlinks++ }
        } catch (err) {
          this.lose(to, err)
        }
      }
      for (const { path, node } of this.dirs.reverse()) this.applyMeta(path, node, false)
      const coarse = setNanosecondTimes(this.times)
      if (coarse > 0) this.result.warnings.push(`${coarse} entries have their times set to the microsecond only (nanoseconds need perl's utimensat on Linux)`)
      this.result.durationMs = Date.now() - started
      this.options.onProgress?.({ type: 'restore:progress', detail: { files: this.result.files, bytes: this.result.bytes, filesTotal: this.result.files, bytesTotal: this.bytesTotal } })
      return this.result
    } finally {
      this.options.signal?.removeEventListener('abort', abort)
      await this.pool.close()
    }
  }

  private fail (err: unknown): void {
    if (this.failure !== undefined) return
    this.failure = err
    this.waiter?.()
    this.allDone?.()
  }

  private check (): void {
    if (this.failure !== undefined) throw this.failure
  }

  /** An entry that cannot be restored (a block missing or damaged): noted, and the restore goes on. */
  private lose (path: FsPath | string, err: unknown): void {
    this.result.failed.push({ path: typeof path === 'string' ? path : showPath(path), error: err instanceof Error ? err.message : String(err) })
  }

  private async mustExist (root: DirNode, parts: string[]): Promise<void> {
    let node: TreeNode = root
    for (const part of parts) {
      const e: DirEntry | undefined = node.kind === 'dir' ? node.entries.find(x => x.name === part) : undefined
      if (e === undefined) throw new PathNotFoundError('/' + parts.join('/'), 'in this snapshot; nothing was restored')
      node = inlineFileNode(e) ?? await this.deps.loadNode(e)
    }
  }

  /** 'all' below an include, 'walk' on the way to one, 'none' elsewhere. */
  private selected (path: string[]): 'all' | 'walk' | 'none' {
    if (this.includes.length === 0) return 'all'
    let walk = false
    for (const inc of this.includes) {
      const n = Math.min(inc.length, path.length)
      if (inc.slice(0, n).every((p, i) => p === path[i])) {
        if (path.length >= inc.length) return 'all'
        walk = true
      }
    }
    return walk ? 'walk' : 'none'
  }

  /**
   * `fresh`: the folder was empty when the restore came to it (made by this restore), so a name
   * in it needs no look for an existing entry, unless the tree names it twice.
   */
  private async restoreDir (node: DirNode, target: FsPath, path: string[], fresh: boolean): Promise<void> {
    this.dirs.push({ path: target, node })
    this.result.dirs++
    // The tree nodes this folder needs, located with one index read instead of one each.
    const wanted: DirEntry[] = []
    const sels = node.entries.map(e => this.selected([...path, e.name]))
    node.entries.forEach((e, i) => {
      if (inlineFileNode(e) === undefined && (e.kind === 'dir' || sels[i] === 'all')) wanted.push(e)
    })
    const locs = wanted.length === 0 ? [] : await this.deps.store.locations(wanted.map(e => e.cid.bytes))
    const located = new Map(wanted.map((e, i) => [e, locs[i]]))
    const load = async (e: DirEntry): Promise<TreeNode> => inlineFileNode(e) ?? await this.deps.loadNode(e, located.get(e))
    const names = fresh ? new Set<string>() : undefined
    const prepare = (t: FsPath, name: string, mtimeNs: bigint, renamed = false): boolean => {
      if (names !== undefined && !names.has(name)) { names.add(name); return true }
      return this.prepare(t, mtimeNs, renamed)
    }
    const files: RestoreFile[] = []
    for (let i = 0; i < node.entries.length; i++) {
      const e = node.entries[i]
      this.check()
      const sel = sels[i]
      if (sel === 'none') continue
      const p = [...path, e.name]
      const t = childPath(target, rawName(e.name))
      if (e.kind === 'dir') {
        let dir: DirNode
        try { dir = await load(e) as DirNode } catch (err) { this.lose(t, err); continue }
        names?.add(e.name)
        const made = makeDir(t, this.targetReal)
        await this.restoreDir(dir, t, p, made)
      } else if (sel === 'all' && e.kind === 'symlink') {
        let s: SymlinkNode
        try { s = await load(e) as SymlinkNode } catch (err) { this.lose(t, err); continue }
        if (!prepare(t, e.name, s.mtimeNs)) continue
        symlinkSync(Buffer.from(s.target), t)
        this.applyMeta(t, s, true)
        this.result.symlinks++
      } else if (sel === 'all' && e.kind === 'file') {
        let first: FsPath | undefined
        const key = `${e.dev}:${e.ino}`
        if (e.nlink > 1) first = this.firstLink.get(key)
        if (first !== undefined) { this.links.push({ from: first, to: t }); continue }
        let node: FileNode
        try { node = await load(e) as FileNode } catch (err) { this.lose(t, err); continue }
        if (e.nlink > 1) {
          // Decide the conflict now: a name kept as it is must not become the source of the links.
          if (!prepare(t, e.name, node.mtimeNs, true)) continue
          this.firstLink.set(key, t)
          files.push({ e, node, target: t, dir: target, ready: () => true })
        } else {
          files.push({ e, node, target: t, dir: target, ready: () => prepare(t, e.name, node.mtimeNs, true) })
        }
      }
    }
    await this.restoreFiles(files)
  }

  private async restoreFiles (files: RestoreFile[]): Promise<void> {
    if (files.length === 0) return
    const cids = files.flatMap(f => f.node.chunks.map(c => c.cid.bytes))
    const locs = await this.deps.store.locations(cids)
    let k = 0
    for (const f of files) {
      const node = f.node
      const missing = node.chunks.find((_, j) => locs[k + j] === undefined)
      const chunks = node.chunks.map(c => ({ ...locs[k++]!, id: c.id, size: c.size, cid: c.cid.toString() }))
      if (missing !== undefined) { this.lose(f.target, new BlockNotFoundError(missing.cid.toString())); continue }
      if (!f.ready()) continue
      while (this.inflight >= INFLIGHT_FILES) {
        this.sendJob()
        await new Promise<void>(resolve => { this.waiter = resolve })
        this.check()
      }
      this.inflight++
      this.batch.push({ index: this.batch.length, path: f.target, partial: partialPath(f.dir, rawName(f.e.name)), size: node.size, mode: node.mode, uid: node.uid, gid: node.gid, mtimeNs: node.mtimeNs, sparse: node.sparse, chunks, ...(this.xattrs && node.xattrs !== undefined ? { xattrs: node.xattrs } : {}) })
      this.batchBytes += node.size
      if (this.batch.length >= JOB_FILES || this.batchBytes >= JOB_BYTES) this.sendJob()
    }
  }

  /**
   * Applies the conflict mode to an existing target path. True when the entry should be written
   * (the old one, if any, is gone — or, for a file `renamed` into place, replaced only when
   * the new one is complete); false when it is kept.
   */
  private prepare (target: FsPath, mtimeNs: bigint, renamed = false): boolean {
    const st = lstatSync(target, { bigint: true, throwIfNoEntry: false })
    if (st === undefined) return true
    if (this.conflict === 'skip' || (this.conflict === 'keep-newer' && st.mtimeNs >= mtimeNs)) {
      this.result.skipped++
      return false
    }
    if (st.isDirectory()) rmSync(target, { recursive: true }); else if (!renamed) unlinkSync(target)
    return true
  }

  private sendJob (): void {
    if (this.batch.length === 0) return
    const job = ++this.jobSeq
    const weight = this.batchBytes + this.batch.length * 4096
    const worker = this.pool.dispatch({ t: 'restore', job, files: this.batch, chown: this.chown }, weight)
    this.jobs.set(job, { worker, weight, times: this.batch.map(f => ({ path: fsPath(f.path), ns: f.mtimeNs, symlink: false })) })
    this.batch = []
    this.batchBytes = 0
  }

  private onMessage (m: FromWorker, _worker: number): void {
    if (m.t === 'restored') {
      this.inflight--
      this.result.bytes += m.bytes
      if (m.ok) { this.result.files++; this.times.push(this.jobs.get(m.job)!.times[m.index]) } else this.lose(m.path ?? '?', m.error ?? 'unknown error')
      if (m.warnings !== undefined) this.result.warnings.push(...m.warnings)
      this.waiter?.(); this.waiter = undefined
      this.progress()
      if (this.inflight === 0) this.allDone?.()
    } else if (m.t === 'done') {
      const job = this.jobs.get(m.job)!
      this.pool.done(job.worker, job.weight)
      this.jobs.delete(m.job)
    }
  }

  private progress (): void {
    const now = Date.now()
    if (this.options.onProgress === undefined || now - this.lastProgress < 200) return
    this.lastProgress = now
    this.options.onProgress({ type: 'restore:progress', detail: { files: this.result.files, bytes: this.result.bytes, filesTotal: 0, bytesTotal: this.bytesTotal } })
  }

  /** Owner, mode, then extended attributes (a chown clears security.capability), then times. */
  private applyMeta (path: FsPath, node: { mode: number, uid: number, gid: number, mtimeNs: bigint, xattrs?: Xattr[] }, symlink: boolean): void {
    const t = fsTime(node.mtimeNs)
    try {
      if (symlink) {
        if (this.chown) lchownSync(path, node.uid, node.gid)
        if (this.xattrs) this.result.warnings.push(...writeXattrs(path, node.xattrs))
        lutimesSync(path, t, t)
      } else {
        if (this.chown) chownSync(path, node.uid, node.gid)
        chmodSync(path, node.mode & 0o7777)
        if (this.xattrs) this.result.warnings.push(...writeXattrs(path, node.xattrs))
        utimesSync(path, t, t)
      }
      this.times.push({ path, ns: node.mtimeNs, symlink })
    } catch (err) {
      this.result.warnings.push(`${showPath(path)}: metadata not restored (${(err as Error).message})`)
    }
  }
}
