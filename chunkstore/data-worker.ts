// A data-path worker thread: reads, cuts, ids, compresses and seals files for backup;
// opens and writes chunks for restore; verifies blocks for check. The main thread keeps
// the index and the value log; a worker only reads segments.
import { closeSync, constants, fchmodSync, fchownSync, fstatSync, ftruncateSync, futimesSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import type { BigIntStats } from 'node:fs'
import { join } from 'node:path'
import { parentPort, workerData } from 'node:worker_threads'
import { CID } from 'multiformats/cid'
import { BlockSealer, matchesCid, suiteByName } from './codec.ts'
import { fastCdc, fixedCutter, gearTable } from './fastcdc.ts'
import type { Cutter } from './fastcdc.ts'
import { encodeNode, fsTime } from './tree-node.ts'
import { StoreCorruptError } from './errors.ts'
import { showPath } from './file-name.ts'
import type { FsPath } from './file-name.ts'
import type { ChunkRef } from './tree-node.ts'
import { BLOCK_CID_LENGTH } from './block-store.ts'
import type { BlockLocation } from './block-store.ts'
import { SparseMap } from './sparse-map.ts'
import { ValueLog } from './value-log.ts'
import { readXattrs, writeXattrs } from './xattrs.ts'
import type { Xattr } from './xattrs.ts'
import type { BackupJob, BlocksMessage, FileDone, FromWorker, ImageOpenJob, NeedReply, RestoreJob, ToWorker, VerifyFailure, VerifyJob, WorkerInit } from './worker-protocol.ts'

const init = workerData as WorkerInit
const port = parentPort!
const suite = suiteByName(init.suite)!
const sealer = new BlockSealer(init.keys, suite, init.level)
const cutter: Cutter = init.chunker.kind === 'cdc' ? fastCdc(gearTable(init.keys.gearSeed), init.chunker) : fixedCutter(init.chunker.size)
const WINDOW = Math.max(8 << 20, cutter.max * 2)
const BATCH_BYTES = 8 << 20
/** Sparse files smaller than this are read whole (asking for their map costs more than reading them). */
const SPARSE_MIN = 1n << 20n

/** The chunk a run of zeros is cut into from a chunk boundary, and its id (computed once). */
let zeros: { length: number, id: Uint8Array } | undefined
function zeroChunk (): { length: number, id: Uint8Array } {
  if (zeros === undefined) {
    const buf = Buffer.alloc(cutter.max)
    const length = cutter.next(buf, 0, buf.length, false)
    zeros = { length, id: sealer.idOf(buf.subarray(0, length)) }
  }
  return zeros
}
const MAX_BATCHES_IN_FLIGHT = 3

// Full-size read windows are reused once every chunk cut from them is sealed. A worker makes
// at most MAX_WINDOWS of them while it has a batch in flight to wait for: the bytes it holds
// are bounded by bytes (it made 7, 56 MiB, on the reference set's full backup without the cap).
// Dropping windows instead made RSS worse: they are freed only when collected.
const MAX_WINDOWS = 4
const freeWindows: Buffer[] = []
let windowsMade = 0

/** Paths that are not valid UTF-8 arrive as bytes (structured clone turns a Buffer into a Uint8Array). */
const fsPath = (p: string | Uint8Array): FsPath => typeof p === 'string' ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength)

const post = (m: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer)
const waiting = new Map<string, (r: NeedReply) => void>()

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'need': waiting.get(`${m.job}/${m.batch}`)?.(m); waiting.delete(`${m.job}/${m.batch}`); break
    case 'backup': queue(async () => await backupJob(m)); break
    case 'restore': queue(async () => restoreJob(m)); break
    case 'verify': queue(async () => verifyJob(m)); break
    case 'image-open': queue(async () => imageOpenJob(m)); break
    case 'close':
      log?.close()
      for (const fd of segFds.values()) closeSync(fd)
      segFds.clear()
      post({ t: 'closed' })
      break
  }
})

