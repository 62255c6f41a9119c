// Retention at a replica (doc/mesh.md "Retention at replicas"): snapshot roots listed with the
// origin's signed manifest and a lock fixed at receipt, releases signed by the origin, and GC
// that frees the blocks of dropped snapshots that no kept snapshot of any origin lists. It reads
// no sealed byte: manifests and releases are plain blocks signed by the origin's node key.
import { CID } from 'multiformats/cid'
import type { PrivateKey } from '@libp2p/interface'
import { signLockRecord } from './lock-record.ts'
import { LOCK_FOREVER, Status, type StatusCode } from './chunk-wire.ts'
import { InvalidRetentionRecordError, SnapshotNotLockedError } from './errors.ts'
import { adminReleaseRoot, verifyAdminRelease, verifyManifestHead, verifyRelease, type ManifestHead } from './snapshot-manifest.ts'
import { BlockNotFoundError, cidOf, keyOf, StoreCorruptError, sweepBlocks, type Key, type LocalBlockStore, type RootRetention } from '../chunkstore/index.ts'
import { manifestParts, type Listed, type ManifestParts } from './manifest-parts.ts'

const DAY_MS = 86_400_000

export interface ReplicaRetentionInit {
  store: LocalBlockStore
  /** The mesh id: heads and releases of other meshes are refused. */
  mesh: string
  /** Milliseconds since the epoch; tests pass an accelerated clock. */
  now?: () => number
  /** This replica's own lock, in days (or 'forever'), for what an origin sends: the floor under what the sender asks. Default 0. */
  floorDays?: (origin: string) => number | 'forever'
  /** This replica's quota for what an origin sends, in bytes (undefined: none). */
  quotaBytes?: (origin: string) => number | undefined
  /** Told when an offer is refused for a full quota (the host raises an alert). */
  onQuotaRefused?: (e: QuotaRefusal) => void
  /**
   * This replica's node key: with it, each lock is also written as a signed lock record in the
   * store (lock-record.ts), from which `cairn repair index` brings the locks back.
   */
  key?: PrivateKey
  /**
   * Test only (kill -9 mid-GC): awaited at two points of every GC that drops something,
   * 'marked' (dropped roots marked, nothing freed yet) and 'swept' (blocks freed, roots still
   * listed). mesh-node.ts sets it from CAIRN_TEST_GC_HOLD alone.
   */
  testHold?: (point: 'marked' | 'swept') => Promise<void>
}

export interface QuotaRefusal { origin: string, root: string, held: number, adding: number, quota: number }

export interface RetentionGcResult {
  /** Snapshot roots dropped by this run. */
  dropped: string[]
  blocksFreed: number
  bytesFreed: number
  /** Kept roots with no manifest: while there are any, nothing is freed (their blocks are not known). */
  blockedBy: Array<{ root: string, origin?: string }>
}

/** An administrator's release this replica applied: who (the certificate's subject and fingerprint), why, and which snapshot. */
export interface AdminReleaseApplied { root: string, origin: string, subject: string, fingerprint: string, reason: string, issued: string, release: string }

export interface SnapshotLock {
  root: string
  origin: string
  received: string
  lockedUntil: string
  released: boolean
  /** Whether GC may drop it now: released and its lock has passed, or released by an administrator. */
  droppable: boolean
  /** The administrator's release that ended its lock, if any. */
  adminRelease?: string
}

/** Space at this replica for one origin site (doc/mesh.md "Space accounting and quotas"). */
export interface OriginSpace {
  /** PeerId of the origin. */
  origin: string
  snapshots: number
  /** Bytes of the distinct blocks its listed snapshots' manifests name (heads and pages included). */
  held: number
  /** What a GC would free now: blocks of its droppable snapshots that no other kept snapshot lists. */
  releasableNow: number
  /** When more becomes releasable (the earliest lock among its released snapshots), and how much. */
  nextRelease?: { at: string, bytes: number }
}

