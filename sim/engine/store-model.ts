// One site's store of one data set, as block populations rather than bytes (doc/sim.md "Model").
//
// Every backup writes the blocks of what changed or grew since the last one into segments of its
// own (the node's worker threads start fresh segments each run), and its tree nodes into the log's
// tail. A block born with snapshot b is needed as long as a retained snapshot holds it: with
// changes spread evenly over the data, one still in the data at the oldest retained snapshot m
// has survived (1 − change)^(m − b days). Forget uses chunkstore's snapshotsToForget, and a prune
// after it chunkstore's segmentsToReclaim on each segment's live and dead bytes: drop the dead,
// move the live of the mostly-dead to the tail — so stored bytes follow the node's reclaim rules,
// not an ideal of "live data only".
import { segmentsToReclaim, snapshotsToForget } from '../../chunkstore/index.ts'
import type { DatasetModel } from '../scenario.ts'
import type { SampleMeasure } from '../profile.ts'

const DAY = 86_400_000
/** A snapshot record and the tree nodes no change touched are small; this much per run at least. */
const RECORD_BYTES = 1024

interface Portion { born: number, bytes: number }

/**
 * A group of segments that share a fate: the segments one backup's workers wrote, or the log's
 * tail (tree nodes, and what prune moved) up to the next prune that rewrites — which seals it.
 * Every segment of a group holds the same mix, so prune decides the same for each: one object
 * stands for all of them, however many 64 MiB files that is. Young portions were born at or after
 * the oldest retained snapshot; the older ones decay alike and are kept as one sum.
 */
class Segment {
  young: Portion[] = []
  /** Birth of the oldest young portion. */
  youngFrom = Infinity
  /** Live bytes of the old portions, valued at `oldAt`. */
  old = 0
  oldAt = -Infinity
  size = 0
  /** Live bytes as of `oldAt` (young and old). */
  live = 0
  constructor (readonly tail: boolean) {}
}

export interface SnapshotModel {
  index: number
  task: string
  /** ISO time, as forget reads it. */
  time: string
  ms: number
  /** Bytes written to the store up to and with this snapshot: a replica holding that many has it. */
  written: number
  /** When retention removed it (Infinity while kept). */
  forgottenAt: number
}

export interface BackupOutcome {
  readBytes: number
  newLogicalBytes: number
  storedBytes: number
  removed: number
}

export class StoreModel {
  readonly id: string
  private readonly ln: number
  private readonly segments: Segment[] = []
  private tail: Segment | null = null
  /** Time of the oldest retained snapshot; before any is forgotten, -Infinity (everything lives). */
  private keepFrom = -Infinity
  /** Every snapshot ever made, oldest first; `retained` is the index of the oldest still kept. */
  readonly snapshots: SnapshotModel[] = []
  private retained = 0
  /** The snapshots still kept, oldest first (what forget looks at). */
  private readonly keptList: SnapshotModel[] = []
  /** Time the data was last read by a backup, and its logical size then. */
  private lastReadMs: number | null = null
  /** Bytes written to the store so far (moves by prune not counted: they are the same blocks). */
  written = 0
  /** Bytes the segments take, dead ones included. */
  physical = 0
  /** Blocks in the index (what a replication run offers). */
  blocks = 0

  constructor (readonly site: string, readonly dataset: DatasetModel, private readonly sample: SampleMeasure, readonly startMs: number) {
    this.id = `${site}/${dataset.name}`
    this.ln = Math.log(1 - dataset.changePerDay)
    if (dataset.storedBytes !== null) {
      // A store that exists already: one population, as of one snapshot at the start.
      this.append(new Segment(false), { born: startMs, bytes: dataset.storedBytes })
      this.written = dataset.storedBytes
      this.blocks = dataset.storedBytes / this.blockBytes()
      this.lastReadMs = startMs
      const snap: SnapshotModel = { index: 0, task: dataset.task.name, time: new Date(startMs).toISOString(), ms: startMs, written: this.written, forgottenAt: Infinity }
      this.snapshots.push(snap)
      this.keptList.push(snap)
    }
  }

  /** Mean bytes a data block takes in a segment. */
  private blockBytes (): number { return this.sample.avgBlockBytes + this.sample.recordOverheadBytes }

  /** Logical size of the data at `ms`. */
  logical (ms: number): number {
    const days = (ms - this.startMs) / DAY
    const g = this.dataset.growth
    return 'bytesPerDay' in g ? this.dataset.sizeBytes + g.bytesPerDay * days : this.dataset.sizeBytes * Math.pow(1 + g.sharePerDay, days)
  }

  files (ms: number): number {
    const s0 = this.dataset.sizeBytes
    return s0 > 0 ? this.dataset.files * this.logical(ms) / s0 : this.dataset.files
  }

  /** What a backup starting at `ms` reads and adds: logical bytes read, new unique logical bytes. */
  plan (ms: number, level: 'full' | 'incremental'): { readBytes: number, newLogical: number, touchedShare: number, first: boolean } {
    const now = this.logical(ms)
    if (this.lastReadMs === null) return { readBytes: now, newLogical: now * (1 - this.dataset.duplication), touchedShare: 1, first: true }
    const before = this.logical(this.lastReadMs)
    const changed = before * (1 - Math.exp(this.ln * (ms - this.lastReadMs) / DAY))
    const fresh = Math.max(0, changed + now - before)
    const touchedShare = now > 0 ? Math.min(1, fresh / now) : 0
    return { readBytes: level === 'full' ? now : fresh, newLogical: fresh * (1 - this.dataset.duplication), touchedShare, first: false }
  }

