// A BlockStore in memory, for tests and for the conformance suite (block-store-suite.ts): the
// smallest thing that keeps the contract, so the suite has a reference to run beside the real
// stores. It models durability too: `crash()` gives the store a restart would find, holding
// only what a `flush` made durable. A fake for tests only (there is no real part it stands
// in for); production code never reaches it.
import { CID } from 'multiformats/cid'
import { throwIfAborted, type AbortOptions } from '../../crypto/index.ts'
import { BlockNotFoundError, CidMismatchError, CorruptBlockError, matchesCid, type BlockStore, type RootOrigin } from '../index.ts'

interface Held { blocks: Map<string, Uint8Array>, roots: Map<string, RootOrigin | undefined> }

export interface MemoryBlockStore extends BlockStore {
  /** The store a restart would find: what the last `flush` made durable, nothing put since. */
  crash: () => MemoryBlockStore
  /** Flips one byte of the stored copy of `cid` (a medium fault), for tests of `verify`. */
  corrupt: (cid: CID) => void
}

export function memoryBlockStore (durable: Held = { blocks: new Map(), roots: new Map() }): MemoryBlockStore {
  const live: Held = { blocks: new Map(durable.blocks), roots: new Map(durable.roots) }
  const check = (options: AbortOptions | undefined, what: string): void => { throwIfAborted(options?.signal, what) }

  const store: MemoryBlockStore = {
    async has (cid, options) { check(options, 'has'); return live.blocks.has(cid.toString()) },
    async hasMany (cids, options) { check(options, 'hasMany'); return cids.map(c => live.blocks.has(c.toString())) },
    async sizes (cids, options) { check(options, 'sizes'); return cids.map(c => live.blocks.get(c.toString())?.length) },
    async get (cid, options = {}) {
      check(options, `Reading block ${cid.toString()}`)
      const bytes = live.blocks.get(cid.toString())
      if (bytes === undefined) throw new BlockNotFoundError(cid.toString())
      if (options.verify === true && !matchesCid(cid, bytes)) throw new CorruptBlockError(cid.toString(), 'its bytes no longer match the CID')
      return new Uint8Array(bytes)
    },
    async put (cid, bytes, options) {
      check(options, `Storing block ${cid.toString()}`)
      if (!matchesCid(cid, bytes)) throw new CidMismatchError(cid.toString())
      const old = live.blocks.get(cid.toString())
      if (old === undefined || !matchesCid(cid, old)) live.blocks.set(cid.toString(), new Uint8Array(bytes))
    },
    async flush (options) {
      check(options, 'flush')
      durable.blocks = new Map(live.blocks)
      durable.roots = new Map(live.roots)
    },
    async * cids (options) {
      for (const k of [...live.blocks.keys()]) {
        check(options, 'Listing blocks')
        yield CID.parse(k)
      }
    },
    async snapshotRoots (options) { check(options, 'snapshotRoots'); return [...live.roots.keys()].map(k => CID.parse(k)) },
    async addSnapshotRoot (cid, origin, options) {
      check(options, 'addSnapshotRoot')
      if (!live.roots.has(cid.toString())) live.roots.set(cid.toString(), origin)
    },
    async snapshotRootOrigins (options) {
      check(options, 'snapshotRootOrigins')
      return [...live.roots].map(([k, origin]) => ({ cid: CID.parse(k), ...(origin !== undefined ? { origin } : {}) }))
    },
    crash: () => memoryBlockStore(durable),
    corrupt (cid) {
      const bytes = live.blocks.get(cid.toString())
      if (bytes !== undefined) bytes[bytes.length >> 1] ^= 0xff
    }
  }
  return store
}
