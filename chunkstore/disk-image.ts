import { createHash } from 'node:crypto'
import { chmodSync, closeSync, existsSync, fdatasync, fstatSync, fsyncSync, ftruncateSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, read, realpathSync, statSync, symlinkSync, utimesSync, write, writeFileSync, writeSync, constants } from 'node:fs'
import { open } from 'node:fs/promises'
import type { Stats } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join, resolve } from 'node:path'
import { Worker } from 'node:worker_threads'
import { CID } from 'multiformats/cid'
import type { BlockSealer } from './codec.ts'
import { BlockNotFoundError, DeviceInUseError, ImageSourceVanishedError, ImageTargetTooSmallError, ImageVerifyFailedError, InvalidOptionError, PathNotFoundError, StoreCorruptError, WorkerFailedError } from './errors.ts'
import { throwIfAborted } from '../crypto/index.ts'
import type { AbortOptions } from '../crypto/index.ts'
import type { LocalBlockStore } from './local-block-store.ts'
import type { WorkerPool } from './worker-pool.ts'
import type { FromWorker, ImageOpenBlock } from './worker-protocol.ts'
import { Ext4Reader } from './ext4-reader.ts'
import type { Ext4Entry } from './ext4-reader.ts'
import { encodeNode } from './tree-node.ts'
import type { ChunkRef, DirEntry, DirNode, FileNode, TreeNode } from './tree-node.ts'
import type { BackupStats } from './types.ts'

/**
 * Disk images (SPEC F6, the "disk image" agent type): a block device or a raw image file —
 * a whole disk with an MBR or GPT partition table, or one partition — backed up as a snapshot
 * whose root folder holds `disk-image.json` (the table, the consistency, the image's SHA-256)
 * and one file per region: the space before, between and after the partitions (the tables
 * themselves) and each partition. Regions are cut in fixed-size chunks, so a block that did
 * not change between runs is the same chunk (stored once), and an all-zero chunk is one
 * block for the whole store. A file-level restore of the snapshot gives the regions as
 * sparse image files; restoreImage writes them back onto a device or image file.
 */

export const IMAGE_MANIFEST = 'disk-image.json'
/** 64 KiB: within SPEC's 4 KiB–512 KiB, a multiple of every file system's block, a divisor of the 1 MiB partition alignment. */
export const IMAGE_CHUNK = 64 << 10
/**
 * A region longer than this is stored as several files (`partition-1.img.000`, `.001`, …): a
 * file node lists its chunks, and 1 GiB of 64 KiB chunks makes a node of about 1.4 MB (a
 * block travels the mesh up to 16 MiB).
 */
export const IMAGE_PIECE = 1 << 30
/** Chunks read (backup) or opened and written (restore) as one batch: 4 MiB of the disk, one read or write per run. */
const IMAGE_BATCH = 64

export interface ImagePartition {
  number: number
  /** Bytes from the start of the disk. */
  offset: number
  size: number
  type: string
  uuid?: string
  name?: string
  /** From blkid: the file system in it, its label and UUID, when one is recognised. */
  fsType?: string
  fsLabel?: string
  fsUuid?: string
  /**
   * Set when the file system's free blocks were not read: `bytes` of 64 KiB chunks that lie
   * wholly in free blocks (by its allocation bitmap, read `by` the named tool) are recorded,
   * and restore, as zeros. Absent: every byte of the partition was read as it was.
   */
  unusedSkipped?: { by: string, bytes: number }
  /** SHA-256 of the partition as recorded (free blocks skipped as zeros): checked when it is restored alone. Absent in images taken before it was recorded. */
  sha256?: string
}

export interface ImageRegion { name: string, offset: number, size: number }

export interface ImageManifest {
  v: 1
  source: string
  kind: 'block-device' | 'image-file'
  size: number
  /** SHA-256 of the whole image as recorded: as read, with the chunks of skipped free blocks as zeros. */
  sha256: string
  chunkSize: number
  /** 'unmounted', 'read-only' (mounted so), or 'crash-consistent' (mounted read-write, taken as it was, on request). */
  consistency: 'unmounted' | 'read-only' | 'crash-consistent'
  table: { label: string, id?: string, sectorSize: number } | null
  partitions: ImagePartition[]
  /** Where each region file of the snapshot goes on the disk; they cover it, in order. */
  regions: ImageRegion[]
}

export interface ImageBackupOptions extends AbortOptions {
  device: string
  task?: string
  /** Back up a device mounted read-write as it is (crash-consistent), instead of refusing. */
  crashConsistent?: boolean
  /** Read every block, free ones included (by default an ext2/3/4 file system's free blocks are skipped and recorded as zeros). */
  everyBlock?: boolean
}

export interface ImageRestoreOptions extends AbortOptions {
  snapshot: string
  /** A block device, or an image file (made when missing). */
  target: string
  /**
   * Also read the target back once written (its cached pages dropped) and check that SHA-256
   * too. Without it the SHA-256 checked is that of the bytes handed to the target.
   */
  readBack?: boolean
  /**
   * Restore only this partition (its number in the table) onto `target`, typically an existing
   * partition of another disk (/dev/sdb2, /dev/loop1p2) or an image file: from its first byte,
   * the table left alone.
   */
  partition?: number
}

export interface ImageRestoreResult {
  target: string
  /** The partition restored alone (ImageRestoreOptions.partition); absent for the whole image. */
  partition?: number
  bytes: number
  /** Bytes written; all-zero chunks are not written where the target was made to read zeros. */
  bytesWritten: number
  /** How the target's all-zero regions came to be: 'left as holes' (new file), 'punched into a hole', 'zeroed by the device (BLKZEROOUT)', 'written'. */
  zeros: string
  /**
   * What matched the recorded SHA-256: the bytes as written (with the zeroed regions as zeros),
   * or also the target as read back; 'chunks' for a partition of an image recorded without its
   * own SHA-256 (each chunk authenticated as it was opened, nothing to compare the whole with).
   */
  verified: 'written' | 'read back' | 'chunks'
  sha256: string
  durationMs: number
  warnings: string[]
}

/** The size of a block device from sysfs, or of a file. */
function sizeOf (path: string, st: Stats): number {
  if (!st.isBlockDevice()) return st.size
  return Number(readFileSync(`${sysDir(st)}/size`, 'utf8').trim()) * 512
}