  /** A backup that read the data at `startMs` and ends (its snapshot made) at `endMs`. */
  backup (startMs: number, endMs: number, level: 'full' | 'incremental'): BackupOutcome {
    const p = this.plan(startMs, level)
    this.lastReadMs = startMs
    const data = p.newLogical * this.dataset.compressibility
    const dataBlocks = data / this.sample.avgBlockBytes
    const dataBytes = data + dataBlocks * this.sample.recordOverheadBytes
    const entries = (this.files(startMs) + this.dataset.dirs) * p.touchedShare
    const meta = entries * this.sample.metaBytesPerEntry + RECORD_BYTES
    if (dataBytes > 0) this.append(new Segment(false), { born: endMs, bytes: dataBytes })
    this.tail ??= new Segment(true)
    this.append(this.tail, { born: endMs, bytes: meta })
    this.written += dataBytes + meta
    this.blocks += dataBlocks + entries + 1
    const snap: SnapshotModel = { index: this.snapshots.length, task: this.dataset.task.name, time: new Date(endMs).toISOString(), ms: endMs, written: this.written, forgottenAt: Infinity }
    this.snapshots.push(snap)
    this.keptList.push(snap)
    const removed = this.retain(endMs)
    return { readBytes: p.readBytes, newLogicalBytes: p.newLogical, storedBytes: dataBytes + meta, removed }
  }

  private append (seg: Segment, portion: Portion): void {
    if (!this.segments.includes(seg)) this.segments.push(seg)
    seg.young.push(portion)
    if (portion.born < seg.youngFrom) seg.youngFrom = portion.born
    seg.live += portion.bytes
    seg.size += portion.bytes
    this.physical += portion.bytes
  }

  /** Forget by the task's retention (the node's rule), then prune if anything was forgotten (as the node's backup job does). */
  private retain (nowMs: number): number {
    const policy = this.dataset.task.retention
    if (policy === null) return 0
    const gone = snapshotsToForget(this.keptList, policy, new Date(nowMs))
    if (gone.length === 0) return 0
    for (const s of gone) s.forgottenAt = nowMs
    let w = 0
    for (const s of this.keptList) if (s.forgottenAt === Infinity) this.keptList[w++] = s
    this.keptList.length = w
    // The newest snapshots are kept whatever the policy, so what goes is the oldest ones.
    while (this.retained < this.snapshots.length && this.snapshots[this.retained].forgottenAt !== Infinity) this.retained++
    this.keepFrom = this.snapshots[this.retained].ms
    this.prune()
    return gone.length
  }

  /** Live bytes of a segment now that the oldest retained snapshot is at `keepFrom`. */
  private live (seg: Segment): number {
    const m = this.keepFrom
    if (seg.oldAt >= m) return seg.live
    if (seg.old > 0) seg.old *= Math.exp(this.ln * (m - seg.oldAt) / DAY)
    if (seg.youngFrom < m) {
      let w = 0
      let from = Infinity
      for (const p of seg.young) {
        if (p.born < m) seg.old += p.bytes * Math.exp(this.ln * (m - p.born) / DAY)
        else { seg.young[w++] = p; if (p.born < from) from = p.born }
      }
      seg.young.length = w
      seg.youngFrom = from
    }
    seg.oldAt = m
    let n = seg.old
    for (const p of seg.young) n += p.bytes
    seg.live = n
    return n
  }

  private prune (): void {
    // Fewer than half a block left alive is no block at all.
    const least = this.blockBytes() / 2
    const use: Array<[Segment, { live: number, dead: number }]> = []
    for (const seg of this.segments) {
      const live = this.live(seg)
      if (live < least) seg.live = 0
      use.push([seg, { live: seg.live, dead: Math.max(0, seg.size - seg.live) }])
    }
    const { rewrite, drop } = segmentsToReclaim(use, this.tail ?? undefined)
    for (const seg of drop) this.remove(seg, seg.size)
    if (rewrite.length > 0) {
      // Prune seals the tail first: what it moves goes to a new one.
      this.tail = new Segment(true)
      const to = this.tail
      this.segments.push(to)
      to.oldAt = this.keepFrom
      for (const seg of rewrite) {
        to.old += seg.old
        for (const p of seg.young) { to.young.push(p); if (p.born < to.youngFrom) to.youngFrom = p.born }
        to.live += seg.live
        to.size += seg.live
        this.physical += seg.live
        this.remove(seg, seg.size - seg.live)
      }
    }
  }

  private remove (seg: Segment, deadBytes: number): void {
    this.segments.splice(this.segments.indexOf(seg), 1)
    this.physical -= seg.size
    this.blocks = Math.max(0, this.blocks - deadBytes / this.blockBytes())
  }

  /** Live bytes of the whole store (what a replica that follows retention keeps). */
  liveBytes (): number {
    let n = 0
    for (const seg of this.segments) n += this.live(seg)
    return n
  }

  /** Snapshots kept now. */
  get kept (): number { return this.keptList.length }
}