// Sealed blocks go to this thread's own segments: the memory is freed where it was allocated
// and the main thread only indexes locations.
let log: ValueLog | undefined
function write (cid: Uint8Array, id: Uint8Array, bytes: Uint8Array): BlockLocation {
  log ??= new ValueLog(init.segmentDir, init.segmentCounter)
  return log.append(cid, id, bytes)
}

// Two jobs at a time: one computes while the other waits for the main thread's dedup answer.
let running = 0
const pending: Array<() => Promise<void>> = []
function queue (fn: () => Promise<void>): void {
  pending.push(fn)
  pump()
}
function pump (): void {
  while (running < 2 && pending.length > 0) {
    const fn = pending.shift()!
    running++
    fn().catch(err => { throw err }).finally(() => { running--; pump() })
  }
}

// ---------------------------------------------------------------------------------------
// backup

interface Chunk { data: Uint8Array, id: Uint8Array, ref: ChunkRef }

async function backupJob (job: BackupJob): Promise<void> {
  let batchNo = 0
  let batch: Chunk[] = []
  let batchBytes = 0
  let windows: Buffer[] = []
  const retire = (b: Buffer): void => { if (b.length === WINDOW) windows.push(b) }
  const inflight: Array<Promise<void>> = []
  const submit = async (): Promise<void> => {
    if (batch.length === 0) { freeWindows.push(...windows); windows = []; return }
    const b = batch; const w = windows; batch = []; batchBytes = 0; windows = []
    inflight.push(resolveBatch(job.job, batchNo++, b).then(() => { freeWindows.push(...w) }))
    if (inflight.length >= MAX_BATCHES_IN_FLIGHT) await inflight.shift()
  }
  const takeWindow = async (size: number): Promise<Buffer> => {
    if (size !== WINDOW) return Buffer.allocUnsafe(size)
    while (freeWindows.length === 0 && windowsMade >= MAX_WINDOWS && inflight.length > 0) await inflight.shift()
    const free = freeWindows.pop()
    if (free !== undefined) return free
    windowsMade++
    return Buffer.allocUnsafeSlow(WINDOW)
  }
  const files: Array<{ f: typeof job.files[number], chunks: ChunkRef[], stat?: BigIntStats, size: number, skipped?: number, warning?: string, changed?: boolean, xattrs?: Xattr[] }> = []
  for (const f of job.files) {
    const rec: typeof files[number] = { f, chunks: [], size: 0 }
    files.push(rec)
    let fd: number
    const path = fsPath(f.path)
    const shown = showPath(path)
    try {
      fd = openSync(path, 'r')
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      rec.warning = code === 'ENOENT' ? `${shown}: vanished before it could be read; not in this snapshot` : `${shown}: cannot be read (${code ?? (err as Error).message}); not in this snapshot`
      continue
    }
    try {
      const before = fstatSync(fd, { bigint: true })
      rec.stat = before
      // A sparse file: holes are taken as zeros without reading them, and a run of whole zero
      // chunks in a hole is cut without looking at it (the cutter's cut depends only on the
      // chunk's bytes, so these are exactly the chunks a full read would give).
      const holes = before.blocks * 512n < before.size && before.size >= SPARSE_MIN ? SparseMap.of(path, Number(before.size)) : undefined
      let base = 0 // the file offset of buf[0]
      // Exactly the file (+1 byte to see EOF) when it is small: chunks keep their buffer alive until sealed.
      let buf = await takeWindow(Math.min(WINDOW, Number(before.size) + 1))
      let start = 0; let end = 0; let eof = false
      while (!eof || start < end) {
        if (!eof && end < buf.length) {
          const n = holes === undefined ? readSync(fd, buf, end, buf.length - end, null) : holes.read(fd, buf, end, buf.length - end, base + end)
          if (n === 0) eof = true
          end += n
          if (!eof && end < buf.length) continue
        }
        for (;;) {
          const zeros = holes !== undefined && end - start >= zeroChunk().length && holes.isHole(base + start, zeroChunk().length)
          const len = zeros ? zeroChunk().length : cutter.next(buf, start, end, eof)
          if (len === 0) break
          const data = buf.subarray(start, start + len)
          const ref: ChunkRef = { cid: undefined as unknown as CID, id: zeros ? zeroChunk().id : sealer.idOf(data), size: len }
          batch.push({ data, id: ref.id, ref })
          rec.chunks.push(ref)
          batchBytes += len
          start += len
          if (start === end) break
        }
        // Every chunk cut from this window is in the current batch now. Copy the unfinished
        // tail out first, then hand the window to that batch, which frees it once sealed.
        const done = eof && start === end
        let next: Buffer | undefined
        if (!done) {
          const tail = buf.subarray(start, end)
          next = await takeWindow(tail.length > buf.length >> 1 ? Math.max(buf.length * 2, WINDOW) : buf.length)
          next.set(tail, 0)
          base += start
          end = tail.length; start = 0
        }
        retire(buf)
        if (batchBytes >= BATCH_BYTES) await submit()
        if (next === undefined) break
        buf = next
      }
      if (job.xattrs) {
        const x = readXattrs(path)
        if (x.xattrs.length > 0) rec.xattrs = x.xattrs
        if (x.warning !== undefined) rec.warning = x.warning
      }
      const after = fstatSync(fd, { bigint: true })
      rec.size = rec.chunks.reduce((n, c) => n + c.size, 0)
      rec.skipped = holes?.holeBytes ?? 0
      if (after.size !== before.size || after.mtimeNs !== before.mtimeNs || BigInt(rec.size) !== before.size) {
        rec.changed = true
        rec.warning = `${shown}: changed while it was being read; the snapshot holds the bytes as read`
      }
    } catch (err) {
      rec.warning = `${shown}: read failed (${(err as Error).message}); not in this snapshot`
      rec.stat = undefined
    } finally {
      closeSync(fd)
    }
  }
  await submit()
  await Promise.all(inflight)
  const results: FileDone[] = []
  for (const rec of files) {
    if (rec.stat === undefined) {
      results.push({ index: rec.f.index, ok: false, warning: rec.warning, size: 0, bytesRead: 0 })
      continue
    }
    const st = rec.stat
    const sparse = st.blocks * 512n < st.size
    if (rec.chunks.length === 1) {
      const c = rec.chunks[0]
      results.push({
        index: rec.f.index, ok: true, warning: rec.warning, changed: rec.changed, size: rec.size, bytesRead: rec.size - (rec.skipped ?? 0),
        inline: { cid: c.cid.bytes, id: c.id, mode: Number(st.mode), uid: Number(st.uid), gid: Number(st.gid), mtimeNs: st.mtimeNs, sparse, ...(rec.xattrs !== undefined ? { xattrs: rec.xattrs } : {}) }
      })
      continue
    }
    const bytes = encodeNode({
      kind: 'file',
      mode: Number(st.mode),
      mtimeNs: st.mtimeNs,
      uid: Number(st.uid),
      gid: Number(st.gid),
      size: rec.size,
      chunks: rec.chunks,
      sparse,
      xattrs: rec.xattrs
    })
    const sealed = sealer.sealScratch(bytes)
    const chunks = new Uint8Array(rec.chunks.length * BLOCK_CID_LENGTH)
    rec.chunks.forEach((c, i) => chunks.set(c.cid.bytes, i * BLOCK_CID_LENGTH))
    results.push({
      index: rec.f.index, ok: true, warning: rec.warning, changed: rec.changed,
      node: { cid: sealed.cid.bytes, id: sealed.id, loc: write(sealed.cid.bytes, sealed.id, sealed.bytes) }, chunks, size: rec.size, bytesRead: rec.size - (rec.skipped ?? 0)
    })
  }
  log?.drain()
  post({ t: 'files', job: job.job, files: results })
  post({ t: 'done', job: job.job })
}