const majorMinor = (rdev: number): string => `${Math.floor(rdev / 256) & 0xfff}:${(rdev & 0xff) | ((Math.floor(rdev / 4096)) & ~0xff)}`
const sysDir = (st: Stats): string => `/sys/dev/block/${majorMinor(st.rdev)}`

/** `maj:min` of the device and of its partitions; for an image file, of the loop devices it backs and theirs. */
function devicesOf (path: string, st: Stats): string[] {
  const withParts = (dir: string): string[] => {
    const out = [readFileSync(`${dir}/dev`, 'utf8').trim()]
    for (const sub of readdirSync(dir)) if (existsSync(`${dir}/${sub}/partition`)) out.push(readFileSync(`${dir}/${sub}/dev`, 'utf8').trim())
    return out
  }
  if (st.isBlockDevice()) return withParts(realpathSync(sysDir(st)))
  const real = realpathSync(path)
  const out: string[] = []
  for (const name of readdirSync('/sys/block').filter(n => n.startsWith('loop'))) {
    let backing = ''
    try { backing = readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim() } catch { continue }
    if (backing === real) out.push(...withParts(`/sys/block/${name}`))
  }
  return out
}

/** Mounts of these devices: mount point and whether read-write (/proc/self/mountinfo). */
function mountsOf (devices: string[]): Array<{ point: string, rw: boolean }> {
  const out: Array<{ point: string, rw: boolean }> = []
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ')
    if (f.length > 6 && devices.includes(f[2])) out.push({ point: f[4], rw: f[5].split(',').includes('rw') })
  }
  return out
}

function sfdiskTable (path: string): { table: ImageManifest['table'], partitions: ImagePartition[] } {
  const r = spawnSync('sfdisk', ['--json', path], { encoding: 'utf8' })
  if (r.status !== 0) return { table: null, partitions: [] }
  const t = JSON.parse(r.stdout).partitiontable
  const ss: number = t.sectorsize ?? 512
  const partitions = (t.partitions ?? []).map((p: any, i: number): ImagePartition => {
    const m = /(\d+)$/.exec(p.node ?? '')
    return {
      number: m !== null ? Number(m[1]) : i + 1, offset: p.start * ss, size: p.size * ss, type: String(p.type),
      ...(p.uuid !== undefined ? { uuid: p.uuid } : {}), ...(p.name !== undefined ? { name: p.name } : {})
    }
  })
  return { table: { label: t.label, ...(t.id !== undefined ? { id: t.id } : {}), sectorSize: ss }, partitions }
}

/** The file system blkid recognises at this offset of the image, if any. */
function fsInfo (path: string, offset: number, size: number): Pick<ImagePartition, 'fsType' | 'fsLabel' | 'fsUuid'> {
  const r = spawnSync('blkid', ['-p', '-o', 'export', '-O', String(offset), '-S', String(size), path], { encoding: 'utf8' })
  if (r.status !== 0) return {}
  const kv = Object.fromEntries(r.stdout.split('\n').filter(l => l.includes('=')).map(l => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
  return { ...(kv.TYPE !== undefined ? { fsType: kv.TYPE } : {}), ...(kv.LABEL !== undefined ? { fsLabel: kv.LABEL } : {}), ...(kv.UUID !== undefined ? { fsUuid: kv.UUID } : {}) }
}

function regionsOf (size: number, partitions: ImagePartition[]): ImageRegion[] {
  const out: ImageRegion[] = []
  const add = (name: string, offset: number, length: number): void => {
    if (length <= IMAGE_PIECE) { out.push({ name, offset, size: length }); return }
    for (let i = 0; i * IMAGE_PIECE < length; i++) {
      out.push({ name: `${name}.${String(i).padStart(3, '0')}`, offset: offset + i * IMAGE_PIECE, size: Math.min(IMAGE_PIECE, length - i * IMAGE_PIECE) })
    }
  }
  let at = 0
  let gap = 0
  for (const p of [...partitions].sort((a, b) => a.offset - b.offset)) {
    if (p.offset > at) add(at === 0 ? 'table-head.img' : `gap-${++gap}.img`, at, p.offset - at)
    add(`partition-${p.number}.img`, p.offset, p.size)
    at = p.offset + p.size
  }
  if (at < size) add(partitions.length === 0 ? 'whole.img' : 'table-tail.img', at, size - at)
  return out
}

export interface BlockDeviceInfo {
  /** `/dev/NAME`. */
  path: string
  size: number
  /** sysfs `device/model` (disks), or the backing file of a loop device. */
  model?: string
  readOnly: boolean
  /** Mount points of the device or of its partitions (an image of it is refused while any is mounted read-write). */
  mounts: string[]
  table: ImageManifest['table']
  partitions: Array<ImagePartition & { path: string }>
}

/**
 * The machine's block devices (/sys/block: disks, loop devices with a backing file, not RAM
 * disks or empty drives) with their partition tables as an image backup would record them
 * (sfdisk, blkid): what the console offers a disk image task. Root-readable details only.
 */
export function listBlockDevices (): BlockDeviceInfo[] {
  const out: BlockDeviceInfo[] = []
  for (const name of readdirSync('/sys/block').sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))) {
    const dir = `/sys/block/${name}`
    const size = Number(readFileSync(`${dir}/size`, 'utf8').trim()) * 512
    if (!(size > 0) || /^(ram|zram)\d/.test(name)) continue
    const path = `/dev/${name}`
    if (!existsSync(path)) continue
    const read = (f: string): string | undefined => { try { return readFileSync(`${dir}/${f}`, 'utf8').trim() } catch { return undefined } }
    const model = read('loop/backing_file') ?? read('device/model')
    const devs = [read('dev') ?? '']
    const partDevs = new Map<number, string>()
    for (const sub of readdirSync(dir)) {
      const number = read(`${sub}/partition`)
      if (number === undefined) continue
      devs.push(read(`${sub}/dev`) ?? '')
      partDevs.set(Number(number), `/dev/${sub}`)
    }
    const { table, partitions } = sfdiskTable(path)
    for (const p of partitions) Object.assign(p, fsInfo(path, p.offset, p.size))
    out.push({
      path, size, ...(model !== undefined && model !== '' ? { model } : {}), readOnly: read('ro') === '1', mounts: mountsOf(devs).map(m => m.point), table,
      partitions: partitions.map(p => ({ ...p, path: partDevs.get(p.number) ?? '' }))
    })
  }
  return out
}

