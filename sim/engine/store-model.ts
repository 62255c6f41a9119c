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
import { REWRITE_DEAD_SHARE, segmentsToReclaim, snapshotsToForget, TARGET_SEGMENT, type SegmentUse } from '../../chunkstore/index.ts'
import type { DatasetModel } from '../scenario.ts'
import type { SampleMeasure } from '../profile.ts'

const DAY = 86_400_000
/** A snapshot record and the tree nodes no change touched are small; this much per run at least. */
const RECORD_BYTES = 1024

/**
 * Bytes born with one snapshot: its time, its birth (the store's count of distinct snapshot times
 * up to it) and the bytes. A group keeps its portions flat, three numbers each, oldest first
 * (one array of numbers rather than an object per portion: prunes walk millions of them).
 */
const BORN = 0
const BIRTH = 1
const BYTES = 2
const PORTION = 3
interface Portion { born: number, birth: number, bytes: number }

/**
 * A share of a group's files as prune hands it to the reclaim rule: both the key and its use (one
 * object, not two: prune visits millions of them and each object reached is a memory access).
 */
class Part implements SegmentUse {
  share = 0
  live = 0
  dead = 0
  constructor (readonly seg: Segment) {}
}
/** A part as segmentsToReclaim takes it: the key and its use, the same object. */
type PartEntry = readonly [Part, Part]
function entry (seg: Segment): PartEntry {
  const part = new Part(seg)
  return [part, part]
}

/**
 * A group of segments that share a fate: the segments one backup's workers wrote, or the log's
 * tail (tree nodes, and what prune moved) up to the next prune that rewrites — which seals it.
 * Every segment of a group holds the same mix, so prune decides the same for each: one object
 * stands for all of them, however many 64 MiB files that is. Young portions were born at or after
 * the oldest retained snapshot; the older ones decay alike and are kept as one sum.
 */
class Segment {
  /** Oldest first. */
  young: number[] = []
  /** Birth of the oldest young portion. */
  youngFrom = Infinity
  /** Bytes of the young portions. */
  youngBytes = 0
  /** Live bytes of the old portions, valued at `oldAt`. */
  old = 0
  oldAt = -Infinity
  size = 0
  /** Live bytes as of `oldAt` (young and old). */
  live = 0
  /** Segment files the group stands for (a backup's workers each write their own). */
  files = 1
  /** In its store's list of groups. */
  listed = false
  /** Place in that list (groups join it at the end and leave it keeping their order); -1 before. */
  order = -1
  /**
   * Left out of prunes until the oldest retained snapshot passes its oldest portion: nothing in
   * it decays until then (all young, nothing old), so each prune would find it as the last did —
   * nothing dead, nothing to do.
   */
  dormant = false
  /** Its dead share, while converged groups are merged. */
  dead = 0
  /** What is left of the group in the prune under way (shares of it dropped or moved so far). */
  left = 1
  /**
   * The group as prune hands it to the reclaim rule: its files past the rewrite threshold and the
   * others, each a key and its use; made once and filled at each prune (prunes run after every
   * backup and every replica GC, hundreds of thousands in a long run).
   */
  private over?: PartEntry
  private under?: PartEntry
  get overPart (): PartEntry { return (this.over ??= entry(this)) }
  get underPart (): PartEntry { return (this.under ??= entry(this)) }
  constructor (readonly tail: boolean) {}

  /** Multiplies everything the group holds by `f` (a share of its files leaves it). */
  scale (f: number): void {
    this.old *= f
    this.live *= f
    this.size *= f
    this.youngBytes *= f
    const y = this.young
    for (let i = BYTES; i < y.length; i += PORTION) y[i] *= f
  }
}

const SQRT_2PI = Math.sqrt(2 * Math.PI)
/** Groups whose dead shares differ by no more than this are merged (MERGE_DEAD), if their young portions are at most this share of them (YOUNG_SHARE); and those under this share of their store (SPECK). */
const MERGE_DEAD = 1e-4
const YOUNG_SHARE = 1e-3
const SPECK = 1e-6

