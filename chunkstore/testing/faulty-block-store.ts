// A wrapper that makes any BlockStore misbehave the way a disk, a NAS or an object store does
// (kopia's blobtesting "faulty" store is the model): calls that fail, calls that are slow,
// reads that come back short. Tests use it to show that callers surface such faults as clear
// errors and that nothing stored before is lost. A test double by nature: no real medium here
// fails on demand. Production code never reaches it.
import { setTimeout as sleep } from 'node:timers/promises'
import { CorruptBlockError, matchesCid, type BlockStore } from '../index.ts'
import type { CID } from 'multiformats/cid'

export type FaultyMethod = 'has' | 'hasMany' | 'sizes' | 'get' | 'put' | 'flush' | 'cids' | 'snapshotRoots' | 'addSnapshotRoot'

export interface Faults {
  /** An error to throw instead of calling the inner store (undefined: call it). */
  fail?: (method: FaultyMethod, cid?: CID) => Error | undefined
  /** Delay before every call, in ms. */
  latencyMs?: number
  /** True: `get` of this block returns only the first half of its bytes, as a torn read would. */
  shortRead?: (cid: CID) => boolean
}

/**
 * `inner` behind `faults` (which may be changed while the wrapper is in use). It keeps the
 * BlockStore contract on top of the faults: a short read that `verify` was asked for is a
 * CorruptBlockError, never wrong bytes returned as good.
 */
export function faultyBlockStore (inner: BlockStore, faults: Faults): BlockStore {
  const before = async (method: FaultyMethod, cid?: CID): Promise<void> => {
    if (faults.latencyMs !== undefined && faults.latencyMs > 0) await sleep(faults.latencyMs)
    const err = faults.fail?.(method, cid)
    if (err !== undefined) throw err
  }
  const store: BlockStore = {
    async has (cid, options) { await before('has', cid); return await inner.has(cid, options) },
    async hasMany (cids, options) { await before('hasMany'); return await inner.hasMany(cids, options) },
    async sizes (cids, options) { await before('sizes'); return await inner.sizes(cids, options) },
    async get (cid, options = {}) {
      await before('get', cid)
      let bytes = await inner.get(cid, { ...options, verify: false })
      if (faults.shortRead?.(cid) === true) bytes = bytes.subarray(0, bytes.length >> 1)
      if (options.verify === true && !matchesCid(cid, bytes)) throw new CorruptBlockError(cid.toString(), `read ${bytes.length} bytes that do not match the CID`)
      return bytes
    },
    async put (cid, bytes, options) { await before('put', cid); await inner.put(cid, bytes, options) },
    async flush (options) { await before('flush'); await inner.flush(options) },
    async * cids (options) { await before('cids'); yield * inner.cids(options) },
    async snapshotRoots (options) { await before('snapshotRoots'); return await inner.snapshotRoots(options) },
    async addSnapshotRoot (cid, origin, options) { await before('addSnapshotRoot', cid); await inner.addSnapshotRoot(cid, origin, options) }
  }
  const origins = inner.snapshotRootOrigins
  if (origins !== undefined) store.snapshotRootOrigins = async options => { await before('snapshotRoots'); return await origins(options) }
  return store
}
