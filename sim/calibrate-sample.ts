// `cairn sim calibrate --sample DIR`: the real data path on a sample folder, in a throwaway store —
// a first full backup (chunker, dedup, zstd, sealing, segments: the reduction ratios and the speed
// of new data), a second full one that finds nothing new (the speed of reading, chunking and
// looking up), and an incremental one that finds nothing changed (the metadata cache: files per
// second). The sample is only read. Speeds are this machine's, at the moment it ran.
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BLOCK_CID_LENGTH, defaultWorkers, initRepository, openRepository, type ChunkerSpec, type SnapshotRecord } from '../chunkstore/index.ts'
import { SampleUnreadableError } from './errors.ts'
import type { SampleMeasure } from './profile.ts'

/** Chunk ids are HMAC-SHA256: 32 bytes, written with each data block's record. */
const CHUNK_ID_BYTES = 32
/** A segment record: u32 length, CID length and CID, id length and id, then the block. */
const RECORD_HEADER = 4 + 1 + BLOCK_CID_LENGTH + 1 + CHUNK_ID_BYTES
/**
 * Tree nodes (one per file and folder) and sealing overhead of a small block, per entry: what the
 * node's formats take (doc/design.md "Tree nodes"), measured on trees of one-chunk files. The
 * compressibility of the sample's data is what remains once they are taken off.
 */
export const META_BYTES_PER_ENTRY = 250

export interface SampleOptions {
  compression?: number
  chunker?: ChunkerSpec
  signal?: AbortSignal
}

async function segmentBytes (dir: string): Promise<number> {
  let n = 0
  for (const f of await readdir(dir)) if (f.endsWith('.seg')) n += (await stat(join(dir, f))).size
  return n
}

export async function measureSample (folder: string, options: SampleOptions = {}): Promise<SampleMeasure> {
  try {
    if (!(await stat(folder)).isDirectory()) throw new SampleUnreadableError(folder, 'it is not a folder')
  } catch (err) {
    if (err instanceof SampleUnreadableError) throw err
    throw new SampleUnreadableError(folder, `it cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err })
  }
  const work = await mkdtemp(join(tmpdir(), 'cairn-calibrate-'))
  const store = join(work, 'store')
  const passphrase = randomBytes(16).toString('hex')
  const compression = options.compression ?? 0
  try {
    // The key's scrypt cost is the store's, not the data path's: the cheapest that is allowed.
    await initRepository(store, { passphrase, compression, chunker: options.chunker, kdf: { N: 1 << 10, r: 8, p: 1 } })
    const repo = await openRepository(store, { passphrase })
    let first: SnapshotRecord, again: SnapshotRecord, quick: SnapshotRecord
    try {
      first = await repo.backup({ paths: [folder], task: 'calibrate', level: 'full', signal: options.signal })
      again = await repo.backup({ paths: [folder], task: 'calibrate', level: 'full', signal: options.signal })
      quick = await repo.backup({ paths: [folder], task: 'calibrate', level: 'incremental', signal: options.signal })
    } finally {
      await repo.close()
    }
    const s = first.stats
    if (s.bytesTotal === 0) throw new SampleUnreadableError(folder, 'it holds no data')
    const entries = s.files + s.dirs
    const segments = await segmentBytes(join(store, 'segments'))
    const dataStored = Math.max(1, s.bytesStored - Math.min(s.bytesStored * 0.5, META_BYTES_PER_ENTRY * entries))
    const seconds = (ms: number): number => Math.max(ms, 1) / 1000
    return {
      folder,
      bytes: s.bytesTotal,
      files: s.files,
      dirs: s.dirs,
      compression,
      chunker: options.chunker === undefined ? 'cdc' : options.chunker.kind === 'cdc' ? `cdc:${options.chunker.min},${options.chunker.avg},${options.chunker.max}` : `fixed:${options.chunker.size}`,
      duplication: Math.max(0, 1 - s.bytesNew / s.bytesTotal),
      compressibility: dataStored / Math.max(1, s.bytesNew),
      blocks: s.chunksNew,
      avgBlockBytes: s.chunksNew > 0 ? dataStored / s.chunksNew : dataStored,
      // What the segments hold beyond the blocks' own bytes, per block.
      metaBytesPerEntry: META_BYTES_PER_ENTRY,
      recordOverheadBytes: s.chunksNew > 0 ? Math.max(RECORD_HEADER, Math.min(4 * RECORD_HEADER, (segments - s.bytesStored) / (s.chunksNew + entries))) : RECORD_HEADER,
      newBytesPerSecond: s.bytesTotal / seconds(s.durationMs),
      rereadBytesPerSecond: again.stats.bytesTotal / seconds(again.stats.durationMs),
      statFilesPerSecond: quick.stats.files / seconds(quick.stats.durationMs),
      workers: defaultWorkers()
    }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}