/** Moves a group's young portions into its old ones, as they are now (it is valued at the oldest retained snapshot). */
function foldYoung (seg: Segment): void {
  if (seg.young.length > 0) {
    seg.old += seg.youngBytes
    seg.youngBytes = 0
    seg.young.length = 0
    seg.youngFrom = Infinity
  }
}

interface Spread { over: number, deadOver: number, deadUnder: number }

/**
 * The segment files of a group do not all hold the same share of dead blocks: each holds its
 * own blocks, and which of them died is a draw. With `blocks` blocks per file and `dead` their
 * expected dead share, the share of files past prune's rewrite threshold, and the dead share
 * expected on either side of it (normal approximation of the binomial).
 */
export function deadSpread (dead: number, blocks: number): Spread {
  return spreadInto({ over: 0, deadOver: 0, deadUnder: 0 }, dead, blocks)
}

/** deadSpread into `out` (prune asks it for most groups, millions of times in a long run). */
function spreadInto (out: Spread, dead: number, blocks: number): Spread {
  if (dead <= 0) return set(out, 0, 0, 0)
  if (dead >= 1) return set(out, 1, 1, 1)
  const sd = Math.sqrt(dead * (1 - dead) / Math.max(1, blocks))
  const z = (REWRITE_DEAD_SHARE - dead) / sd
  // Beyond 5 standard deviations the share is below 1e-6 either way (no exp needed).
  if (z > 5) return set(out, 0, dead, dead)
  if (z < -5) return set(out, 1, dead, dead)
  // The standard normal's density at z, and its distribution by Abramowitz and Stegun 26.2.17
  // (error below 1e-7).
  const density = Math.exp(-z * z / 2) / SQRT_2PI
  const t = 1 / (1 + 0.2316419 * Math.abs(z))
  const d = density * t * (0.319381530 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))))
  const over = 1 - (z >= 0 ? 1 - d : d)
  if (over < 1e-6) return set(out, 0, dead, dead)
  if (over > 1 - 1e-6) return set(out, 1, dead, dead)
  return set(out, over, Math.min(1, dead + sd * density / over), Math.max(0, dead - sd * density / (1 - over)))
}

function set (out: Spread, over: number, deadOver: number, deadUnder: number): Spread {
  out.over = over
  out.deadOver = deadOver
  out.deadUnder = deadUnder
  return out
}

/** Dormant groups, soonest to wake first (a binary min-heap on the birth of their oldest portion). */
class WakeHeap {
  private readonly heap: Array<{ at: number, seg: Segment }> = []

  push (seg: Segment): void {
    const h = this.heap
    const e = { at: seg.youngFrom, seg }
    let i = h.push(e) - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (h[p].at <= e.at) break
      h[i] = h[p]
      i = p
    }
    h[i] = e
  }

  /** A group whose wake time is before `m`, taken off the heap; undefined when none is. */
  due (m: number): Segment | undefined {
    const h = this.heap
    if (h.length === 0 || !(h[0].at < m)) return undefined
    const top = h[0]
    const last = h.pop()!
    if (h.length > 0) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= h.length) break
        const r = l + 1
        const c = r < h.length && h[r].at < h[l].at ? r : l
        if (!(h[c].at < last.at)) break
        h[i] = h[c]
        i = c
      }
      h[i] = last
    }
    return top.seg
  }
}

export interface SnapshotModel {
  index: number
  task: string
  /** ISO time, as forget reads it, and that time parsed (whole milliseconds, unlike `ms`). */
  time: string
  timeMs: number
  ms: number
  /** Bytes written to the store up to and with this snapshot: a replica holding that many has it. */
  written: number
  /** When retention removed it (Infinity while kept). */
  forgottenAt: number
  /** Distinct snapshot times up to this one, less one: the blocks born with it are those of birth `birth`. */
  birth: number
}

export interface BackupOutcome {
  readBytes: number
  newLogicalBytes: number
  storedBytes: number
  removed: number
}

/**
 * Segments of blocks that die as their data changes: the machinery a store and a replica of it
 * share. Blocks live while a kept snapshot holds them (the decay above, from `keepFrom`); a
 * prune asks chunkstore's segmentsToReclaim which groups go and which move to the tail.
 */
