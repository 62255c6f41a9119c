// A calibration profile (format v1, doc/sim.md): what `cairn sim calibrate` measured with the
// real chunker, dedup, compression and sealing on a sample folder, and with two node processes
// replicating over loopback — so that a scenario's predictions use this machine's numbers. A
// scenario names one (`profile:`); parts that were not measured fall back to DEFAULTS, and the
// report says which parts were measured.
import { readFileSync } from 'node:fs'
import { ProfileInvalidError } from './errors.ts'

export interface SampleMeasure {
  folder: string
  /** Logical bytes, files and folders of the sample. */
  bytes: number
  files: number
  dirs: number
  /** zstd level and chunker it was measured with. */
  compression: number
  chunker: string
  /** Share of the logical bytes dedup removed (1 − unique / logical). */
  duplication: number
  /** Stored bytes of the unique data's blocks (compressed and sealed) per unique plaintext byte. */
  compressibility: number
  /** Data blocks stored, and their mean stored size. */
  blocks: number
  avgBlockBytes: number
  /** Bytes of tree nodes and the snapshot record per file or folder, in a full backup. */
  metaBytesPerEntry: number
  /** Bytes a block takes in a segment beyond itself (record header), and in the index. */
  recordOverheadBytes: number
  /** Logical bytes per second of a first full backup (everything new). */
  newBytesPerSecond: number
  /** Logical bytes per second of a full backup that finds nothing new (read, chunk, hash, look up). */
  rereadBytesPerSecond: number
  /** Files per second of an incremental backup that finds nothing changed (metadata cache). */
  statFilesPerSecond: number
  /** Worker threads a backup used (each writes segments of its own). */
  workers?: number
}

export interface MeshMeasure {
  /** Payload bytes per second one link moved between two node processes. */
  bytesPerSecond: number
  /** Cost of each block sent beyond its bytes, and of each block offered (HAVE) in a run. */
  secondsPerBlockSent: number
  secondsPerBlockOffered: number
  /** Fixed cost of a run (session, flush, roots). */
  secondsPerRun: number
  /** Wire bytes per block offered. */
  offerBytesPerBlock: number
  blocks: number
  bytes: number
}

export interface Profile {
  format: 'cairn-sim-profile'
  version: 1
  measuredAt: string
  host: { name: string, cpus: number, cpuModel: string, node: string }
  sample?: SampleMeasure
  mesh?: MeshMeasure
  /**
   * `instant`: backups and replication take no time beyond their bandwidth limits — the world of
   * daemons on a stepped clock (the accuracy check), where work happens between two steps.
   */
  timing?: 'measured' | 'instant'
}

/** What a scenario gets for what no profile measured: middling numbers for a small server. */
export const DEFAULT_SAMPLE: SampleMeasure = {
  folder: '(built-in defaults)', bytes: 0, files: 0, dirs: 0, compression: 0, chunker: 'cdc',
  duplication: 0, compressibility: 1, blocks: 0, avgBlockBytes: 1 << 20, metaBytesPerEntry: 300, recordOverheadBytes: 120,
  newBytesPerSecond: 100e6, rereadBytesPerSecond: 300e6, statFilesPerSecond: 20_000, workers: 4
}

export const DEFAULT_MESH: MeshMeasure = {
  bytesPerSecond: 100e6, secondsPerBlockSent: 50e-6, secondsPerBlockOffered: 5e-6, secondsPerRun: 0.05, offerBytesPerBlock: 37, blocks: 0, bytes: 0
}

export const DEFAULT_PROFILE: Profile = {
  format: 'cairn-sim-profile', version: 1, measuredAt: '', host: { name: '', cpus: 0, cpuModel: '', node: '' }
}

const SAMPLE_NUMBERS: Array<keyof SampleMeasure> = ['bytes', 'files', 'dirs', 'compression', 'duplication', 'compressibility', 'blocks', 'avgBlockBytes', 'metaBytesPerEntry', 'recordOverheadBytes', 'newBytesPerSecond', 'rereadBytesPerSecond', 'statFilesPerSecond']
const MESH_NUMBERS: Array<keyof MeshMeasure> = ['bytesPerSecond', 'secondsPerBlockSent', 'secondsPerBlockOffered', 'secondsPerRun', 'offerBytesPerBlock', 'blocks', 'bytes']

/** Throws ProfileInvalidError naming the first thing wrong. */
export function checkProfile (p: unknown, file: string): Profile {
  const o = p as Partial<Profile> | null
  if (o === null || typeof o !== 'object') throw new ProfileInvalidError(file, 'it is not a JSON object')
  if (o.format !== 'cairn-sim-profile') throw new ProfileInvalidError(file, 'it is not a profile (format is not "cairn-sim-profile")')
  if (o.version !== 1) throw new ProfileInvalidError(file, `version ${String(o.version)} is not one this Cairn reads (1)`)
  const numbers = <T extends object>(part: T | undefined, keys: Array<keyof T>, name: string): void => {
    if (part === undefined) return
    for (const k of keys) {
      const v = part[k]
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ProfileInvalidError(file, `${name}.${String(k)} is not a number ≥ 0`)
    }
  }
  numbers(o.sample, SAMPLE_NUMBERS, 'sample')
  numbers(o.mesh, MESH_NUMBERS, 'mesh')
  if (o.timing !== undefined && o.timing !== 'measured' && o.timing !== 'instant') throw new ProfileInvalidError(file, 'timing is neither "measured" nor "instant"')
  return o as Profile
}

export function readProfile (file: string): Profile {
  let text: string
  try { text = readFileSync(file, 'utf8') } catch (err) { throw new ProfileInvalidError(file, `it cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err }) }
  let json: unknown
  try { json = JSON.parse(text) } catch (err) { throw new ProfileInvalidError(file, `it is not JSON (${(err as Error).message})`, { cause: err }) }
  return checkProfile(json, file)
}

/** The parts of a profile that were measured, for the report. */
export function measuredParts (p: Profile): string[] {
  return [...(p.sample !== undefined ? ['sample'] : []), ...(p.mesh !== undefined ? ['mesh'] : []), ...(p.timing === 'instant' ? ['instant'] : [])]
}
