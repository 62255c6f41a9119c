import { existsSync, openSync, closeSync, fsyncSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { CID } from 'multiformats/cid'
import { matchesCid } from './codec.ts'
import { diskFullAt, StoreInUseError } from './errors.ts'
import { indexEntries, keyOf } from './index-layout.ts'
import { ValueLog } from './value-log.ts'

/** What a block without a chunk id is, told by opening it with the space's record key. */
export type RecordKind = { kind: 'snapshot' } | { kind: 'forget', ids: string[], time?: string } | undefined

export interface IndexRebuild {
  segments: number
  /** Intact records found (a block stored twice counts once in `blocks`). */
  records: number
  blocks: number
  snapshots: number
  /** Snapshot records left out because a forget record names them. */
  forgotten: number
  /** Byte ranges that held no intact record, with the CIDs of the damaged records recognised in each. */
  damaged: Array<{ segment: number, offset: number, length: number, blocks: string[] }>
  /** CIDs of records whose header survived but whose bytes no longer match: a peer's copy can replace them. */
  damagedBlocks: string[]
}

/**
 * `cairn repair index` (doc/design.md, "Repair"): builds the whole index — block locations,
 * chunk ids, snapshot roots, forget records and the release intents of the snapshots they
 * forget, committed lengths — from the segments alone, into
 * `index.rebuild/`, then puts it in place of `index/`. Every record whose bytes match its CID
 * is kept, wherever it lies (damage does not end a segment's scan); where a block is stored
 * twice, the newest segment's copy wins. Blocks without a chunk id are shown to `classify`,
 * which knows the record key: snapshot records become roots unless a forget record names them.
 * No segment is written. The store must not be open elsewhere.
 */
export async function rebuildIndex (storeDir: string, classify: (block: Uint8Array) => RecordKind): Promise<IndexRebuild> {
  const indexDir = join(storeDir, 'index')
  const rebuildDir = join(storeDir, 'index.rebuild')
  await refuseIfInUse(storeDir, indexDir)
  rmSync(rebuildDir, { recursive: true, force: true })
  const log = new ValueLog(join(storeDir, 'segments'), undefined, { readOnly: true })
  const db = new ClassicLevel<Buffer, Buffer>(rebuildDir, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  const out: IndexRebuild = { segments: 0, records: 0, blocks: 0, snapshots: 0, forgotten: 0, damaged: [], damagedBlocks: [] }
  const roots = new Map<string, Uint8Array>()
  const forgotten = new Set<string>()
  /** Forgotten snapshot → the earliest forget record's time: its release intent (`'r'`). */
  const intents = new Map<string, string>()
  const intactCids = new Set<string>()
  const badCids = new Map<string, string>()
  const badAt: Array<{ segment: number, offset: number, cid: string }> = []
  try {
    await db.open()
    for (const seg of log.segments()) {
      out.segments++
      const scan = log.scan(seg, 0, r => {
        const ok = matchesCid(CID.decode(r.cid), log.read(r.location))
        if (!ok) {
          badCids.set(keyOf(r.cid), CID.decode(r.cid).toString())
          badAt.push({ segment: seg, offset: r.location.offset, cid: CID.decode(r.cid).toString() })
        }
        return ok
      })
      const ops: Array<{ type: 'put', key: Buffer, value: Buffer }> = []
      for (const r of scan.records) {
        out.records++
        intactCids.add(keyOf(r.cid))
        ops.push({ type: 'put', ...indexEntries.block(r.cid, r.location) })
        if (r.id !== undefined) { ops.push({ type: 'put', ...indexEntries.chunkId(r.id, r.cid) }); continue }
        const kind = classify(log.read(r.location))
        if (kind?.kind === 'snapshot') roots.set(CID.decode(r.cid).toString(), r.cid)
        else if (kind?.kind === 'forget') {
          for (const id of kind.ids) {
            forgotten.add(id)
            const was = intents.get(id)
            if (kind.time !== undefined && (was === undefined || kind.time < was)) intents.set(id, kind.time)
          }
          ops.push({ type: 'put', ...indexEntries.forget(r.cid) })
        }
      }
      for (const d of scan.damaged) {
        const blocks = badAt.filter(b => b.segment === seg && b.offset >= d.offset && b.offset < d.offset + d.length).map(b => b.cid)
        out.damaged.push({ segment: seg, ...d, blocks: [...new Set(blocks)] })
      }
      ops.push({ type: 'put', ...indexEntries.segment(seg, scan.size) })
      await db.batch(ops)
    }
    for (const [id, cid] of roots) {
      if (forgotten.has(id)) { out.forgotten++; continue }
      await db.put(indexEntries.snapshot(cid).key, Buffer.alloc(0))
      out.snapshots++
    }
    for (const [id, time] of intents) {
      let cid: CID
      try { cid = CID.parse(id) } catch { continue }
      const e = indexEntries.intent(cid.bytes, time)
      await db.put(e.key, e.value)
    }
    out.blocks = intactCids.size
    out.damagedBlocks = [...badCids].filter(([k]) => !intactCids.has(k)).map(([, c]) => c)
    await db.close()
  } catch (err) {
    if (db.status === 'open') await db.close().catch(() => {})
    rmSync(rebuildDir, { recursive: true, force: true })
    throw diskFullAt(err, rebuildDir)
  } finally {
    log.close()
  }
  // The swap: the old index goes aside, the new one takes its name, then the old one is removed.
  const aside = join(storeDir, 'index.replaced')
  rmSync(aside, { recursive: true, force: true })
  if (existsSync(indexDir)) renameSync(indexDir, aside)
  renameSync(rebuildDir, indexDir)
  syncFolder(storeDir)
  rmSync(aside, { recursive: true, force: true })
  return out
}

/** Another process holding the store keeps LevelDB's lock on the old index; that refuses the rebuild. */
async function refuseIfInUse (storeDir: string, indexDir: string): Promise<void> {
  if (!existsSync(join(indexDir, 'CURRENT'))) return
  const old = new ClassicLevel(indexDir)
  try {
    await old.open({ createIfMissing: false })
  } catch (err) {
    const cause = (err as { cause?: { code?: string, message?: string } }).cause
    if (cause?.code === 'LEVEL_LOCKED' || /lock/i.test(cause?.message ?? '')) throw new StoreInUseError(storeDir, { cause: err })
    return // damaged: that is why it is being rebuilt
  }
  await old.close()
}

function syncFolder (dir: string): void {
  const fd = openSync(dir, 'r')
  try { fsyncSync(fd) } finally { closeSync(fd) }
}