class Population {
  protected readonly segments: Segment[] = []
  /** The listed groups a prune looks at (the others are dormant), in the list's order. */
  private active: Segment[] = []
  private spare: Segment[] = []
  /** Dormant groups by the time they wake (their oldest portion's birth); stale entries are skipped. */
  private readonly sleeping = new WakeHeap()
  /** Dormant groups woken since the last prune (appended to, or due). */
  private readonly woken: Segment[] = []
  private listedSoFar = 0
  protected tail: Segment | null = null
  /** Time of the oldest retained snapshot; before any is forgotten, -Infinity (everything lives). */
  protected keepFrom = -Infinity
  /** Bytes the segments take, dead ones included. */
  physical = 0
  /** Whether prune merges groups whose fates have converged (mergeConverged); off, the model is exact and slower. */
  merging = true
  /** Blocks in the index. */
  blocks = 0

  constructor (readonly changePerDay: number, private readonly blockSize: number) {
    this.ln = Math.log(1 - changePerDay)
  }

  protected readonly ln: number
  private decayOver = NaN
  private decayBy = NaN

  /** What share of a block population survives `ms` more of changes: the same span for every group at a prune, so worked out once. */
  private decay (ms: number): number {
    if (ms !== this.decayOver) {
      this.decayOver = ms
      this.decayBy = Math.exp(this.ln * ms / DAY)
    }
    return this.decayBy
  }

  /** Mean bytes a data block takes in a segment. */
  protected blockBytes (): number { return this.blockSize }
  protected append (seg: Segment, portion: Portion): void {
    if (!seg.listed) this.list(seg)
    else if (seg.dormant) { seg.dormant = false; this.woken.push(seg) }
    // Births come in time order: a backup's end is later than all its store holds.
    seg.young.push(portion.born, portion.birth, portion.bytes)
    seg.youngBytes += portion.bytes
    if (portion.born < seg.youngFrom) seg.youngFrom = portion.born
    seg.live += portion.bytes
    seg.size += portion.bytes
    this.physical += portion.bytes
  }

  private list (seg: Segment): void {
    // A group emptied and listed again (none is, today) must not stand twice in the list.
    if (seg.order >= 0) this.compact()
    seg.listed = true
    seg.order = this.listedSoFar++
    this.segments.push(seg)
    this.active.push(seg)
  }

  /** Brings the dormant groups due by `m` and those woken since back among the active ones, in the list's order. */
  private wake (m: number): void {
    const woken = this.woken
    for (let seg = this.sleeping.due(m); seg !== undefined; seg = this.sleeping.due(m)) {
      if (seg.dormant && seg.listed) { seg.dormant = false; woken.push(seg) }
    }
    if (woken.length === 0) return
    woken.sort((a, b) => a.order - b.order)
    const active = this.active
    // Into the spare list (two lists take turns: no new array at every prune).
    const merged = this.spare
    merged.length = active.length + woken.length
    let i = 0
    let j = 0
    let k = 0
    while (i < active.length && j < woken.length) merged[k++] = active[i].order < woken[j].order ? active[i++] : woken[j++]
    while (i < active.length) merged[k++] = active[i++]
    while (j < woken.length) merged[k++] = woken[j++]
    this.spare = active
    this.active = merged
    woken.length = 0
  }

  /** Live bytes of a segment now that the oldest retained snapshot is at `keepFrom`. */
  protected live (seg: Segment): number {
    const m = this.keepFrom
    if (seg.oldAt >= m) return seg.live
    if (seg.old > 0) seg.old *= this.decay(m - seg.oldAt)
    if (seg.youngFrom < m) {
      // The portions born before the oldest retained snapshot join the old ones (oldest first).
      const y = seg.young
      let i = 0
      for (; i < y.length && y[i + BORN] < m; i += PORTION) {
        seg.old += y[i + BYTES] * Math.exp(this.ln * (m - y[i + BORN]) / DAY)
        seg.youngBytes -= y[i + BYTES]
      }
      // Shifted down in place (splice would allocate an array of what it removes, at every prune).
      if (i > 0) { y.copyWithin(0, i); y.length -= i }
      if (y.length === 0) seg.youngBytes = 0
      seg.youngFrom = y.length > 0 ? y[BORN] : Infinity
    }
    seg.oldAt = m
    seg.live = seg.old + seg.youngBytes
    return seg.live
  }