/** Reads the disk's layout and checks it may be read now. Nothing is read from the image itself. */
export function describeImage (device: string, crashConsistent = false): Omit<ImageManifest, 'sha256' | 'chunkSize'> {
  const path = resolve(device)
  const st = statSync(path, { throwIfNoEntry: false })
  if (st === undefined) throw new PathNotFoundError(path, 'on this machine; nothing was backed up')
  if (!st.isBlockDevice() && !st.isFile()) throw new InvalidOptionError(`${path} is neither a block device nor an image file.`)
  const mounts = mountsOf(devicesOf(path, st))
  const rw = mounts.filter(m => m.rw)
  if (rw.length > 0 && !crashConsistent) {
    throw new DeviceInUseError(path, `is mounted read-write at ${rw.map(m => m.point).join(', ')}: an image of it could be inconsistent. Unmount it or remount it read-only, or ask for a crash-consistent image (--crash-consistent)`)
  }
  const size = sizeOf(path, st)
  const { table, partitions } = sfdiskTable(path)
  for (const p of partitions) Object.assign(p, fsInfo(path, p.offset, p.size))
  return {
    v: 1, source: path, kind: st.isBlockDevice() ? 'block-device' : 'image-file', size,
    consistency: rw.length > 0 ? 'crash-consistent' : mounts.length > 0 ? 'read-only' : 'unmounted',
    table, partitions, regions: regionsOf(size, partitions)
  }
}

const ZEROS = Buffer.alloc(IMAGE_CHUNK)

function isZero (b: Uint8Array): boolean {
  for (let at = 0; at < b.length; at += ZEROS.length) {
    const part = b.subarray(at, at + ZEROS.length)
    if (ZEROS.compare(part, 0, part.length, 0, part.length) !== 0) return false
  }
  return true
}

/** File systems whose free blocks can be listed: their allocation bitmaps are read by e2fsprogs' dumpe2fs. */
const BITMAP_FS = new Set(['ext2', 'ext3', 'ext4'])

/**
 * The free blocks of the ext2/3/4 file system at `offset` of `path`, as byte ranges of the
 * disk `[start, end)`, from its block bitmaps (dumpe2fs, which also works out the groups
 * whose bitmap was never initialised). Undefined — read everything — unless the file system
 * is cleanly unmounted or mounted read-only (state "clean") and has no journal to replay:
 * then a block not in use cannot come into use before the backup reads the disk.
 */
export function ext4FreeRanges (path: string, offset: number): Array<[number, number]> | undefined {
  const r = spawnSync('dumpe2fs', [`${path}?offset=${offset}`], { encoding: 'utf8', maxBuffer: 1 << 30 })
  if (r.status !== 0) return undefined
  const field = (name: string): string | undefined => new RegExp(`^${name}:\\s+(.*)$`, 'm').exec(r.stdout)?.[1].trim()
  const blockSize = Number(field('Block size'))
  if (field('Filesystem state') !== 'clean' || /\bneeds_recovery\b/.test(field('Filesystem features') ?? 'needs_recovery') || !(blockSize >= 1024)) return undefined
  const out: Array<[number, number]> = []
  for (const line of r.stdout.matchAll(/^ {2}Free blocks: (.*)$/gm)) {
    for (const range of line[1].split(',')) {
      const m = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(range)
      if (m === null) continue
      const first = Number(m[1])
      const last = m[2] !== undefined ? Number(m[2]) : first
      out.push([offset + first * blockSize, offset + (last + 1) * blockSize])
    }
  }
  return out.sort((a, b) => a[0] - b[0])
}

export interface ImageDeps { store: LocalBlockStore, sealer: BlockSealer }

/** Whether the chunk at `[start, end)` lies wholly in one of the sorted, merged-as-needed `free` ranges; asked in increasing order. */
function freeChunks (free: Array<[number, number]>): (start: number, end: number) => boolean {
  // Merge touching ranges (a chunk can span the end of one group's free run and the start of the next).
  const merged: Array<[number, number]> = []
  for (const [a, b] of free) {
    const last = merged[merged.length - 1]
    if (last !== undefined && a <= last[1]) last[1] = Math.max(last[1], b); else merged.push([a, b])
  }
  let i = 0
  return (start, end) => {
    while (i < merged.length && merged[i][1] <= start) i++
    return i < merged.length && merged[i][0] <= start && end <= merged[i][1]
  }
}

/** Chunks read in one batch: up to 4 MiB of a region; `data` views one buffer per batch, reused two batches later. */
interface ReadBatch { chunks: Array<{ data: Buffer, skipped: boolean }> }

/**
 * A region's chunks in batches of up to IMAGE_BATCH, each run of chunks to read in one read
 * call; the next batch is read (on libuv's threads) while the caller hashes this one. A
 * skipped chunk is zeros and not read.
 */