/** Asks the main thread which chunks are new, seals those, and fills in every CID. */
async function resolveBatch (job: number, batchNo: number, chunks: Chunk[]): Promise<void> {
  const first = new Map<string, Chunk>()
  const unique: Chunk[] = []
  for (const c of chunks) {
    const k = Buffer.from(c.id).toString('latin1')
    if (!first.has(k)) { first.set(k, c); unique.push(c) }
  }
  const ids = new Uint8Array(unique.length * 32)
  unique.forEach((c, i) => ids.set(c.id, i * 32))
  let bytes = 0
  for (const c of chunks) bytes += c.data.length
  const reply = await new Promise<NeedReply>(resolve => {
    waiting.set(`${job}/${batchNo}`, resolve)
    post({ t: 'ids', job, batch: batchNo, ids, bytes }, [ids.buffer])
  })
  const blocks: BlocksMessage['blocks'] = []
  unique.forEach((c, i) => {
    if (reply.need[i] === 1) {
      const s = sealer.sealScratch(c.data, c.id)
      c.ref.cid = s.cid
      blocks.push({ cid: s.cid.bytes, id: c.id, loc: write(s.cid.bytes, c.id, s.bytes), size: c.data.length })
    } else {
      c.ref.cid = CID.decode(reply.cids[i]!)
    }
  })
  log?.drain()
  if (blocks.length > 0) post({ t: 'blocks', blocks })
  for (const c of chunks) {
    if (c.ref.cid === undefined) c.ref.cid = first.get(Buffer.from(c.id).toString('latin1'))!.ref.cid
  }
}