  protected prune (): void {
    // A group whose expected live bytes are a speck is empty. Not half a block, as it was: that
    // rounded each group's expected live blocks down to none, and a store of small daily groups
    // (a few blocks each) lost several blocks' worth in sum — the 90-day retention scenario's
    // origin 12 % and DR site up to 14.5 % under the real stores (doc/sim.md). What a group keeps
    // below that moves to the tail when prune rewrites it, as a node's live blocks do.
    const least = this.blockBytes() / 1024
    // Each group as prune sees its files: those past the rewrite threshold and the others.
    const parts = this.parts
    parts.length = 0
    const spread = this.spread
    let tail: Part | undefined
    const m = this.keepFrom
    this.wake(m)
    const active = this.active
    let stay = 0
    for (const seg of active) {
      if (this.live(seg) < least) seg.live = 0
      const dead = seg.size > 0 ? Math.max(0, seg.size - seg.live) / seg.size : 0
      // Nothing dead and something live: prune neither rewrites nor drops it (most groups, the
      // backups still retained whole); the rule need not be asked. All young, it stays so till
      // the oldest retained snapshot passes its oldest portion (or something is added to it).
      if (dead === 0 && seg.live > 0) {
        if (seg.old === 0 && seg.youngFrom >= m && seg.youngFrom < Infinity) {
          seg.dormant = true
          this.sleeping.push(seg)
        } else active[stay++] = seg
        continue
      }
      active[stay++] = seg
      const files = Math.max(seg.files, Math.ceil(seg.size / TARGET_SEGMENT))
      if (seg.live === 0 || seg === this.tail) set(spread, dead > 0 ? 1 : 0, dead, dead)
      else spreadInto(spread, dead, seg.size / this.blockBytes() / files)
      if (seg === this.tail) tail = (spread.over > 0 ? seg.overPart : seg.underPart)[0]
      if (spread.over > 0) {
        const part = seg.overPart
        const use = part[0]
        use.share = spread.over
        use.live = seg.live === 0 ? 0 : spread.over * seg.size * (1 - spread.deadOver)
        use.dead = spread.over * seg.size * spread.deadOver
        parts.push(part)
      }
      if (spread.over < 1) {
        const part = seg.underPart
        const use = part[0]
        use.share = 1 - spread.over
        use.live = (1 - spread.over) * seg.size * (1 - spread.deadUnder)
        use.dead = (1 - spread.over) * seg.size * spread.deadUnder
        parts.push(part)
      }
    }
    active.length = stay
    const { rewrite, drop } = segmentsToReclaim(parts, tail)
    for (const part of drop) this.shrink(part.seg, part.share, part.share / part.seg.left)
    if (rewrite.length > 0) {
      // Prune seals the tail first: what it moves goes to a new one.
      const to = new Segment(true)
      to.oldAt = this.keepFrom
      this.tail = to
      this.list(to)
      // Portions born together decay together: one per birth, or the moved portions would
      // multiply with every prune that moves a share of a group (hundreds of thousands in a year).
      const { movedBytes, movedBorn } = this
      let first = Infinity
      let last = -1
      for (const part of rewrite) {
        const seg = part.seg
        const f = part.share / seg.left
        to.old += seg.old * f
        const y = seg.young
        for (let i = 0; i < y.length; i += PORTION) {
          const birth = y[i + BIRTH]
          const bytes = y[i + BYTES] * f
          to.youngBytes += bytes
          const same = movedBytes[birth]
          if (same !== undefined) { movedBytes[birth] = same + bytes; continue }
          movedBytes[birth] = bytes
          movedBorn[birth] = y[i + BORN]
          if (birth < first) first = birth
          if (birth > last) last = birth
        }
        const moved = seg.live * f
        to.live += moved
        to.size += moved
        this.physical += moved
        this.shrink(seg, part.share, f)
      }
      // Births count up with time: in their order, the portions are oldest first.
      for (let b = first; b <= last; b++) {
        const bytes = movedBytes[b]
        if (bytes === undefined) continue
        to.young.push(movedBorn[b], b, bytes)
        movedBytes[b] = undefined
      }
      to.youngFrom = to.young.length > 0 ? to.young[BORN] : Infinity
    }
    for (const part of drop) part.seg.left = 1
    for (const part of rewrite) part.seg.left = 1
    if (this.merging) this.mergeConverged()
    // The groups emptied leave the lists, which keep their order (sums over them add in that
    // order). The active list at once; the whole list, dormant groups and all, only once its
    // emptied groups are many (readers skip them): compacting it at every prune took 7 % of a
    // five-year run.
    if (this.removed > 0) {
      const active = this.active
      let w = 0
      for (const seg of active) if (seg.listed) active[w++] = seg
      active.length = w
      this.unlisted += this.removed
      this.removed = 0
      if (this.unlisted * 2 > this.segments.length) this.compact()
    }
  }

