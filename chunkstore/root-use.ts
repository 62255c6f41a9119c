import type { ClassicLevel } from 'classic-level'
import type { CID } from 'multiformats/cid'
import { keyOf, PREFIX, prefixed, type Key } from './index-layout.ts'

/**
 * What a replica holds for each origin, kept in the index so that answering an offer reads two
 * entries instead of every held manifest (doc/design.md "Index"; issue 21). A root's manifest
 * is counted in parts (its head and pages, then each page's entries), one batch each, so no
 * step holds more than a page: for each origin and block, how many counted parts of the
 * origin's roots name it (`'u'`); per origin, the count and bytes of the distinct blocks so
 * named (`'h'`); per root, how many of its parts are counted, and their totals (`'c'`). Parts
 * are counted in order and uncounted in reverse, each batch moving the root's `'c'` entry by
 * one, so a crash mid-way leaves a state the next run carries on from, and no part is counted
 * twice.
 */
export interface RootUse { origin: string, /** Parts counted: the first `counted` of `of`. */ counted: number, of: number, blocks: number, bytes: number }
/** Distinct blocks the counted roots of one origin name, and their bytes. */
export interface OriginUse { blocks: number, bytes: number }
/** A block a root's manifest names (its head and pages included), with its size. */
export interface UsedBlock { cid: Uint8Array, size: number }

const { use: U, held: H, counted: C } = PREFIX

/** `'u' len origin cid`: the origin as UTF-8 behind its length, so one origin's counts lie together (LevelDB shares the prefix). */
function useKey (origin: Buffer, cid: Uint8Array): Buffer {
  const k = Buffer.allocUnsafe(2 + origin.length + cid.length)
  k[0] = U; k[1] = origin.length
  origin.copy(k, 2)
  k.set(cid, 2 + origin.length)
  return k
}
const originBytes = (origin: string): Buffer => {
  const b = Buffer.from(origin, 'utf8')
  if (b.length > 255) throw new RangeError(`origin id of ${b.length} bytes`)
  return b
}
const count = (v: Buffer | undefined): number => v === undefined ? 0 : v.readUInt32LE(0)
const u32 = (n: number): Buffer => { const b = Buffer.allocUnsafe(4); b.writeUInt32LE(n); return b }
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v))
type Op = { type: 'put', key: Buffer, value: Buffer } | { type: 'del', key: Buffer }

/** Distinct blocks of a part (a part names a block once, whatever the list says). */
function distinct (blocks: UsedBlock[]): UsedBlock[] {
  const out = new Map<Key, UsedBlock>()
  for (const b of blocks) { const k = keyOf(b.cid); if (!out.has(k)) out.set(k, b) }
  return [...out.values()]
}

export class RootUseIndex {
  /** Counting reads, then writes, the same entries: one change at a time. */
  private chain: Promise<unknown> = Promise.resolve()
  constructor (private readonly db: ClassicLevel<Buffer, Buffer>) {}

  private async serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn)
    this.chain = run.catch(() => {})
    return await run
  }

  async root (root: CID): Promise<RootUse | undefined> {
    const v = await this.db.get(prefixed(C, root.bytes))
    return v === undefined ? undefined : JSON.parse(v.toString())
  }

  /** Which of `roots` are counted whole. */
  async counted (roots: CID[]): Promise<boolean[]> {
    if (roots.length === 0) return []
    return (await this.db.getMany(roots.map(r => prefixed(C, r.bytes)))).map(v => {
      if (v === undefined) return false
      const u: RootUse = JSON.parse(v.toString())
      return u.counted === u.of
    })
  }

  async origin (origin: string): Promise<OriginUse> {
    const v = await this.db.get(prefixed(H, originBytes(origin)))
    return v === undefined ? { blocks: 0, bytes: 0 } : JSON.parse(v.toString())
  }

  /** How many counted parts of `origin`'s roots name each of `cids`. */
  async counts (origin: string, cids: Uint8Array[]): Promise<number[]> {
    if (cids.length === 0) return []
    const o = originBytes(origin)
    return (await this.db.getMany(cids.map(c => useKey(o, c)))).map(count)
  }

  /** Counts part `index` (of `of`) of `root`, of `origin`, naming `blocks`, if it is the next one to count; false if not. */
  async add (root: CID, origin: string, index: number, of: number, blocks: UsedBlock[]): Promise<boolean> {
    return await this.serial(async () => {
      const use = await this.root(root) ?? { origin, counted: 0, of, blocks: 0, bytes: 0 }
      if (use.counted !== index || use.origin !== origin || use.of !== of) return false
      const o = originBytes(origin)
      const list = distinct(blocks)
      const keys = list.map(b => useKey(o, b.cid))
      const before = (await this.db.getMany(keys)).map(count)
      const held = await this.origin(origin)
      const ops: Op[] = []
      list.forEach((b, i) => {
        use.blocks++; use.bytes += b.size
        if (before[i] === 0) { held.blocks++; held.bytes += b.size }
        ops.push({ type: 'put', key: keys[i], value: u32(before[i] + 1) })
      })
      use.counted++
      ops.push({ type: 'put', key: prefixed(H, o), value: json(held) }, { type: 'put', key: prefixed(C, root.bytes), value: json(use) })
      await this.db.batch(ops, { sync: use.counted === use.of })
      return true
    })
  }

  /** Uncounts part `index` of `root` (naming `blocks`), if it is the last one counted; the root's entry goes with its first part. */
  async remove (root: CID, index: number, blocks: UsedBlock[]): Promise<boolean> {
    return await this.serial(async () => {
      const use = await this.root(root)
      if (use === undefined || use.counted !== index + 1) return false
      const o = originBytes(use.origin)
      const list = distinct(blocks)
      const keys = list.map(b => useKey(o, b.cid))
      const before = (await this.db.getMany(keys)).map(count)
      const held = await this.origin(use.origin)
      const ops: Op[] = []
      list.forEach((b, i) => {
        use.blocks--; use.bytes -= b.size
        if (before[i] > 1) ops.push({ type: 'put', key: keys[i], value: u32(before[i] - 1) })
        else if (before[i] === 1) { ops.push({ type: 'del', key: keys[i] }); held.blocks--; held.bytes -= b.size }
      })
      use.counted--
      ops.push(held.blocks > 0 ? { type: 'put', key: prefixed(H, o), value: json(held) } : { type: 'del', key: prefixed(H, o) })
      ops.push(use.counted > 0 ? { type: 'put', key: prefixed(C, root.bytes), value: json(use) } : { type: 'del', key: prefixed(C, root.bytes) })
      await this.db.batch(ops, { sync: use.counted === 0 })
      return true
    })
  }
}
