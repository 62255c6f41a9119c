// `cairn repair index` at a replica (doc/mesh.md "Lock records"): after chunkstore has rebuilt
// the block index from the segments (it cannot tell a replica's roots: it has no key), the
// replica's roots, locks and received releases are written again from the plain blocks it
// holds — its own signed lock records and the releases signed by their origins. A root comes
// back only with its manifest head and every block that manifest lists (as ADD_ROOT_SIGNED
// listed it); a lock comes back as its longest record, with any administrator's release. A
// root that may be dropped (the sweep had not yet reclaimed the blocks its GC freed) is
// dropped again at once.
import { CID } from 'multiformats/cid'
import { readLockRecord, type LockRecord } from './lock-record.ts'
import { createReplicaRetention } from './replica-retention.ts'
import { verifyManifestHead, verifyRelease, type Release } from './snapshot-manifest.ts'
import { decodeManifestPage, type LocalBlockStore } from '../chunkstore/index.ts'

export interface ReplicaRebuild {
  /** Roots listed again, with their locks. */
  roots: string[]
  /** Roots that could be dropped (released, their locks passed), whose blocks the segments still held: dropped again. */
  dropped?: string[]
  /** Roots whose lock record was found but whose manifest or blocks are no longer all here (dropped, or cut short): left out. */
  incomplete: string[]
  releases: number
}

const longer = (a: string, b: string): boolean => a === 'forever' || (b !== 'forever' && Date.parse(a) > Date.parse(b))

/**
 * Lists the roots and releases that `candidates` (the plain blocks `repair index` saw, read
 * from `store`) prove: lock records signed by `replica` (this node's PeerId) in `mesh`, and
 * releases signed by their roots' origins.
 */
export async function rebuildReplicaRetention (store: LocalBlockStore, init: { mesh: string, replica: string, now?: number }, candidates: CID[]): Promise<ReplicaRebuild> {
  const locks = new Map<string, { rec: LockRecord, cid: CID, adminRelease?: string }>()
  const releases: Array<{ r: Release, cid: CID }> = []
  for (const cid of candidates) {
    const bytes = await store.get(cid)
    const rec = await readLockRecord(bytes, init.mesh, init.replica)
    if (rec !== undefined) {
      const was = locks.get(rec.root)
      const adminRelease = rec.adminRelease ?? was?.adminRelease
      // Locks only grow and an administrator's release only comes last: the newest record is the longest, with the release.
      if (was === undefined || longer(rec.lockedUntil, was.rec.lockedUntil) || (rec.adminRelease !== undefined && was.rec.adminRelease === undefined)) locks.set(rec.root, { rec, cid, adminRelease })
      else was.adminRelease = adminRelease
      continue
    }
    try { releases.push({ r: await verifyRelease(bytes, init.mesh), cid }) } catch {}
  }
  const out: ReplicaRebuild = { roots: [], incomplete: [], releases: 0 }
  // A root keeps its first release: the earliest issued. Only its recorded origin's counts.
  releases.sort((a, b) => a.r.issued.localeCompare(b.r.issued))
  const released = new Set<string>()
  for (const { r, cid } of releases) {
    const lock = locks.get(r.root)
    if (lock !== undefined && lock.rec.origin !== r.origin) continue
    await store.addRelease(CID.parse(r.root), cid)
    released.add(r.root)
    out.releases++
  }
  const now = init.now ?? Date.now()
  let droppable = 0
  for (const [root, { rec, cid, adminRelease }] of locks) {
    if (!await complete(store, init.mesh, rec)) { out.incomplete.push(root); continue }
    // A root GC had dropped, or may drop now, whose freed blocks the segments still held: it is
    // listed dropping, and dropped below (as a GC killed mid-way is finished).
    const dropping = adminRelease !== undefined || (released.has(root) && rec.lockedUntil !== 'forever' && Date.parse(rec.lockedUntil) <= now)
    await store.addSnapshotRoot(CID.parse(root), { site: rec.origin, received: rec.received })
    await store.setRetention(CID.parse(root), { head: rec.head, origin: rec.origin, received: rec.received, lockedUntil: rec.lockedUntil, ...(dropping ? { dropping: true as const } : {}), ...(adminRelease !== undefined ? { adminRelease } : {}), record: cid.toString() })
    if (dropping) droppable++
    else out.roots.push(root)
  }
  // Those finish dropping now, so the replica holds what it held before its index was lost.
  if (droppable > 0) out.dropped = (await createReplicaRetention({ store, mesh: init.mesh, now: () => now }).gc()).dropped
  return out
}

/** The root's head verifies, names it and its origin, and every page and listed block is stored. */
async function complete (store: LocalBlockStore, mesh: string, rec: LockRecord): Promise<boolean> {
  try {
    const head = CID.parse(rec.head)
    const h = await verifyManifestHead(await store.get(head), mesh)
    if (h.root !== rec.root || h.origin !== rec.origin) return false
    const listed: CID[] = [head]
    for (const p of h.pages) {
      const page = CID.parse(p)
      listed.push(page, ...decodeManifestPage(await store.get(page)).map(e => CID.decode(e.cid)))
    }
    return (await store.hasMany(listed)).every(x => x)
  } catch {
    return false // a missing block (BlockNotFoundError), or a head or page that does not read
  }
}