  /** Groups emptied but still in `segments`. */
  private unlisted = 0
  private compact (): void {
    const list = this.segments
    let w = 0
    for (const seg of list) if (seg.listed) list[w++] = seg
    list.length = w
    this.unlisted = 0
  }

  /**
   * Groups whose fates have converged become one — an approximation (doc/sim.md "Speed" and
   * "Assumptions and limits"). From the oldest retained snapshot on, the old portions of every
   * group decay by the same factor, so two groups whose dead shares agree now keep agreeing at
   * every later prune; prune would decide alike for both but for the spread of their files
   * (which depends on blocks per file), and they would shrink by a share at every prune, side by
   * side, until dead enough to go whole. In a long run most groups are such pairs: the share of a
   * backup's segments the rewrites left behind, and the tail that took the moved blocks in the
   * same prune. Merged, one group holds the sum of both (bytes and files) and a prune visits it
   * once. A group's young portions (born after the oldest retained snapshot: the tree nodes of
   * the backups still kept, in a tail) would make it decay later than its partner; a group is
   * merged only when they are at most YOUNG_SHARE of it, and they then join its old portions as
   * they are, to decay from now (its live bytes undercounted by less than that share). A group of
   * less than SPECK of the store's bytes (what is left of a group about to go whole) joins the
   * class below it, whatever its dead share.
   */
  private mergeConverged (): void {
    const m = this.keepFrom
    const old = this.converging
    old.length = 0
    for (const seg of this.active) {
      if (seg.listed && seg !== this.tail && seg.oldAt === m && seg.live > 0 && seg.youngBytes <= YOUNG_SHARE * seg.size) {
        seg.dead = 1 - seg.live / seg.size
        old.push(seg)
      }
    }
    if (old.length < 2) return
    old.sort((a, b) => a.dead - b.dead || a.order - b.order)
    // A speck of a group (a millionth of the store) joins the class below it whatever its dead share.
    const speck = SPECK * this.physical
    let into: Segment | null = null
    for (const seg of old) {
      if (into === null || (seg.dead - into.dead > MERGE_DEAD && seg.size >= speck)) {
        into = seg
        continue
      }
      foldYoung(into)
      foldYoung(seg)
      into.old += seg.old
      into.live += seg.live
      into.size += seg.size
      into.files += seg.files
      seg.listed = false
      this.removed++
    }
  }

  private readonly converging: Segment[] = []

  /** The groups' parts of the prune under way. */
  private readonly parts: PartEntry[] = []

  private readonly spread: Spread = { over: 0, deadOver: 0, deadUnder: 0 }
  /** The portions a rewrite moves, one per birth, by birth (empty between prunes). */
  private readonly movedBytes: Array<number | undefined> = []
  private readonly movedBorn: number[] = []
  /** Groups emptied by the prune under way, still in the list. */
  private removed = 0

