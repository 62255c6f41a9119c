// `npm run bench:small-files`: what the reference data set's small files would cost stored in
// other ways — zstd levels, a per-store dictionary, packing a directory's small files into one
// block — and what each does to the day-2 backup (issue 21; the figures are in doc/design.md,
// "Small files and stored bytes"). It replays the options on the files themselves with the
// store's compressor and its rule (raw unless zstd saves 1/64); no store is written. It is a
// measurement, not a test, and takes a few minutes on two cores.
import { createHash } from 'node:crypto'
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs'
import { createRequire } from 'node:module'
import { homedir } from 'node:os'
import { join, relative } from 'node:path'
import { parseArgs } from 'node:util'
import { projectRoot } from '../project-root.ts'
import { prepareDataSet } from './dataset.ts'
import { UsageError } from './errors.ts'

interface Zstd {
  CCtx: new () => {
    compress: (dst: Uint8Array, src: Uint8Array, level: number) => number
    compressUsingCDict: (dst: Uint8Array, src: Uint8Array, dict: object) => number
  }
  CDict: new (dict: Uint8Array, level: number) => object
  compressBound: (size: number) => number
}
const zstd = createRequire(import.meta.url)('zstd-napi/binding.js') as Zstd

const USAGE = `usage: npm run bench:small-files -- [--day1 DIR --day2 DIR] [--dict FILE] [--block-cost BYTES]
  --day1, --day2  the data set's two days (default: the bench's cached data set, built if missing)
  --dict          a dictionary to try (e.g. from \`zstd --train\` on some of the small files)
  --block-cost    stored bytes per block beyond its body: sealing, segment record, index (233
                  measured on the reference set: 19 + 74 + ~140)`

interface SmallFile { name: string, bytes: Buffer, id: string }
/** A data set's files below a size, by directory (relative path), each in name order. */
type Folders = Map<string, SmallFile[]>

const PACK = 1 << 20