async function * readBatches (fd: number, layout: { source: string, size: number }, region: ImageRegion, skip: (start: number, end: number) => boolean, signal?: AbortSignal): AsyncGenerator<ReadBatch> {
  const bufs = [Buffer.allocUnsafe(IMAGE_BATCH * IMAGE_CHUNK), Buffer.allocUnsafe(IMAGE_BATCH * IMAGE_CHUNK)]
  const end = region.offset + region.size
  const readAt = async (buf: Buffer, from: number, length: number, position: number): Promise<void> => {
    for (let got = 0; got < length;) {
      const at = position + got
      const n = await new Promise<number>((resolve, reject) => read(fd, buf, from + got, length - got, at, (err, n) => {
        if (err !== null) reject(new ImageSourceVanishedError(layout.source, at, layout.size, `could not be read (${err.code ?? err.message})`, { cause: err })); else resolve(n)
      }))
      if (n === 0) throw new ImageSourceVanishedError(layout.source, at, layout.size, 'ended')
      got += n
    }
  }
  const load = async (buf: Buffer, start: number): Promise<ReadBatch> => {
    const chunks: ReadBatch['chunks'] = []
    const reads: Array<Promise<void>> = []
    let runFrom = -1
    let at = 0
    for (let off = start; off < end && chunks.length < IMAGE_BATCH; off += IMAGE_CHUNK) {
      const len = Math.min(IMAGE_CHUNK, end - off)
      const skipped = skip(off, off + len)
      chunks.push({ data: skipped ? ZEROS.subarray(0, len) : buf.subarray(at, at + len), skipped })
      if (!skipped && runFrom < 0) runFrom = at
      if (skipped && runFrom >= 0) { reads.push(readAt(buf, runFrom, at - runFrom, start + runFrom)); runFrom = -1 }
      at += len
    }
    if (runFrom >= 0) reads.push(readAt(buf, runFrom, at - runFrom, start + runFrom))
    await Promise.all(reads)
    return { chunks }
  }
  const step = IMAGE_BATCH * IMAGE_CHUNK
  let next: Promise<ReadBatch> | undefined = region.size > 0 ? load(bufs[0], region.offset) : undefined
  for (let start = region.offset, k = 0; next !== undefined; start += step, k ^= 1) {
    throwIfAborted(signal, 'The image backup')
    const batch = await next
    next = start + step < end ? load(bufs[k ^ 1], start + step) : undefined
    // Awaited next time round; if the caller stops first (an error), its failure is not unhandled.
    next?.catch(() => {})
    // The next read must not land in the buffer the caller is still using: it uses the other one.
    yield batch
  }
}

/** Backs up the image; returns the snapshot tree's root and the stats. */
export async function backupImage (deps: ImageDeps, options: ImageBackupOptions): Promise<{ root: { cid: CID, id: Uint8Array }, stats: BackupStats, manifest: ImageManifest }> {
  const started = Date.now()
  const { store, sealer } = deps
  const layout = describeImage(options.device, options.crashConsistent === true)
  const stats: BackupStats = { files: 0, dirs: 1, symlinks: 0, filesUnchanged: 0, bytesTotal: layout.size, bytesRead: 0, chunksNew: 0, bytesNew: 0, bytesStored: 0, durationMs: 0, warnings: [] }
  if (layout.consistency === 'crash-consistent') stats.warnings.push(`${layout.source} is mounted read-write: the image is crash-consistent (as after a power loss), as asked`)
  const hash = createHash('sha256')
  /** An all-zero chunk of each length: its id and CID, found once. */
  const zeros = new Map<number, { id: Uint8Array, cid: CID }>()
  // The store finds blocks appended by this run too (its pending index), so no map of them is kept here.
  const put = async (plain: Uint8Array, id: Uint8Array, counts: boolean): Promise<CID> => {
    const [known] = await store.lookupIds([id])
    return known !== undefined ? CID.decode(known) : putNew(plain, id, counts)
  }
  /** Stores a chunk the store was found not to have. */
  const putNew = (plain: Uint8Array, id: Uint8Array, counts: boolean): CID => {
    const sealed = sealer.seal(plain, id)
    store.append(sealed.cid.bytes, id, sealed.bytes)
    stats.bytesStored += sealed.bytes.length
    if (counts) { stats.chunksNew++; stats.bytesNew += plain.length }
    return sealed.cid
  }
  const putNode = async (node: TreeNode): Promise<{ cid: CID, id: Uint8Array, tsize: number }> => {
    const bytes = encodeNode(node)
    const id = sealer.idOf(bytes)
    return { cid: await put(bytes, id, false), id, tsize: bytes.length }
  }
  const entries: DirEntry[] = []
  const file = (name: string, size: number, ref: { cid: CID, id: Uint8Array, tsize: number }): DirEntry =>
    ({ name, kind: 'file', cid: ref.cid, id: ref.id, tsize: ref.tsize, size, mtimeNs: 0n, ctimeNs: 0n, ino: 0n, dev: 0n, nlink: 1 })
  const now = BigInt(Date.now()) * 1_000_000n
  // Free blocks of the file systems that can tell, unless asked for every block or the device is in use.
  const free: Array<[number, number]> = []
  if (options.everyBlock !== true && layout.consistency !== 'crash-consistent') {
    for (const p of layout.partitions) {
      if (p.fsType === undefined || !BITMAP_FS.has(p.fsType)) continue
      const ranges = ext4FreeRanges(layout.source, p.offset)
      if (ranges === undefined) continue
      p.unusedSkipped = { by: 'ext4 block bitmap (dumpe2fs)', bytes: 0 }
      for (const [a, b] of ranges) free.push([Math.max(a, p.offset), Math.min(b, p.offset + p.size)])
    }
    free.sort((a, b) => a[0] - b[0])
  }
  const skipper = freeChunks(free)
  const holdForTests = imageHoldForTests(process.env.CAIRN_TEST_IMAGE_HOLD)
  // Each partition's own SHA-256 too, checked when it is restored alone.
  const partHashes = new Map(layout.partitions.map(p => [p, createHash('sha256')]))
  const fd = openSync(layout.source, 'r')
  try {
    for (const region of layout.regions) {
      const chunks: ChunkRef[] = []
      const part = layout.partitions.find(p => p.offset <= region.offset && region.offset < p.offset + p.size)
      const partHash = part !== undefined ? partHashes.get(part) : undefined
      for await (const batch of readBatches(fd, layout, region, skipper, options.signal)) {
        await holdForTests?.(stats.bytesRead)
        const ids: Array<Uint8Array | undefined> = []
        for (const c of batch.chunks) {
          hash.update(c.data)
          partHash?.update(c.data)
          if (!c.skipped) stats.bytesRead += c.data.length
          else if (part?.unusedSkipped !== undefined) part.unusedSkipped.bytes += c.data.length
          ids.push(c.skipped || isZero(c.data) ? undefined : sealer.idOf(c.data))
        }
        const known = await store.lookupIds(ids.filter(id => id !== undefined))
        let k = 0
        /** Chunks new in this batch, by id: a block repeated within it is stored once. */
        const fresh = new Map<string, CID>()
        for (let i = 0; i < batch.chunks.length; i++) {
          const { data } = batch.chunks[i]
          const id = ids[i]
          if (id === undefined) {
            let z = zeros.get(data.length)
            if (z === undefined) { const zid = sealer.idOf(data); z = { id: zid, cid: await put(data, zid, true) }; zeros.set(data.length, z) }
            chunks.push({ cid: z.cid, id: z.id, size: data.length })
            continue
          }
          const have = known[k++]
          const key = Buffer.from(id).toString('base64')
          let cid = have !== undefined ? CID.decode(have) : fresh.get(key)
          if (cid === undefined) { cid = putNew(data, id, true); fresh.set(key, cid) }
          chunks.push({ cid, id, size: data.length })
        }
      }
      const node: FileNode = { kind: 'file', mode: 0o600, uid: 0, gid: 0, mtimeNs: now, size: region.size, chunks, sparse: true }
      entries.push(file(region.name, region.size, await putNode(node)))
      stats.files++
    }
  } finally {
    closeSync(fd)
  }
  for (const [p, h] of partHashes) p.sha256 = h.digest('hex')
  const manifest: ImageManifest = { ...layout, sha256: hash.digest('hex'), chunkSize: IMAGE_CHUNK }
  const json = Buffer.from(JSON.stringify(manifest, null, 1) + '\n')
  const jsonId = sealer.idOf(json)
  const jsonNode: FileNode = { kind: 'file', mode: 0o644, uid: 0, gid: 0, mtimeNs: now, size: json.length, chunks: [{ cid: await put(json, jsonId, false), id: jsonId, size: json.length }], sparse: false }
  entries.push(file(IMAGE_MANIFEST, json.length, await putNode(jsonNode)))
  stats.files++
  const root: DirNode = { kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtimeNs: now, entries }
  const ref = await putNode(root)
  await store.flush()
  stats.durationMs = Date.now() - started
  return { root: ref, stats, manifest }
}

