import { createHash } from 'node:crypto'
import { chmodSync, chownSync, lchownSync, linkSync, lstatSync, lutimesSync, rmSync, symlinkSync, unlinkSync, utimesSync } from 'node:fs'
import type { CID } from 'multiformats/cid'
import { BlockNotFoundError, PathNotFoundError } from './errors.ts'
import { OperationAbortedError } from '../crypto/index.ts'
import { childPath, rawName, showPath } from './file-name.ts'
import type { FsPath } from './file-name.ts'
import type { LocalBlockStore } from './local-block-store.ts'
import { makeDir, prepareRestoreTarget } from './restore-target.ts'
import { fsTime, inlineFileNode } from './tree-node.ts'
import type { DirEntry, DirNode, FileNode, SymlinkNode, TreeNode } from './tree-node.ts'
import type { WorkerPool } from './worker-pool.ts'
import type { FromWorker, RestoreFileJob } from './worker-protocol.ts'
import { setNanosecondTimes } from './nanosecond-times.ts'
import type { ConflictMode, RestoreOptions, RestoreResult } from './types.ts'

type NsTime = Parameters<typeof setNanosecondTimes>[0][number]
const fsPath = (p: string | Uint8Array): FsPath => typeof p === 'string' ? p : Buffer.from(p)

/** A file's name while it is being written: hidden, fixed per name (a rerun reuses it), short whatever the name's length. */
function partialPath (dir: FsPath, name: Buffer): FsPath {
  return childPath(dir, Buffer.from(`.cairn-partial-${createHash('sha256').update(name).digest('hex').slice(0, 16)}`))
}

const JOB_FILES = 128
const JOB_BYTES = 16 << 20
const INFLIGHT_FILES = 4096

export interface RestorerDeps {
  store: LocalBlockStore
  loadNode: (ref: { cid: CID, id: Uint8Array }) => Promise<TreeNode>
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

  constructor (private readonly deps: RestorerDeps, private readonly options: RestoreOptions, private readonly bytesTotal: number) {
    this.conflict = options.conflict ?? 'overwrite'
    this.includes = (options.include ?? []).map(p => p.split('/').filter(Boolean))
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
      await this.restoreDir(root, this.options.target, [], true)
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

  private async restoreDir (node: DirNode, target: FsPath, path: string[], isRoot: boolean): Promise<void> {
    if (!isRoot) makeDir(target, this.targetReal)
    this.dirs.push({ path: target, node })
    this.result.dirs++
    const files: Array<{ e: DirEntry, target: FsPath, dir: FsPath }> = []
    for (const e of node.entries) {
      this.check()
      const p = [...path, e.name]
      const sel = this.selected(p)
      if (sel === 'none') continue
      const t = childPath(target, rawName(e.name))
      if (e.kind === 'dir') {
        let dir: DirNode
        try { dir = await this.deps.loadNode(e) as DirNode } catch (err) { this.lose(t, err); continue }
        await this.restoreDir(dir, t, p, false)
      } else if (sel === 'all' && e.kind === 'symlink') {
        let s: SymlinkNode
        try { s = await this.deps.loadNode(e) as SymlinkNode } catch (err) { this.lose(t, err); continue }
        if (!this.prepare(t, s.mtimeNs)) continue
        symlinkSync(s.target, t)
        this.applyMeta(t, s, true)
        this.result.symlinks++
      } else if (sel === 'all' && e.kind === 'file') {
        if (e.nlink > 1) {
          const key = `${e.dev}:${e.ino}`
          const first = this.firstLink.get(key)
          if (first !== undefined) { this.links.push({ from: first, to: t }); continue }
          // Decide the conflict now: a name kept as it is must not become the source of the links.
          let node: FileNode
          try { node = inlineFileNode(e) ?? await this.deps.loadNode(e) as FileNode } catch (err) { this.lose(t, err); continue }
          if (!this.prepare(t, node.mtimeNs, true)) continue
          this.firstLink.set(key, t)
        }
        files.push({ e, target: t, dir: target })
      }
    }
    await this.restoreFiles(files)
  }

  private async restoreFiles (files: Array<{ e: DirEntry, target: FsPath, dir: FsPath }>): Promise<void> {
    if (files.length === 0) return
    const nodes: Array<FileNode | undefined> = []
    for (const f of files) {
      try { nodes.push(inlineFileNode(f.e) ?? await this.deps.loadNode(f.e) as FileNode) } catch (err) { this.lose(f.target, err); nodes.push(undefined) }
    }
    const cids = nodes.flatMap(n => n?.chunks.map(c => c.cid.bytes) ?? [])
    const locs = await this.deps.store.locations(cids)
    let k = 0
    for (let i = 0; i < files.length; i++) {
      const node = nodes[i]
      if (node === undefined) continue
      const missing = node.chunks.find((_, j) => locs[k + j] === undefined)
      const chunks = node.chunks.map(c => ({ ...locs[k++]!, id: c.id, size: c.size, cid: c.cid.toString() }))
      if (missing !== undefined) { this.lose(files[i].target, new BlockNotFoundError(missing.cid.toString())); continue }
      if (!this.prepare(files[i].target, node.mtimeNs, true)) continue
      while (this.inflight >= INFLIGHT_FILES) {
        this.sendJob()
        await new Promise<void>(resolve => { this.waiter = resolve })
        this.check()
      }
      this.inflight++
      this.batch.push({ index: this.batch.length, path: files[i].target, partial: partialPath(files[i].dir, rawName(files[i].e.name)), size: node.size, mode: node.mode, uid: node.uid, gid: node.gid, mtimeNs: node.mtimeNs, sparse: node.sparse, chunks })
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

  private applyMeta (path: FsPath, node: { mode: number, uid: number, gid: number, mtimeNs: bigint }, symlink: boolean): void {
    const t = fsTime(node.mtimeNs)
    try {
      if (symlink) {
        if (this.chown) lchownSync(path, node.uid, node.gid)
        lutimesSync(path, t, t)
      } else {
        if (this.chown) chownSync(path, node.uid, node.gid)
        chmodSync(path, node.mode & 0o7777)
        utimesSync(path, t, t)
      }
      this.times.push({ path, ns: node.mtimeNs, symlink })
    } catch (err) {
      this.result.warnings.push(`${showPath(path)}: metadata not restored (${(err as Error).message})`)
    }
  }
}