  /** Takes a share `part` of a group's files out of it (`f`: that share of what is left of it now). */
  protected shrink (seg: Segment, part: number, f: number): void {
    const left = seg.left - part
    const bytes = seg.size * f
    const dead = (seg.size - seg.live) * f
    this.physical -= bytes
    this.blocks = Math.max(0, this.blocks - dead / this.blockBytes())
    if (left <= 1e-9) {
      seg.listed = false
      seg.left = 1
      this.removed++
      return
    }
    seg.scale(1 - f)
    seg.files = Math.max(1, seg.files * (1 - f))
    seg.left = left
  }

  /** Live bytes of the whole store (what a replica that follows retention keeps). */
  liveBytes (): number {
    let n = 0
    for (const seg of this.segments) if (seg.listed) n += this.live(seg)
    return n
  }

  /** The model's own size: groups of segments, and birth portions in them (each is one per birth at most). */
  get shape (): { groups: number, portions: number } {
    this.compact()
    let portions = 0
    for (const seg of this.segments) portions += seg.young.length / PORTION
    return { groups: this.segments.length, portions }
  }

}

export class StoreModel extends Population {
  readonly id: string
  /** Every snapshot ever made, oldest first; `retained` is the index of the oldest still kept. */
  readonly snapshots: SnapshotModel[] = []
  private retained = 0
  /** The snapshots still kept, oldest first (what forget looks at). */
  private readonly keptList: SnapshotModel[] = []
  /** Time the data was last read by a backup, and its logical size then. */
  private lastReadMs: number | null = null
  /** Bytes written to the store so far (moves by prune not counted: they are the same blocks). */
  written = 0

  constructor (readonly site: string, readonly dataset: DatasetModel, private readonly sample: SampleMeasure, readonly startMs: number, private readonly workers = 4) {
    super(dataset.changePerDay, sample.avgBlockBytes + sample.recordOverheadBytes)
    this.id = `${site}/${dataset.name}`
    if (dataset.storedBytes !== null) {
      // A store that exists already: one population, as of one snapshot at the start.
      this.append(new Segment(false), { born: startMs, birth: this.birthAt(startMs), bytes: dataset.storedBytes })
      this.written = dataset.storedBytes
      this.blocks = dataset.storedBytes / this.blockBytes()
      this.lastReadMs = startMs
      const time = new Date(startMs).toISOString()
      const snap: SnapshotModel = { index: 0, task: dataset.task.name, time, timeMs: Date.parse(time), ms: startMs, written: this.written, forgottenAt: Infinity, birth: this.births - 1 }
      this.snapshots.push(snap)
      this.keptList.push(snap)
    }
  }

  /** Distinct snapshot times so far (snapshots come in time order). */
  private births = 0
  private lastBirthMs = NaN

  /** The birth of blocks born at `ms`, the time of the snapshot being made. */
  private birthAt (ms: number): number {
    if (ms !== this.lastBirthMs) { this.lastBirthMs = ms; this.births++ }
    return this.births - 1
  }

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
    const birth = this.birthAt(endMs)
    const meta = entries * this.sample.metaBytesPerEntry + RECORD_BYTES
    if (dataBytes > 0) {
      // Each of the backup's workers writes segments of its own, files whole (a file is one worker's).
      const cohort = new Segment(false)
      cohort.files = Math.max(Math.ceil(dataBytes / TARGET_SEGMENT), Math.min(this.workers, Math.max(1, Math.round(this.files(startMs) * p.touchedShare))))
      this.append(cohort, { born: endMs, birth, bytes: dataBytes })
    }
    this.tail ??= new Segment(true)
    this.append(this.tail, { born: endMs, birth, bytes: meta })
    this.written += dataBytes + meta
    this.blocks += dataBlocks + entries + 1
    const time = new Date(endMs).toISOString()
    const snap: SnapshotModel = { index: this.snapshots.length, task: this.dataset.task.name, time, timeMs: Date.parse(time), ms: endMs, written: this.written, forgottenAt: Infinity, birth }
    this.snapshots.push(snap)
    this.keptList.push(snap)
    const removed = this.retain(endMs)
    return { readBytes: p.readBytes, newLogicalBytes: p.newLogical, storedBytes: dataBytes + meta, removed }
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