/**
 * Test only: CAIRN_TEST_IMAGE_HOLD=BYTES:FILE makes an image backup, once it has read BYTES,
 * create FILE and wait until FILE is removed, once: a test changes the source at that known
 * point (chunkstore/disk-image.test.ts shrinks the loop device). Unset in every real run.
 */
function imageHoldForTests (value: string | undefined): ((bytesRead: number) => Promise<void>) | undefined {
  const m = /^(\d+):(.+)$/.exec(value ?? '')
  if (m === null) return undefined
  let held = false
  return async (bytesRead) => {
    if (held || bytesRead < Number(m[1])) return
    held = true
    writeFileSync(m[2], `${bytesRead}\n`)
    while (existsSync(m[2])) await new Promise(resolve => setTimeout(resolve, 20))
  }
}

export interface ImageReadDeps {
  store: LocalBlockStore
  sealer: BlockSealer
  loadNode: (ref: { cid: CID, id: Uint8Array }) => Promise<TreeNode>
  /** The data path's worker threads (a restore's blocks are read and opened there). */
  makePool: (onMessage: (m: FromWorker, worker: number) => void) => WorkerPool
}

/** The manifest of an image snapshot's root, or undefined for a snapshot of files. */
export async function imageManifest (deps: ImageReadDeps, root: DirNode): Promise<ImageManifest | undefined> {
  const e = root.entries.find(x => x.name === IMAGE_MANIFEST)
  if (e === undefined) return undefined
  const node = await deps.loadNode(e) as FileNode
  const parts = await Promise.all(node.chunks.map(async c => deps.sealer.open(await deps.store.get(c.cid), c.id, c.cid)))
  return JSON.parse(Buffer.concat(parts).toString('utf8')) as ImageManifest
}

/** Batches whose writes may be under way while the next is read and opened. */
const IMAGE_IN_FLIGHT = 4
/** Bytes a restore writes between two background flushes of the target: 256 MiB. */
const IMAGE_FLUSH = 256 << 20

/** The `queue/` folder of a block device or of the disk a partition is on. */
function queueDir (st: Stats): string {
  const dir = realpathSync(sysDir(st))
  return existsSync(`${dir}/queue`) ? `${dir}/queue` : `${dir}/../queue`
}

/**
 * Makes `[0, size)` of an existing target read as zeros without writing them, where that is
 * cheap and certain: an image file has its range punched into a hole (`fallocate
 * --punch-hole`); a block device whose queue does write-zeroes (`write_zeroes_max_bytes` > 0:
 * loop devices, NVMe, most SCSI disks) gets BLKZEROOUT (`blkdiscard --zeroout`), which the
 * kernel guarantees to read back as zeros (unlike a discard). Returns how many bytes from the
 * start now read as zeros: 0 where nothing could be done, and the restore writes its zero
 * chunks as data.
 */
function zeroTarget (target: string, st: Stats, size: number): { upTo: number, how: string } {
  if (st.isFile()) {
    const r = spawnSync('fallocate', ['--punch-hole', '--offset', '0', '--length', String(size), target], { encoding: 'utf8' })
    return r.status === 0 ? { upTo: size, how: 'punched into a hole' } : { upTo: 0, how: 'written' }
  }
  let max = 0
  try { max = Number(readFileSync(`${queueDir(st)}/write_zeroes_max_bytes`, 'utf8').trim()) } catch {}
  const length = size - (size % 4096)
  if (!(max > 0) || length === 0) return { upTo: 0, how: 'written' }
  const r = spawnSync('blkdiscard', ['--zeroout', '--offset', '0', '--length', String(length), target], { encoding: 'utf8' })
  return r.status === 0 ? { upTo: length, how: 'zeroed by the device (BLKZEROOUT)' } : { upTo: 0, how: 'written' }
}

/**
 * Writes the image onto `target` and compares the SHA-256 of what it wrote (and, with
 * `readBack`, of the target read back) with the backup's. Chunks are read from the store in
 * batches (in the order they lie in its segments), opened, and written as runs of up to 4 MiB
 * while the next batch is opened; all-zero chunks are not written where the target already
 * reads zeros there (zeroTarget).
 */