// ---------------------------------------------------------------------------------------
// restore and verify

const segFds = new Map<number, number>()
function segFd (segment: number): number {
  let fd = segFds.get(segment)
  if (fd === undefined) {
    fd = openSync(join(init.segmentDir, `${String(segment).padStart(8, '0')}.seg`), 'r')
    segFds.set(segment, fd)
  }
  return fd
}

let readBuf = Buffer.allocUnsafeSlow(0)
/** Reads a block into a buffer reused by the next read. */
function readBlock (segment: number, offset: number, length: number): Buffer {
  if (readBuf.length < length) readBuf = Buffer.allocUnsafeSlow(Math.max(length, readBuf.length * 2))
  const out = readBuf.subarray(0, length)
  let got = 0
  while (got < length) {
    const n = readSync(segFd(segment), out, got, length - got, offset + got)
    if (n === 0) throw new StoreCorruptError(`segment ${segment} is shorter than the index says`)
    got += n
  }
  return out
}

function isZero (b: Uint8Array): boolean {
  // Compare 8 bytes at a time where aligned; sparse regions are long runs of zeros.
  const words = b.byteOffset % 8 === 0 ? new BigUint64Array(b.buffer, b.byteOffset, b.length >> 3) : undefined
  if (words !== undefined) { for (const w of words) if (w !== 0n) return false }
  for (let i = words === undefined ? 0 : b.length & ~7; i < b.length; i++) if (b[i] !== 0) return false
  return true
}

/** CIDs of chunks found to be all zeros (sparse files' holes): authenticated once, then known. */
const zeroCids = new Set<string>()

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW

/**
 * Makes the temporary file, never opening it through a link. A leftover of an earlier run is
 * removed first, only when there is one: trying an unlink for every file cost a failed system
 * call and a thrown error each.
 */
