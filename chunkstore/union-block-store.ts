// Several block stores seen as one: a node's mesh serves all of its stores (one per user
// space plus the replica) through such a view. Reads look in every store; writes go to the
// one store named for them. A wrapper, so no store needs to know it is part of a union.
import { CID } from 'multiformats/cid'
import { BLOCK_CID_LENGTH, LocatedList, locatedBlocks, readBlocks, readLocatedBlocks, storeBlocks, type BlockStore, type RootOrigin } from './block-store.ts'
import { BlockNotFoundError, ReadOnlyStoreError } from './errors.ts'
import { InternalError, type AbortOptions } from '../crypto/index.ts'

export interface UnionBlockStoreInit {
  /** The stores read, in this order; asked on every call, so the set may change while the view is in use. */
  stores: () => BlockStore[]
  /** Where `put` and `addSnapshotRoot` go (normally also one of `stores`). Absent: the view refuses writes. */
  write?: BlockStore
}

/** Blocks are offered once per run by `cids()`, so dedup across stores costs lookups, never a set of every CID. */
const BATCH = 1024

/** Asks each store in turn, only about the CIDs the earlier ones had no answer for. */
async function firstAnswers<T> (stores: BlockStore[], cids: CID[], ask: (s: BlockStore, cids: CID[]) => Promise<Array<T | undefined>>): Promise<Array<T | undefined>> {
  const out: Array<T | undefined> = cids.map(() => undefined)
  let open = cids.map((_, i) => i)
  for (const s of stores) {
    if (open.length === 0) break
    const answers = await ask(s, open.map(i => cids[i]))
    open.forEach((i, j) => { out[i] = answers[j] })
    open = open.filter(i => out[i] === undefined)
  }
  return out
}

/** `firstAnswers` asker for "does this store hold it": true, or no answer. */
const holding = (options?: AbortOptions) => async (s: BlockStore, cids: CID[]): Promise<Array<true | undefined>> => (await s.hasMany(cids, options)).map(h => h ? true : undefined)

/**
 * The view keeps the BlockStore contract: `get` with `verify` skips a corrupt copy when
 * another store holds a good one; `put` writes to `write` even when another store holds the
 * block (the caller asked `has` first when it cares).
 */
export function unionBlockStore (init: UnionBlockStoreInit): BlockStore {
  const writable = (what: string): BlockStore => {
    if (init.write === undefined) throw new ReadOnlyStoreError(what)
    return init.write
  }

  // Stores named in LocatedBlocks by their place here, which never changes while the view lives.
  const tagged: BlockStore[] = []
  const tagOf = (s: BlockStore): number => {
    let t = tagged.indexOf(s)
    if (t < 0) { t = tagged.length; tagged.push(s) }
    return t
  }

  const view: BlockStore = {
    async has (cid, options) { return (await view.hasMany([cid], options))[0] },
    async hasMany (cids, options) { return (await firstAnswers(init.stores(), cids, holding(options))).map(a => a === true) },
    async sizes (cids, options) { return await firstAnswers(init.stores(), cids, async (s, c) => await s.sizes(c, options)) },

    async get (cid, options = {}) {
      let last: unknown
      for (const s of init.stores()) {
        if (!await s.has(cid, { signal: options.signal })) continue
        try {
          return await s.get(cid, options)
        } catch (err) {
          last = err
        }
      }
      throw last ?? new BlockNotFoundError(cid.toString())
    },

    async * getMany (cids, options) {
      // Each block from the first store that holds it; each store reads its share in its own fastest order.
      const stores = init.stores()
      const owner = await firstAnswers(stores, cids, async (s, c) => (await s.hasMany(c, options)).map(h => h ? s : undefined))
      const absent = owner.findIndex(o => o === undefined)
      if (absent >= 0) throw new BlockNotFoundError(cids[absent].toString())
      for (const s of stores) {
        const mine = cids.flatMap((_, i) => owner[i] === s ? [i] : [])
        if (mine.length === 0) continue
        for await (const { index, bytes } of readBlocks(s, mine.map(i => cids[i]), options)) yield { index: mine[index], bytes }
      }
    },

    async put (cid, bytes, options) { await writable(`block ${cid.toString()}`).put(cid, bytes, options) },
    async putMany (blocks, options) { return await storeBlocks(writable(`${blocks.length} blocks`), blocks, options) },
    async flush (options) { await init.write?.flush(options) },
    async addSnapshotRoot (cid, origin, options) { await writable(`snapshot root ${cid.toString()}`).addSnapshotRoot(cid, origin, options) },

    async * cids (options) {
      const earlier: BlockStore[] = []
      // Only CIDs none of the earlier stores holds.
      const fresh = async (batch: CID[]): Promise<CID[]> => {
        const held = await firstAnswers(earlier, batch, holding(options))
        return batch.filter((_, i) => held[i] === undefined)
      }
      for (const s of init.stores()) {
        let batch: CID[] = []
        for await (const cid of s.cids(options)) {
          batch.push(cid)
          if (batch.length === BATCH) { yield * await fresh(batch); batch = [] }
        }
        yield * await fresh(batch)
        earlier.push(s)
      }
    },

    async * located (batch, options) {
      const earlier: BlockStore[] = []
      for (const s of init.stores()) {
        const tag = tagOf(s)
        for await (const b of locatedBlocks(s, batch, options)) {
          // Only blocks none of the earlier stores holds.
          const held = earlier.length === 0
            ? []
            : await firstAnswers(earlier, Array.from({ length: b.count }, (_, i) => CID.decode(b.cids.subarray(i * BLOCK_CID_LENGTH, (i + 1) * BLOCK_CID_LENGTH))), holding(options))
          const out = new LocatedList()
          for (let i = 0; i < b.count; i++) if (held[i] === undefined) out.push(b, i)
          out.stores = new Uint16Array(out.count).fill(tag)
          yield out
        }
        earlier.push(s)
      }
    },

    async * readLocated (blocks, options) {
      if (blocks.stores === undefined) throw new InternalError('these blocks were not located through this view')
      for (const [tag, s] of tagged.entries()) {
        const mine = new LocatedList()
        const index: number[] = []
        const from = { ...blocks, stores: undefined }
        for (let i = 0; i < blocks.count; i++) if (blocks.stores[i] === tag) { mine.push(from, i); index.push(i) }
        if (mine.count === 0) continue
        for await (const r of readLocatedBlocks(s, mine, options)) yield { index: index[r.index], bytes: r.bytes }
      }
    },

    async snapshotRoots (options) {
      const out = new Map<string, CID>()
      for (const s of init.stores()) for (const r of await s.snapshotRoots(options)) out.set(r.toString(), r)
      return [...out.values()]
    },

    async snapshotRootOrigins (options) {
      const out = new Map<string, { cid: CID, origin?: RootOrigin }>()
      for (const s of init.stores()) {
        const roots = s.snapshotRootOrigins !== undefined ? await s.snapshotRootOrigins(options) : (await s.snapshotRoots(options)).map(cid => ({ cid }))
        for (const r of roots) if (!out.has(r.cid.toString())) out.set(r.cid.toString(), r)
      }
      return [...out.values()]
    }
  }
  return view
}