export interface ReplicaRetention {
  /** ADD_ROOT_SIGNED: lists `root` with its manifest head `head` (a stored block), locked for at least `lockDays`. */
  addSignedRoot: (root: CID, head: CID, lockDays: number) => Promise<{ status: StatusCode, origin: string }>
  /**
   * OFFER_ROOT: before the sender sends a new root's blocks, with its head and pages stored:
   * QUOTA when the blocks this replica lacks would take its origin past its quota, else OK.
   */
  offer: (root: CID, head: CID, peer: string) => Promise<StatusCode>
  /**
   * An administrator's release (USB key), checked here against `trusted` (PEM certificates):
   * ends the root's lock at this replica at once. Throws, changing nothing (not a byte stored):
   * InvalidRetentionRecordError for a forged or malformed one or an invalid certificate,
   * UntrustedReleaseCertificateError for a certificate not among `trusted`, SnapshotNotLockedError
   * for a root this replica keeps no lock for.
   */
  adminRelease: (bytes: Uint8Array, trusted: string[]) => Promise<AdminReleaseApplied>
  /** RELEASE: records the release block `release` (stored) for its root. */
  release: (release: CID) => Promise<StatusCode>
  /** Each listed root's lock and release state. */
  locks: () => Promise<SnapshotLock[]>
  /** Per origin: what this replica holds, what it could free now, and when more becomes free. */
  space: () => Promise<OriginSpace[]>
  /** Drops what may be dropped and frees the blocks no kept root lists; one run at a time. */
  gc: () => Promise<RetentionGcResult>
}

/** A lock time, as stored: an ISO time, or "forever". */
const lockEnd = (received: number, days: number | 'forever'): string => days === 'forever' ? 'forever' : new Date(received + days * DAY_MS).toISOString()
const later = (a: string, b: string): string => a === 'forever' || b === 'forever' ? 'forever' : (Date.parse(a) >= Date.parse(b) ? a : b)
const passed = (lockedUntil: string, now: number): boolean => lockedUntil !== 'forever' && Date.parse(lockedUntil) <= now