function createPartial (partial: FsPath): number {
  try {
    return openSync(partial, CREATE, 0o600)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  unlinkSync(partial)
  return openSync(partial, CREATE, 0o600)
}

/**
 * Each file is written under a temporary name beside it and renamed into place once complete
 * (data, owner, mode, mtime), so a restored name never holds a partial file; a failure removes
 * the temporary file, and a rerun finds the name free and writes it.
 */
function restoreJob (job: RestoreJob): void {
  for (const f of job.files) {
    let written = 0
    let fd: number | undefined
    const partial = fsPath(f.partial)
    try {
      fd = createPartial(partial)
      let pos = 0
      let holes = false
      for (const c of f.chunks) {
        // A hole's chunk (all zeros) seen before: nothing to read, open or write.
        if (f.sparse && zeroCids.has(c.cid)) { holes = true; pos += c.size; written += c.size; continue }
        const data = sealer.openScratch(readBlock(c.segment, c.offset, c.length), c.id, CID.parse(c.cid))
        if (data.length !== c.size) throw new StoreCorruptError(`chunk ${c.cid} has ${data.length} bytes, the file node says ${c.size}`)
        if (f.sparse && isZero(data)) {
          holes = true
          zeroCids.add(c.cid)
        } else {
          let off = 0
          while (off < data.length) off += writeSync(fd, data, off, data.length - off, pos + off)
        }
        pos += data.length
        written += data.length
      }
      if (holes || pos !== f.size) ftruncateSync(fd, pos)
      if (job.chown) fchownSync(fd, f.uid, f.gid)
      fchmodSync(fd, f.mode & 0o7777)
      const warnings = writeXattrs(partial, f.xattrs)
      const t = fsTime(f.mtimeNs)
      futimesSync(fd, t, t)
      closeSync(fd)
      fd = undefined
      renameSync(partial, fsPath(f.path))
      post({ t: 'restored', job: job.job, index: f.index, ok: true, bytes: written, ...(warnings.length > 0 ? { warnings: warnings.map(w => w.replace(showPath(partial), showPath(fsPath(f.path)))) } : {}) })
    } catch (err) {
      if (fd !== undefined) { closeSync(fd); fd = undefined }
      try { unlinkSync(partial) } catch {}
      post({ t: 'restored', job: job.job, index: f.index, ok: false, path: showPath(fsPath(f.path)), error: (err as Error).message, bytes: written })
    } finally {
      if (fd !== undefined) closeSync(fd)
    }
  }
  post({ t: 'done', job: job.job })
}

function imageOpenJob (job: ImageOpenJob): void {
  const out = Buffer.from(job.buffer)
  let error: string | undefined
  try {
    for (const b of job.blocks) {
      // Opened straight into its first place in the batch (no copy when it fits), then copied to the others.
      const [first, ...more] = b.at
      const slot = out.subarray(first, first + b.size)
      const data = sealer.openScratch(readBlock(b.segment, b.offset, b.length), b.id, CID.parse(b.cid), slot)
      if (data.length !== b.size) throw new StoreCorruptError(`chunk ${b.cid} holds ${data.length} bytes, its file node says ${b.size}`)
      if (data.buffer !== slot.buffer || data.byteOffset !== slot.byteOffset) data.copy(slot)
      for (const at of more) slot.copy(out, at)
    }
  } catch (err) {
    error = (err as Error).message
  }
  post({ t: 'image-opened', job: job.job, buffer: job.buffer, ...(error !== undefined ? { error } : {}) }, [job.buffer])
}

function verifyJob (job: VerifyJob): void {
  const failures: VerifyFailure[] = []
  let bytes = 0
  for (let i = 0, from = 0; i < job.count; from = job.idEnds[i], i++) {
    let data: Buffer
    try {
      data = readBlock(job.segments[i], job.offsets[i], job.lengths[i])
    } catch (err) {
      failures.push({ index: i, why: (err as Error).message, bad: true })
      continue
    }
    bytes += data.length
    const cid = CID.decode(job.keys.subarray(from, job.cidEnds[i]))
    if (!matchesCid(cid, data)) { failures.push({ index: i, why: 'bytes do not match its address', bad: true }); continue }
    try {
      const plain = sealer.openScratch(data, job.keys.subarray(job.cidEnds[i], job.idEnds[i]), cid)
      if (plain.length !== job.sizes[i]) failures.push({ index: i, why: `${plain.length} bytes, expected ${job.sizes[i]}`, bad: false })
    } catch (err) {
      failures.push({ index: i, why: (err as Error).message, bad: false })
    }
  }
  post({ t: 'verified', job: job.job, failures, bytes, blocks: job.count })
  post({ t: 'done', job: job.job })
}