export async function restoreImage (deps: ImageReadDeps, root: DirNode, manifest: ImageManifest, options: ImageRestoreOptions): Promise<ImageRestoreResult> {
  const started = Date.now()
  const target = resolve(options.target)
  const warnings: string[] = []
  const whole = restoredPart(manifest, options.partition)
  let st = statSync(target, { throwIfNoEntry: false })
  const fresh = st === undefined
  if (st !== undefined && !st.isBlockDevice() && !st.isFile()) throw new InvalidOptionError(`${target} is neither a block device nor an image file.`)
  if (st !== undefined) {
    const mounts = mountsOf(devicesOf(target, st))
    if (mounts.length > 0) throw new DeviceInUseError(target, `is mounted at ${mounts.map(m => m.point).join(', ')}; unmount it to restore onto it`)
    const have = sizeOf(target, st)
    if (have < whole.size) throw new ImageTargetTooSmallError(target, have, whole.size)
  }
  // Every region's node is loaded (and checked against the manifest) before a byte is written.
  const pieces: ImagePiece[] = []
  for (const region of whole.regions) {
    const e = root.entries.find(x => x.name === region.name)
    if (e === undefined) throw new StoreCorruptError(`the image snapshot has no ${region.name}`)
    const node = await deps.loadNode(e) as FileNode
    if (node.size !== region.size) throw new StoreCorruptError(`${region.name} holds ${node.size} bytes, the manifest says ${region.size}`)
    pieces.push({ node, at: region.offset - whole.offset })
  }
  const fd = openSync(target, fresh ? constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL : constants.O_WRONLY, 0o600)
  let written: { bytes: number, sha256: string }
  let zeros: { upTo: number, how: string }
  try {
    if (fresh) { ftruncateSync(fd, whole.size); zeros = { upTo: whole.size, how: 'left as holes' } } else zeros = zeroTarget(target, st as Stats, whole.size)
    st = fstatSync(fd)
    written = await writeImage(deps, fd, pieces, zeros.upTo, options.signal)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  if (whole.sha256 === undefined) {
    warnings.push(`partition ${options.partition} was recorded without a SHA-256 of its own (an image taken before they were): each chunk was authenticated as it was opened, the partition as a whole could not be checked`)
    return { target, partition: options.partition, bytes: whole.size, bytesWritten: written.bytes, zeros: zeros.how, verified: 'chunks', sha256: written.sha256, durationMs: Date.now() - started, warnings }
  }
  if (written.sha256 !== whole.sha256) throw new ImageVerifyFailedError(target)
  let digest = written.sha256
  if (options.readBack === true) {
    // Drop the device's cached pages, so the check below reads what reached the device.
    if (st.isBlockDevice()) spawnSync('blockdev', ['--flushbufs', target])
    digest = await sha256Of(target, whole.size)
    if (digest !== whole.sha256) throw new ImageVerifyFailedError(target)
  }
  if (st.isBlockDevice() && manifest.table !== null && options.partition === undefined) {
    // Let the kernel see the restored partition table (its partitions appear as devices).
    const r = spawnSync('partx', ['-u', target], { encoding: 'utf8' })
    if (r.status !== 0) warnings.push(`the kernel did not take the restored partition table of ${target} (partx: ${r.stderr.trim()}); run "partx -u ${target}" or reattach it`)
  }
  return { target, ...(options.partition !== undefined ? { partition: options.partition } : {}), bytes: whole.size, bytesWritten: written.bytes, zeros: zeros.how, verified: options.readBack === true ? 'read back' : 'written', sha256: digest, durationMs: Date.now() - started, warnings }
}

/** A region's file node and where it goes on the restore target. */
interface ImagePiece { node: FileNode, at: number }

/**
 * What a restore writes: the whole image, or partition `number` alone (its regions, from the
 * target's first byte, with its own SHA-256 when recorded).
 */
function restoredPart (manifest: ImageManifest, number: number | undefined): { offset: number, size: number, regions: ImageRegion[], sha256: string | undefined } {
  if (number === undefined) return { offset: 0, size: manifest.size, regions: manifest.regions, sha256: manifest.sha256 }
  const { part, regions } = partitionOf(manifest, number)
  return { offset: part.offset, size: part.size, regions, sha256: part.sha256 }
}

/** Partition `number` of the image and its regions (one, or its 1 GiB pieces, cut at chunk boundaries), in order. */
function partitionOf (manifest: ImageManifest, number: number): { part: ImagePartition, regions: ImageRegion[] } {
  const part = manifest.partitions.find(p => p.number === number)
  if (part === undefined) throw new InvalidOptionError(`the image has no partition ${number}${manifest.partitions.length > 0 ? `; it has ${manifest.partitions.map(p => p.number).join(', ')}` : ' (no partition table)'}`)
  return { part, regions: manifest.regions.filter(r => r.offset >= part.offset && r.offset < part.offset + part.size) }
}

/**
 * Writes every piece's chunks at its offset; zero chunks below `zeroedUpTo` are skipped.
 * Returns the bytes written and the SHA-256 of the whole image as handed over (zeros included).
 */
async function writeImage (deps: ImageReadDeps, fd: number, pieces: ImagePiece[], zeroedUpTo: number, signal?: AbortSignal): Promise<{ bytes: number, sha256: string }> {
  const hash = new HashThread()
  /** The last batch handed to the hash thread: batches go there in order, each once written. */
  let hashed: Promise<unknown> = Promise.resolve()
  // Batches are read and opened by the worker threads, the main thread looking up where the blocks are.
  const opened = new Map<number, { resolve: (b: Buffer) => void, reject: (err: Error) => void }>()
  const workers = deps.makePool((m, w) => {
    if (m.t !== 'image-opened') return
    const o = opened.get(m.job)
    opened.delete(m.job)
    workers.done(w, 1)
    if (m.error !== undefined) o?.reject(new StoreCorruptError(m.error)); else o?.resolve(Buffer.from(m.buffer))
  })
  workers.onFailure(err => { for (const o of opened.values()) o.reject(err); opened.clear() })
  let jobs = 0
  const zeroIds = new Map<number, Uint8Array>()
  const isZeroChunk = (c: ChunkRef): boolean => {
    let id = zeroIds.get(c.size)
    if (id === undefined) { id = deps.sealer.idOf(new Uint8Array(c.size)); zeroIds.set(c.size, id) }
    return Buffer.compare(id, c.id) === 0
  }
  const pool: Buffer[] = []
  const inFlight: Array<Promise<Buffer>> = []
  let written = 0
  // Written data is flushed in the background as it accumulates (one fdatasync at a time), so
  // that the device's writeback overlaps the opening of blocks instead of all of it waiting for
  // the final fsync (6 of a 3 GiB restore's 46 s at load 24 before).
  const flushes: Array<Promise<void>> = []
  let unflushed = 0
  let flushing = false
  const writeBack = (n: number): void => {
    unflushed += n
    if (unflushed < IMAGE_FLUSH || flushing) return
    unflushed = 0
    flushing = true
    const flushed = new Promise<void>((resolve, reject) => fdatasync(fd, err => { flushing = false; if (err !== null) reject(err); else resolve() }))
    flushed.catch(() => {}) // awaited at the end
    flushes.push(flushed)
  }
  const pwrite = async (buf: Buffer, from: number, length: number, position: number): Promise<void> => {
    for (let put = 0; put < length;) {
      put += await new Promise<number>((resolve, reject) => write(fd, buf, from + put, length - put, position + put, (err, n) => { if (err !== null) reject(err); else if (n === 0) reject(new InvalidOptionError(`the restore target took no byte at ${position + put}: it shrank or went away during the restore`)); else resolve(n) }))
    }
  }
  try {
    for (const piece of pieces) {
      const chunks = piece.node.chunks
      let off = piece.at
      for (let first = 0; first < chunks.length; first += IMAGE_BATCH) {
        throwIfAborted(signal, 'The image restore')
        const batch = chunks.slice(first, first + IMAGE_BATCH)
        if (inFlight.length >= IMAGE_IN_FLIGHT) pool.push(await inFlight.shift() as Buffer)
        // Its own ArrayBuffer (not the shared pool's): it is transferred to the hash thread and back.
        const buf = pool.pop() ?? Buffer.allocUnsafeSlow(IMAGE_BATCH * IMAGE_CHUNK)
        // Where each chunk goes in buf, and whether it must be written.
        const at: number[] = []
        const mustWrite: boolean[] = []
        const wanted = new Map<string, number[]>()
        let pos = 0
        for (let i = 0; i < batch.length; i++) {
          const c = batch[i]
          at.push(pos)
          if (isZeroChunk(c)) {
            mustWrite.push(off + pos + c.size > zeroedUpTo)
            buf.fill(0, pos, pos + c.size)
          } else {
            mustWrite.push(true)
            const key = c.cid.toString()
            const slots = wanted.get(key)
            if (slots === undefined) wanted.set(key, [i]); else slots.push(i)
          }
          pos += c.size
        }
        const slotsOf = [...wanted.values()]
        const locs = await deps.store.locations(slotsOf.map(slots => batch[slots[0]].cid.bytes))
        const blocks: ImageOpenBlock[] = slotsOf.map((slots, k) => {
          const c = batch[slots[0]]
          const loc = locs[k]
          if (loc === undefined) throw new BlockNotFoundError(c.cid.toString())
          return { segment: loc.segment, offset: loc.offset, length: loc.length, id: c.id, cid: c.cid.toString(), size: c.size, at: slots.map(i => at[i]) }
        })
        const job = ++jobs
        const filled = new Promise<Buffer>((resolve, reject) => {
          opened.set(job, { resolve, reject })
          workers.dispatch({ t: 'image-open', job, blocks, buffer: buf.buffer as ArrayBuffer }, 1, [buf.buffer as ArrayBuffer])
        })
        // Runs of consecutive chunks to write: where and how long, in the batch and on the disk.
        const runs: Array<[number, number]> = []
        for (let i = 0; i < batch.length;) {
          if (!mustWrite[i]) { i++; continue }
          let j = i
          while (j < batch.length && mustWrite[j]) j++
          runs.push([at[i], at[j - 1] + batch[j - 1].size - at[i]])
          written += runs[runs.length - 1][1]
          i = j
        }
        const start = off
        const writes = filled.then(async full => {
          await Promise.all(runs.map(async ([from, length]) => await pwrite(full, from, length, start + from)))
          writeBack(runs.reduce((n, [, length]) => n + length, 0))
          return full
        })
        writes.catch(() => {}) // awaited below, unless an earlier batch failed first
        const length = pos
        const done = hashed.then(async () => await hash.update(await writes, length))
        hashed = done
        inFlight.push(done)
        off += pos
      }
    }
    await Promise.all(inFlight)
    await Promise.all(flushes)
    return { bytes: written, sha256: await hash.digest() }
  } finally {
    await Promise.allSettled([...inFlight, ...flushes])
    await Promise.all([hash.close(), workers.close()])
  }
}

/** The hash thread's program (CommonJS, run with `eval`): SHA-256 of the buffers it is sent, in order. */
const HASH_PROGRAM = `const { parentPort } = require('node:worker_threads')
const hash = require('node:crypto').createHash('sha256')
parentPort.on('message', m => {
  if (m === null) { parentPort.postMessage(hash.digest('hex')); return }
  hash.update(new Uint8Array(m.buffer, 0, m.length))
  parentPort.postMessage(m.buffer, [m.buffer])
})`

/**
 * SHA-256 on a thread of its own, so the restore's main thread reads, opens and writes blocks
 * while what was written is hashed (a third of its work when on one thread). Buffers are
 * transferred there and back, not copied; replies come in the order of the requests.
 */
class HashThread {
  private readonly worker = new Worker(HASH_PROGRAM, { eval: true })
  private readonly waiting: Array<{ resolve: (m: unknown) => void, reject: (err: Error) => void }> = []
  private failed: Error | undefined

  constructor () {
    this.worker.on('message', (m: unknown) => this.waiting.shift()?.resolve(m))
    this.worker.on('error', err => this.fail(err))
    this.worker.on('exit', code => { if (code !== 0) this.fail(new WorkerFailedError(`the restore's hash thread exited with code ${code}`)) })
  }

  private fail (err: Error): void {
    this.failed ??= err
    for (const w of this.waiting.splice(0)) w.reject(err)
  }

  private async ask (msg: unknown, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.failed !== undefined) throw this.failed
    return await new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject })
      this.worker.postMessage(msg, transfer)
    })
  }

  /** Hashes `buf[0, length)` after everything sent before; `buf` is unusable until the returned buffer (the same memory) comes back. */
  async update (buf: Buffer, length: number): Promise<Buffer> {
    const back = await this.ask({ buffer: buf.buffer, length }, [buf.buffer as ArrayBuffer]) as ArrayBuffer
    return Buffer.from(back)
  }

  async digest (): Promise<string> {
    return await this.ask(null) as string
  }

  async close (): Promise<void> {
    await this.worker.terminate()
  }
}