export function createReplicaRetention (init: ReplicaRetentionInit): ReplicaRetention {
  const { store, mesh } = init
  const now = init.now ?? Date.now
  let running: Promise<RetentionGcResult> | undefined

  /** Writes a root's lock: its signed record first (when this replica has its key), then the index entry naming it. */
  async function saveLock (root: CID, r: RootRetention): Promise<void> {
    let next = r
    if (init.key !== undefined) {
      const bytes = await signLockRecord(init.key, mesh, root.toString(), r)
      const cid = cidOf(bytes)
      await store.put(cid, bytes)
      await store.flush()
      next = { ...r, record: cid.toString() }
    }
    await store.setRetention(root, next)
  }

  async function readHead (head: CID): Promise<ManifestHead> {
    return await verifyManifestHead(await store.get(head), mesh)
  }

  /** A root's manifest part by part; undefined when its head or a page is not stored (a GC has freed them, or they never came). */
  async function partsOf (head: string): Promise<ManifestParts | undefined> {
    try {
      const cid = CID.parse(head)
      return await manifestParts(store, cid, await readHead(cid))
    } catch (err) {
      if (err instanceof BlockNotFoundError) return undefined
      throw err
    }
  }

  /** Counts what is not counted yet of a listed root (root-use.ts), part by part from where a count stopped. */
  async function countParts (root: CID, origin: string, m: ManifestParts): Promise<void> {
    for (let i = (await store.rootUse(root))?.counted ?? 0; i < m.count; i++) {
      if (!await store.countRootPart(root, origin, i, m.count, await m.part(i, { distinct: true }))) return
    }
  }

  /**
   * Counts the kept roots not counted whole yet in the index's per-origin totals: roots listed
   * by a version that kept none, or by `repair index`, or a count a crash cut off. Once each; a
   * root GC is dropping is not counted again.
   */
  async function settle (): Promise<void> {
    const kept = (await store.retentions()).filter(r => r.retention.dropping !== true)
    const counted = await store.rootsCounted(kept.map(r => r.root))
    for (const [i, r] of kept.entries()) {
      if (counted[i]) continue
      try {
        const m = await partsOf(r.retention.head)
        if (m !== undefined) await countParts(r.root, r.retention.origin, m)
      } catch (err) {
        // Its blocks are not known: it is left out (GC's sweep reads and reports it).
        if (!(err instanceof BlockNotFoundError || err instanceof StoreCorruptError)) throw err
      }
    }
  }

  async function space (): Promise<OriginSpace[]> {
    // The roots counted whole: a root whose manifest is not stored is left out (its blocks are
    // not known), and so is one a GC is uncounting, as it is going. Held bytes are the index's
    // totals; only what would be freed reads manifests: the released roots'.
    await settle()
    const retained = await store.retentions()
    const counted = await store.rootsCounted(retained.map(r => r.root))
    const heads = new Map(retained.filter((_, i) => counted[i]).map(r => [r.root.toString(), r.retention.head]))
    const locks = (await retention.locks()).filter(l => heads.has(l.root))
    const origins = [...new Set(locks.map(l => l.origin))]
    /** Bytes, per origin, of the blocks of `going` that no root outside `going` lists: those every origin's count names only in `going`. */
    const freed = async (going: Set<string>): Promise<Map<string, number>> => {
      const named = new Map<Key, { block: Listed, origin: string, going: Map<string, number> }>()
      for (const l of locks) {
        if (!going.has(l.root)) continue
        const m = await partsOf(heads.get(l.root)!)
        for (let i = 0; i < (m?.count ?? 0); i++) {
          for (const b of await m!.part(i, { distinct: true })) {
            let n = named.get(b.key)
            if (n === undefined) named.set(b.key, n = { block: b, origin: l.origin, going: new Map() })
            n.going.set(l.origin, (n.going.get(l.origin) ?? 0) + 1)
          }
        }
      }
      const list = [...named.values()]
      const live = new Array<boolean>(list.length).fill(false)
      for (const o of origins) {
        const counts = await store.useCounts(o, list.map(n => n.block.cid))
        list.forEach((n, i) => { if (counts[i] > (n.going.get(o) ?? 0)) live[i] = true })
      }
      const out = new Map<string, number>()
      list.forEach((n, i) => { if (!live[i]) out.set(n.origin, (out.get(n.origin) ?? 0) + n.block.size) })
      return out
    }
    const droppable = new Set(locks.filter(l => l.droppable).map(l => l.root))
    const now1 = await freed(droppable)
    const byOrigin = new Map<string, OriginSpace>()
    for (const l of locks) {
      let o = byOrigin.get(l.origin)
      if (o === undefined) byOrigin.set(l.origin, o = { origin: l.origin, snapshots: 0, held: (await store.originUse(l.origin)).bytes, releasableNow: now1.get(l.origin) ?? 0 })
      o.snapshots++
    }
    for (const o of byOrigin.values()) {
      const waiting = locks.filter(l => l.origin === o.origin && l.released && !l.droppable && l.lockedUntil !== 'forever').sort((a, b) => a.lockedUntil.localeCompare(b.lockedUntil))
      if (waiting.length === 0) continue
      const at = waiting[0].lockedUntil
      const then = new Set([...droppable, ...locks.filter(l => l.released && l.lockedUntil !== 'forever' && l.lockedUntil <= at).map(l => l.root)])
      o.nextRelease = { at, bytes: Math.max(0, ((await freed(then)).get(o.origin) ?? 0) - o.releasableNow) }
    }
    return [...byOrigin.values()]
  }

  /** ADD_ROOT_SIGNED (doc/mesh.md "Wire messages"): the status to answer, and the origin the head names. */
  async function addSigned (root: CID, head: CID, lockDays: number): Promise<{ status: StatusCode, origin: string }> {
    const refuse = (status: StatusCode): { status: StatusCode, origin: string } => ({ status, origin: '' })
    let h: ManifestHead
    try {
      h = await readHead(head)
    } catch (err) {
      if (err instanceof BlockNotFoundError) return refuse(Status.NOT_FOUND)
      if (err instanceof InvalidRetentionRecordError) return refuse(Status.BAD_SIGNATURE)
      throw err
    }
    if (h.root !== root.toString()) return refuse(Status.MALFORMED)
    const known = await store.retention(root)
    if (known !== undefined && known.head !== head.toString()) return refuse(Status.REFUSED)
    const listed = (await store.snapshotRootOrigins()).find(r => r.cid.equals(root))
    if (listed?.origin !== undefined && listed.origin.site !== h.origin) return refuse(Status.REFUSED)
    if (listed !== undefined && listed.origin === undefined) return refuse(Status.REFUSED) // backed up here
    // Read part by part (a page at a time): every block there, the totals the head states, the root among them.
    const rootKey = keyOf(root.bytes)
    let m: ManifestParts
    let blocks = 0
    let bytes = 0
    let hasRoot = false
    try {
      m = await manifestParts(store, head, h)
      for (let i = 0; i < m.count; i++) {
        const part = await m.part(i)
        if (i > 0) for (const b of part) { blocks++; bytes += b.size; hasRoot ||= b.key === rootKey }
        if ((await store.hasMany(part.map(b => CID.decode(b.cid)))).some(x => !x)) return refuse(Status.INCOMPLETE)
      }
    } catch (err) {
      if (err instanceof BlockNotFoundError) return refuse(Status.INCOMPLETE)
      return refuse(Status.MALFORMED)
    }
    if (blocks !== h.blocks || bytes !== h.bytes || !hasRoot) return refuse(Status.MALFORMED)
    const received = now()
    const days = lockDays === LOCK_FOREVER ? 'forever' : lockDays
    const floor = init.floorDays?.(h.origin) ?? 0
    const asked = lockEnd(received, days)
    const lockedUntil = later(asked, lockEnd(received, floor))
    await store.flush()
    await store.addSnapshotRoot(root, { site: h.origin, received: new Date(received).toISOString() })
    // A lock only ever grows: a message about a root already locked can lengthen it, never shorten it.
    const next: RootRetention = known === undefined
      ? { head: head.toString(), origin: h.origin, received: new Date(received).toISOString(), lockedUntil }
      : { ...known, lockedUntil: later(known.lockedUntil, lockEnd(Date.parse(known.received), days)) }
    if (known === undefined || next.lockedUntil !== known.lockedUntil) await saveLock(root, next)
    // Counted once listed: a crash between the two leaves it uncounted, and settle() counts it.
    await countParts(root, h.origin, m)
    return { status: Status.OK, origin: h.origin }
  }

  async function offer (root: CID, head: CID): Promise<StatusCode> {
    let h: ManifestHead
    try {
      h = await readHead(head)
    } catch (err) {
      if (err instanceof BlockNotFoundError) return Status.NOT_FOUND
      if (err instanceof InvalidRetentionRecordError) return Status.BAD_SIGNATURE
      throw err
    }
    if (h.root !== root.toString()) return Status.MALFORMED
    const quota = init.quotaBytes?.(h.origin)
    if (quota === undefined) return Status.OK
    // What this replica lacks of it, a page at a time.
    let adding = 0
    try {
      const m = await manifestParts(store, head, h)
      for (let i = 0; i < m.count; i++) {
        const part = await m.part(i, { distinct: true })
        const have = await store.hasMany(part.map(b => CID.decode(b.cid)))
        part.forEach((b, j) => { if (!have[j]) adding += b.size })
      }
    } catch (err) {
      if (err instanceof BlockNotFoundError) return Status.NOT_FOUND
      return Status.MALFORMED
    }
    // The origin's total from the index: two reads, whatever the replica holds.
    await settle()
    const held = (await store.originUse(h.origin)).bytes
    if (held + adding <= quota) return Status.OK
    init.onQuotaRefused?.({ origin: h.origin, root: root.toString(), held, adding, quota })
    return Status.QUOTA
  }

  const retention: ReplicaRetention = {
    addSignedRoot: addSigned,
    offer,

    async adminRelease (bytes, trusted) {
      // A replica that keeps no lock for the snapshot says so first, whoever signed the release.
      const root = CID.parse(adminReleaseRoot(bytes))
      const known = await store.retention(root)
      if (known === undefined) throw new SnapshotNotLockedError(root.toString())
      const a = verifyAdminRelease(bytes, mesh, trusted, new Date(now()))
      const cid = cidOf(bytes)
      await store.put(cid, bytes)
      await store.flush()
      if (known.adminRelease === undefined) await saveLock(root, { ...known, adminRelease: cid.toString() })
      return { root: a.root, origin: known.origin, subject: a.subject, fingerprint: a.fingerprint, reason: a.reason, issued: a.issued, release: cid.toString() }
    },

    async release (cid) {
      let r
      try {
        r = await verifyRelease(await store.get(cid), mesh)
      } catch (err) {
        if (err instanceof BlockNotFoundError) return Status.NOT_FOUND
        if (err instanceof InvalidRetentionRecordError) return Status.BAD_SIGNATURE
        throw err
      }
      const root = CID.parse(r.root)
      const known = await store.retention(root)
      // Only the origin the root was recorded with may release it.
      if (known !== undefined && known.origin !== r.origin) return Status.REFUSED
      const listed = (await store.snapshotRootOrigins()).find(x => x.cid.equals(root))
      if (known === undefined && listed?.origin !== undefined && listed.origin.site !== r.origin) return Status.REFUSED
      await store.addRelease(root, cid)
      return Status.OK
    },

    async locks () {
      const released = new Set((await store.releases()).map(r => r.root.toString()))
      const t = now()
      return (await store.retentions()).map(({ root, retention: r }) => {
        const rel = released.has(root.toString())
        return { root: root.toString(), origin: r.origin, received: r.received, lockedUntil: r.lockedUntil, released: rel || r.adminRelease !== undefined, droppable: r.dropping === true || r.adminRelease !== undefined || (rel && passed(r.lockedUntil, t)), ...(r.adminRelease !== undefined ? { adminRelease: r.adminRelease } : {}) }
      })
    },

    space,

    async gc () {
      if (running !== undefined) return await running
      running = (async () => {
        try { return await gcOnce() } finally { running = undefined }
      })()
      return await running
    }
  }

  async function gcOnce (): Promise<RetentionGcResult> {
    const result: RetentionGcResult = { dropped: [], blocksFreed: 0, bytesFreed: 0, blockedBy: [] }
    const retained = new Map((await store.retentions()).map(r => [r.root.toString(), r.retention]))
    const locks = await retention.locks()
    const drop = locks.filter(l => l.droppable)
    if (drop.length === 0) return result
    for (const r of await store.snapshotRootOrigins()) {
      if (!retained.has(r.cid.toString())) result.blockedBy.push({ root: r.cid.toString(), origin: r.origin?.site })
    }
    if (result.blockedBy.length > 0) return result
    // The dropped roots' blocks are read before the sweep protects what is read, so that reading
    // them here does not keep them.
    const candidates = new Map<Key, number>()
    // Marked first: a GC killed from here on finishes these next time, whatever their state.
    for (const l of drop) {
      const r = retained.get(l.root)!
      if (r.dropping !== true) await store.setRetention(CID.parse(l.root), { ...r, dropping: true })
    }
    const dropping = new Set(drop.map(l => l.root))
    await init.testHold?.('marked')
    for (const l of drop) {
      const r = retained.get(l.root)!
      const root = CID.parse(l.root)
      // Undefined: a GC killed after it freed this root's head or pages: its blocks are gone already.
      const m = await partsOf(r.head)
      if (m === undefined) continue
      for (let i = 0; i < m.count; i++) for (const b of await m.part(i)) candidates.set(b.key, b.size)
      // Uncounted from its origin's totals before its pages are freed, last part first (a
      // killed GC carries on where it stopped).
      for (let i = ((await store.rootUse(root))?.counted ?? 0) - 1; i >= 0; i--) {
        if (!await store.uncountRootPart(root, i, await m.part(i, { distinct: true }))) break
      }
      // The root's own lock record goes with it (an older one, of a lock since lengthened, stays).
      if (r.record !== undefined) {
        const [size] = await store.sizes([CID.parse(r.record)])
        if (size !== undefined) candidates.set(keyOf(CID.parse(r.record).bytes), size)
      }
    }
    const swept = await sweepBlocks(store, async () => {
      // Every root kept now, those that arrived since this run began among them, keeps its blocks.
      for (const { root, retention: r } of await store.retentions()) {
        if (dropping.has(root.toString())) continue
        const head = CID.parse(r.head)
        const m = await manifestParts(store, head, await readHead(head))
        for (let i = 0; i < m.count; i++) for (const b of await m.part(i)) candidates.delete(b.key)
      }
      return candidates
    })
    await init.testHold?.('swept')
    for (const root of dropping) await store.dropSnapshotRoot(CID.parse(root))
    return { ...result, dropped: [...dropping], blocksFreed: swept.blocksRemoved, bytesFreed: swept.bytesFreed }
  }

  return retention
}