export async function smallFiles (argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      day1: { type: 'string' },
      day2: { type: 'string' },
      dict: { type: 'string' },
      'block-cost': { type: 'string', default: '233' },
      help: { type: 'boolean', short: 'h', default: false }
    },
    strict: true
  })
  if (values.help === true) { console.log(USAGE); return 0 }
  const blockCost = Number(values['block-cost'])
  if (!Number.isFinite(blockCost) || blockCost < 0) throw new UsageError(`--block-cost takes a number of bytes, not "${values['block-cost']}"`)
  if ((values.day1 === undefined) !== (values.day2 === undefined)) throw new UsageError('give both --day1 and --day2, or neither')
  let day1 = values.day1
  let day2 = values.day2
  if (day1 === undefined || day2 === undefined) {
    const dir = process.env.CAIRN_BENCH_DIR ?? join(homedir(), '.cache', 'cairn-bench')
    mkdirSync(dir, { recursive: true })
    const log = (line: string): void => { console.error(`[small-files] ${line}`) }
    const set = await prepareDataSet({ dir, scriptsDir: join(projectRoot(), '..', 'shared', 'bench'), quick: false, log })
    day1 = set.day1
    day2 = set.day2
  }
  const m = new Measure()
  const mb = (n: number): string => `${(n / 1e6).toFixed(2)} MB`

  const under64 = loadFolders(day1, 64 << 10)
  const all64 = [...under64.values()].flat()
  console.log(`files under 64 KiB: ${all64.length}, ${mb(sum(all64.map(f => f.bytes.length)))}`)
  for (const level of [1, 3, 6, 9, 12, 19]) {
    const r = m.timed(() => sum(all64.map(f => m.stored(f.bytes, level))))
    console.log(`  one by one, zstd-${level}: ${mb(r.value)} (${r.cpuS.toFixed(2)} CPU s)`)
  }
  if (values.dict !== undefined) {
    const dict = readFileSync(values.dict)
    for (const level of [3, 6]) {
      const cdict = new zstd.CDict(dict, level)
      const r = m.timed(() => sum(all64.map(f => m.stored(f.bytes, level, cdict))))
      console.log(`  one by one with the ${dict.length} B dictionary, zstd-${level}: ${mb(r.value)} (${r.cpuS.toFixed(2)} CPU s)`)
    }
  }
  for (const cap of [256 << 10, 1 << 20, 4 << 20]) {
    const r = m.timed(() => sum([...under64.values()].flatMap(files => packBySize(files, cap).map(p => m.storedPack(p)))))
    console.log(`  packed per directory up to ${cap >> 10} KiB, zstd-3: ${mb(r.value)} (${r.cpuS.toFixed(2)} CPU s)`)
  }

  const large = m.timed(() => largeFileLevels(day1, m))
  for (const line of large.value) console.log(line)

  const under256 = loadFolders(day1, 256 << 10)
  const distinct = distinctFiles(under256)
  const oneByOne = sum(distinct.map(f => m.stored(f.bytes, 3)))
  console.log(`files under 256 KiB: ${sum([...under256.values()].map(f => f.length))}, ${distinct.length} distinct; one by one ${mb(oneByOne)}`)
  for (const cap of [1 << 20, 4 << 20]) {
    const packs = distinctPacks(under256, files => packBySize(files, cap))
    const packed = sum(packs.map(p => m.storedPack(p)))
    const saved = oneByOne - packed + (distinct.length - packs.length) * blockCost
    console.log(`  packed per directory up to ${cap >> 20} MiB: ${mb(packed)} in ${packs.length} packs; saves ${mb(saved)} with the per-block cost`)
  }

  const next = loadFolders(day2, 256 << 10)
  console.log('day 2, new small-file bytes stored:')
  const known = new Set(distinct.map(f => f.id))
  const fresh = distinctFiles(next).filter(f => !known.has(f.id))
  console.log(`  one block per file (today): ${mb(sum(fresh.map(f => m.stored(f.bytes, 3))))} in ${fresh.length} blocks`)
  const policies: Array<[string, (files: SmallFile[]) => SmallFile[][]]> = [
    ['packs cut by size alone', files => packBySize(files, PACK)],
    ['packs cut after a file whose id chooses it, 1 in 8', files => packByContent(files, 8)],
    ['packs cut after a file whose id chooses it, 1 in 16', files => packByContent(files, 16)]
  ]
  for (const [name, policy] of policies) {
    const first = distinctPacks(under256, policy)
    const before = new Set(first.map(packId))
    const added = distinctPacks(next, policy).filter(p => !before.has(packId(p)))
    console.log(`  ${name}: ${mb(sum(added.map(p => m.storedPack(p))))} in ${added.length} blocks (day 1: ${mb(sum(first.map(p => m.storedPack(p))))} in ${first.length})`)
  }
  const changedOnly = [...next].flatMap(([dir, files]) => {
    const old = new Map((under256.get(dir) ?? []).map(f => [f.name, f.id]))
    return packBySize(files.filter(f => old.get(f.name) !== f.id && !known.has(f.id)), PACK)
  })
  console.log(`  only new and changed files packed, the rest left in their packs: ${mb(sum(changedOnly.map(p => m.storedPack(p))))} in ${changedOnly.length} blocks`)
  return 0
}

/** The store's compressor and rule, with one reused output buffer. */
class Measure {
  private readonly cctx = new zstd.CCtx()
  private dst = Buffer.alloc(0)

  stored (bytes: Uint8Array, level: number, dict?: object): number {
    if (this.dst.length < zstd.compressBound(bytes.length)) this.dst = Buffer.alloc(zstd.compressBound(bytes.length))
    const n = dict === undefined ? this.cctx.compress(this.dst, bytes, level) : this.cctx.compressUsingCDict(this.dst, bytes, dict)
    return bytes.length >= 64 && n < bytes.length - (bytes.length >> 6) ? n : bytes.length
  }

  storedPack (files: SmallFile[]): number {
    return this.stored(Buffer.concat(files.map(f => f.bytes)), 3)
  }