  /** Snapshots kept now. */
  get kept (): number { return this.keptList.length }
}

/** A site's replica log, shared by what it holds of every origin: how full its open segment is. */
export interface ReplicaLog { fill: number, epoch: number }

/**
 * What a replica holds of one origin store (doc/sim.md "Replicas"): the blocks each replication
 * run brought, one group per run (the replica writes what it receives into its log's tail), born
 * with the origin's snapshots they came with, so they decay as the origin's do. Its GC (the
 * node's replica retention) drops the snapshots the origin released once their locks have
 * passed and frees the blocks no kept snapshot holds: here, the oldest kept snapshot moves on
 * and the same reclaim rule as the origin's prune decides which segments go.
 */
export class ReplicaModel extends Population {
  /** The log's epoch the open tail belongs to: once the site's log moved on, it is sealed. */
  private tailEpoch = -1
  /** `segment`: the size the replica's log seals segments at (the node's TARGET_SEGMENT). */
  constructor (readonly origin: { readonly snapshots: readonly SnapshotModel[], readonly dataset: DatasetModel }, blockBytes: number, private readonly log: ReplicaLog = { fill: 0, epoch: 0 }, private readonly segment = TARGET_SEGMENT) {
    super(origin.dataset.changePerDay, blockBytes)
  }

  /** The open tail, if the site's log has not sealed it since (other origins' blocks filled it). */
  private openTail (): Segment | null {
    if (this.tail !== null && (this.tailEpoch !== this.log.epoch || !this.tail.listed)) this.tail = null
    return this.tail
  }

  /**
   * One run brought the origin's blocks from byte `from` to byte `to` of what it has written. The
   * replica appends what it receives to its log, one log for every origin it holds: the open
   * segment fills up to the segment size first, then whole segments follow and the last, partly
   * filled one is the new open segment — which reclaim leaves alone until it is sealed, so a
   * replica frees in steps of segments, as a node does.
   */
  receive (from: number, to: number): void {
    if (to <= from) return
    const snaps = this.origin.snapshots
    // The first snapshot whose blocks are not all here yet (snapshots in the order written).
    let lo = 0
    let hi = snaps.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (snaps[mid].written <= from) lo = mid + 1
      else hi = mid
    }
    const into = (group: Segment, bytes: number): void => {
      const end = from + bytes
      for (; lo < snaps.length && from < end; lo++) {
        const upTo = Math.min(end, snaps[lo].written)
        if (upTo > from) this.append(group, { born: snaps[lo].ms, birth: snaps[lo].birth, bytes: upTo - from })
        from = upTo
        if (upTo === end && snaps[lo].written > end) break
      }
      from = end
    }
    this.blocks += (to - from) / this.blockBytes()
    const log = this.log
    const room = Math.max(0, this.segment - log.fill)
    if (room > 0) {
      const n = Math.min(to - from, room)
      let tail = this.openTail()
      if (tail === null) {
        tail = this.tail = new Segment(true)
        this.tailEpoch = log.epoch
      }
      into(tail, n)
      log.fill += n
    }
    if (to <= from) return
    // The open segment is full: the log moves on (the open tails of every origin here are sealed).
    log.epoch++
    log.fill = 0
    const whole = Math.floor((to - from) / this.segment)
    if (whole > 0) {
      const sealed = new Segment(false)
      sealed.files = whole
      into(sealed, whole * this.segment)
    }
    if (to > from) {
      const open = new Segment(true)
      log.fill = to - from
      into(open, to - from)
      this.tail = open
      this.tailEpoch = log.epoch
    } else this.tail = null
  }

  /** GC: every snapshot before `keepFrom` (epoch ms) was dropped; frees what the reclaim rule lets go. */
  collect (keepFrom: number): void {
    if (keepFrom <= this.keepFrom) return
    this.keepFrom = keepFrom
    const open = this.openTail()
    this.prune()
    // What a rewrite moved went to the log's open segment.
    if (this.tail !== open && this.tail !== null) {
      this.tailEpoch = this.log.epoch
      this.log.fill += this.tail.size
    }
  }
}