/** SHA-256 of the first `size` bytes of `path`, reading the next 4 MiB while hashing the last. */
async function sha256Of (path: string, size: number): Promise<string> {
  const hash = createHash('sha256')
  const fh = await open(path, 'r')
  try {
    const step = 4 << 20
    const bufs = [Buffer.allocUnsafe(step), Buffer.allocUnsafe(step)]
    const readAt = async (b: Buffer, off: number): Promise<number> => {
      let got = 0
      const want = Math.min(step, size - off)
      while (got < want) {
        const { bytesRead } = await fh.read(b, got, want - got, off + got)
        if (bytesRead === 0) break
        got += bytesRead
      }
      return got
    }
    let next = size > 0 ? readAt(bufs[0], 0) : Promise.resolve(0)
    for (let off = 0, k = 0; off < size; k ^= 1) {
      const n = await next
      if (n === 0) break
      off += n
      next = off < size ? readAt(bufs[k ^ 1], off) : Promise.resolve(0)
      hash.update(bufs[k].subarray(0, n))
    }
  } finally {
    await fh.close()
  }
  return hash.digest('hex')
}

export interface ImageFilesOptions extends AbortOptions {
  snapshot: string
  /** The partition's number in the table. */
  partition: number
}

export interface ImageLsOptions extends ImageFilesOptions {
  /** A folder (or file) of the partition's file system; default `/`. */
  path?: string
}