  timed<T> (f: () => T): { value: T, cpuS: number } {
    const start = process.cpuUsage()
    const value = f()
    const used = process.cpuUsage(start)
    return { value, cpuS: (used.user + used.system) / 1e6 }
  }
}

function loadFolders (root: string, below: number): Folders {
  const folders: Folders = new Map()
  const walk = (dir: string): void => {
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))
    for (const e of entries) {
      const path = join(dir, e.name)
      if (e.isDirectory()) walk(path)
      else if (e.isFile() && lstatSync(path).size < below) {
        const bytes = readFileSync(path)
        const key = relative(root, dir)
        let list = folders.get(key)
        if (list === undefined) folders.set(key, list = [])
        list.push({ name: e.name, bytes, id: createHash('sha256').update(bytes).digest('hex') })
      }
    }
  }
  walk(root)
  return folders
}

function distinctFiles (folders: Folders): SmallFile[] {
  const seen = new Set<string>()
  return [...folders.values()].flat().filter(f => !seen.has(f.id) && seen.add(f.id) !== undefined)
}

/** Each folder's distinct files cut into packs by `policy`, each distinct pack once. */
function distinctPacks (folders: Folders, policy: (files: SmallFile[]) => SmallFile[][]): SmallFile[][] {
  const seenFiles = new Set<string>()
  const seenPacks = new Set<string>()
  const out: SmallFile[][] = []
  for (const files of folders.values()) {
    const own = files.filter(f => !seenFiles.has(f.id) && seenFiles.add(f.id) !== undefined)
    for (const p of policy(own)) {
      const id = packId(p)
      if (!seenPacks.has(id)) { seenPacks.add(id); out.push(p) }
    }
  }
  return out
}

function packId (files: SmallFile[]): string {
  return files.map(f => f.id).join()
}

function packBySize (files: SmallFile[], cap: number): SmallFile[][] {
  return packBy(files, cap, () => false)
}

/** Cut after a file whose id's first 16 bits are 0 mod `every`: a changed file touches its own pack. */
function packByContent (files: SmallFile[], every: number): SmallFile[][] {
  return packBy(files, PACK, f => parseInt(f.id.slice(0, 4), 16) % every === 0)
}

function packBy (files: SmallFile[], cap: number, endsPack: (f: SmallFile) => boolean): SmallFile[][] {
  const packs: SmallFile[][] = []
  let current: SmallFile[] = []
  let size = 0
  for (const f of files) {
    if (size + f.bytes.length > cap && current.length > 0) { packs.push(current); current = []; size = 0 }
    current.push(f)
    size += f.bytes.length
    if (endsPack(f)) { packs.push(current); current = []; size = 0 }
  }
  if (current.length > 0) packs.push(current)
  return packs
}

/** zstd levels on 1 MiB pieces of the files of 256 KiB or more, every other piece. */
function largeFileLevels (root: string, m: Measure): string[] {
  const pieces: Buffer[] = []
  let k = 0
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name)
      if (e.isDirectory()) walk(path)
      else if (e.isFile() && lstatSync(path).size >= 256 << 10) {
        const fd = openSync(path, 'r')
        try {
          for (let at = 0; ; at += 1 << 20) {
            const piece = Buffer.alloc(1 << 20)
            const n = readSync(fd, piece, 0, piece.length, at)
            if (n === 0) break
            if ((k++ & 1) === 0) pieces.push(piece.subarray(0, n))
          }
        } finally { closeSync(fd) }
      }
    }
  }
  walk(root)
  const lines = [`large files: ${pieces.length} pieces of 1 MiB, ${(sum(pieces.map(p => p.length)) / 1e6).toFixed(1)} MB (every other piece)`]
  for (const level of [1, 3, 4, 5, 6, 9]) {
    const r = m.timed(() => sum(pieces.map(p => m.stored(p, level))))
    lines.push(`  zstd-${level}: ${(r.value / 1e6).toFixed(2)} MB (${r.cpuS.toFixed(2)} CPU s)`)
  }
  return lines
}

function sum (xs: number[]): number {
  let s = 0
  for (const x of xs) s += x
  return s
}
