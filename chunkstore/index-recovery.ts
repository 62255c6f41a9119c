import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { ClassicLevel } from 'classic-level'
import { CID } from 'multiformats/cid'
import { matchesCid } from './codec.ts'
import type { IdFilter } from './id-filter.ts'
import { indexEntries, PREFIX, segKey } from './index-layout.ts'
import type { ValueLog } from './value-log.ts'

// What LocalBlockStore.open checks and repairs before the store is used: the index against the
// segments (committed lengths), and the blocks a crashed process wrote after its last flush.

/** Does any segment hold more than its header? (A missing index over such segments is damage, not a new store.) */
export function segmentsHoldData (segmentDir: string): boolean {
  if (!existsSync(segmentDir)) return false
  return readdirSync(segmentDir).some(n => /^\d{8}\.seg$/.test(n) && statSync(join(segmentDir, n)).size > 8)
}

/**
 * Every segment the index holds a committed length for must exist and be at least that long;
 * otherwise the index points at bytes that are gone (a segment deleted or cut short), and a
 * backup would dedup against blocks that no longer exist. One line per segment that is not.
 */
export async function committedLengthProblems (db: ClassicLevel<Buffer, Buffer>, log: ValueLog): Promise<string[]> {
  const problems: string[] = []
  const present = new Set(log.segments())
  for await (const [key, value] of db.iterator({ gt: Buffer.of(PREFIX.segment), lt: Buffer.of(PREFIX.segment + 1) })) {
    const seg = key.readUInt32BE(1)
    const committed = Number(value.readBigUInt64LE(0))
    const size = present.has(seg) ? log.size(seg) : -1
    if (size >= committed) continue
    problems.push(size < 0 ? `segment ${seg} is missing` : `segment ${seg} is ${size} bytes, shorter than the ${committed} the index says it holds`)
  }
  return problems
}

/**
 * Indexes blocks a crashed process wrote after its last flush (each checked against its
 * CID), so the next backup reuses what was already written; their chunk ids enter `filter`.
 * Damage does not end the scan: every intact record after a bad one is indexed too. Only a
 * torn tail — bytes after the last intact record with no intact record in them — is cut, and
 * never when `readOnly`. Returns one line per stretch of damage found.
 */
export async function indexUnflushed (db: ClassicLevel<Buffer, Buffer>, log: ValueLog, filter: IdFilter, readOnly: boolean): Promise<string[]> {
  const damage: string[] = []
  for (const seg of log.segments()) {
    const committed = await db.get(segKey(seg))
    const from = committed === undefined ? 0 : Number(committed.readBigUInt64LE(0))
    if (committed !== undefined && log.size(seg) <= from) continue
    const scan = log.scan(seg, from, r => matchesCid(CID.decode(r.cid), log.read(r.location)))
    const ops: Array<{ type: 'put', key: Buffer, value: Buffer }> = []
    for (const r of scan.records) {
      ops.push({ type: 'put', ...indexEntries.block(r.cid, r.location) })
      if (r.id !== undefined) { ops.push({ type: 'put', ...indexEntries.chunkId(r.id, r.cid) }); filter.add(r.id) }
    }
    const tail = scan.damaged.at(-1)
    const torn = tail !== undefined && tail.offset + tail.length === scan.size ? tail : undefined
    for (const d of scan.damaged) if (d !== torn) damage.push(`segment ${seg}: ${d.length} bytes at offset ${d.offset} hold no intact record`)
    if (!readOnly && scan.records.length === 0 && from === 0 && log.isBlank(seg)) {
      log.remove(seg) // nothing but zeros (or nothing): a crash before its first write
      continue
    }
    const cut = torn !== undefined && !readOnly
    if (cut) log.truncate(seg, torn.offset)
    ops.push({ type: 'put', ...indexEntries.segment(seg, cut ? torn.offset : scan.size) })
    await db.batch(ops, { sync: !readOnly })
  }
  return damage
}