export interface ImageGetOptions extends ImageFilesOptions {
  /** Files or folders of the partition's file system; each is restored into `target` by its name. */
  paths: string[]
  /** A folder (made when missing); nothing in it is overwritten. */
  target: string
}

export interface ImageGetResult { files: number, dirs: number, symlinks: number, bytes: number, warnings: string[] }

/** Chunks of a partition kept opened while its file system is read: 2 MiB. */
const PARTITION_CACHE = 32

/**
 * The ext2/3/4 file system of partition `number` of an image snapshot, read from its stored
 * chunks (only those it needs, each opened once while in a small cache): single files without
 * restoring the partition.
 */
export async function openImagePartition (deps: ImageReadDeps, root: DirNode, manifest: ImageManifest, number: number): Promise<Ext4Reader> {
  const { part, regions } = partitionOf(manifest, number)
  if (part.fsType === undefined || !BITMAP_FS.has(part.fsType)) throw new InvalidOptionError(`partition ${number} holds ${part.fsType ?? 'no file system blkid knows'}; only ext4 (and ext2/3 with extents) can be browsed without restoring the partition`)
  const chunks: ChunkRef[] = []
  for (const region of regions) {
    const e = root.entries.find(x => x.name === region.name)
    if (e === undefined) throw new StoreCorruptError(`the image snapshot has no ${region.name}`)
    chunks.push(...(await deps.loadNode(e) as FileNode).chunks)
  }
  const cache = new Map<number, Buffer>()
  const chunk = async (i: number): Promise<Buffer> => {
    let data = cache.get(i)
    if (data !== undefined) { cache.delete(i); cache.set(i, data); return data }
    const c = chunks[i]
    if (c === undefined) throw new StoreCorruptError(`the file system of partition ${number} points past the partition's end`)
    data = deps.sealer.open(await deps.store.get(c.cid), c.id, c.cid)
    cache.set(i, data)
    if (cache.size > PARTITION_CACHE) cache.delete(cache.keys().next().value as number)
    return data
  }
  const readAt = async (offset: number, length: number): Promise<Buffer> => {
    const out = Buffer.allocUnsafe(length)
    for (let done = 0; done < length;) {
      const at = offset + done
      const data = await chunk(Math.floor(at / manifest.chunkSize))
      const from = at % manifest.chunkSize
      const n = Math.min(length - done, data.length - from)
      if (n <= 0) throw new StoreCorruptError(`the file system of partition ${number} points past the partition's end`)
      data.copy(out, done, from, from + n)
      done += n
    }
    return out
  }
  return await Ext4Reader.open(readAt)
}

/** Restores `paths` of the partition's file system into `target` (files, folders with all below them, symlinks; modes and times). */
export async function getImageFiles (reader: Ext4Reader, paths: string[], target: string, signal?: AbortSignal): Promise<ImageGetResult> {
  const result: ImageGetResult = { files: 0, dirs: 0, symlinks: 0, bytes: 0, warnings: [] }
  mkdirSync(target, { recursive: true })
  const put = async (e: Ext4Entry, path: string, to: string): Promise<void> => {
    throwIfAborted(signal, 'The file restore from the image')
    if (lstatSync(to, { throwIfNoEntry: false }) !== undefined) throw new InvalidOptionError(`${to} exists; restore into an empty folder (nothing was overwritten)`)
    if (e.kind === 'dir') {
      mkdirSync(to, { mode: 0o700 })
      for (const c of await reader.list(path)) await put(c, `${path.replace(/\/$/, '')}/${c.name}`, join(to, c.name))
      result.dirs++
    } else if (e.kind === 'file') {
      const fd = openSync(to, 'wx', 0o600)
      try {
        for await (const piece of reader.read(e.inode)) {
          throwIfAborted(signal, 'The file restore from the image')
          for (let put = 0; put < piece.length;) put += writeSync(fd, piece, put, piece.length - put)
          result.bytes += piece.length
        }
      } finally {
        closeSync(fd)
      }
      result.files++
    } else if (e.kind === 'symlink') {
      symlinkSync(await reader.readlink(e.inode), to)
      result.symlinks++
      return
    } else {
      result.warnings.push(`${path} is a device, socket or pipe: not restored`)
      return
    }
    chmodSync(to, e.mode)
    utimesSync(to, e.mtimeSec, e.mtimeSec)
  }
  for (const path of paths) {
    const e = await reader.lookup(path)
    const name = path.split('/').filter(p => p !== '').pop() ?? 'root'
    await put(e, path, join(target, name))
  }
  return result
}
