// A BlockStore on an archive medium: blocks are gathered into packs of some megabytes (so an
// archive of 60,000 blocks is a few dozen objects, not 60,000), each pack followed by its
// catalogue; snapshot roots are small objects of their own. The layout on the medium:
//   packs/<random 256-bit id>.pack    blocks (pack-format.ts), or a store segment copied whole (putSegment)
//   packs/<same>.cat                  the pack's catalogue, written only once the pack is durable
//   roots/<CID>.json                  a snapshot root and its origin, written after a flush
//   sets/<id>.json                    an archive set (one archive run): its roots, every block
//                                     it needs (also those it found there) and when it expires
// A pack without a catalogue (a crash between the two) is ignored and written again by the
// next run; nothing a catalogue names is ever rewritten. Packs are shared: a run writes only
// what the device lacks, so a later set needs blocks in an earlier set's packs. Expiry
// (`expire`) therefore counts references: a pack goes only when no set still in force needs
// a block in it and every block in it belongs to some set (doc/design.md "Archive sets").
import { randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { copyFile, open as openFile, stat, truncate, writeFile } from 'node:fs/promises'
import { CID } from 'multiformats/cid'
import { BLOCK_CID_LENGTH, BlockNotFoundError, CidMismatchError, CorruptBlockError, matchesCid, SEGMENT_MAGIC, type BlockStore, type RootOrigin } from '../../chunkstore/index.ts'
import { throwIfAborted, type AbortOptions } from '../../crypto/index.ts'
import type { ArchiveMedium } from './archive-medium.ts'
import { ArchiveDamagedError, ArchiveDeviceInvalidError } from './errors.ts'
import { decodeCatalogue, encodeCatalogue, PackBuilder, type CatalogueEntry } from './pack-format.ts'

/** One archive run's set on the device (`sets/<id>.json`). */
export interface ArchiveSet {
  /** [A-Za-z0-9._-]: the archive job's id. */
  id: string
  createdAt: string
  /** When the set may go (its task's retention); absent: kept for ever. */
  expiresAt?: string
  /** What it was archived for (the archive task's name), for people reading the device. */
  label?: string
  roots: CID[]
  /** Every block the set's snapshots need, whether this run wrote it or found it there. */
  blocks: CID[]
}

export interface ExpiryResult {
  /** Sets removed, and the packs, bytes and snapshot roots that went with them. */
  sets: string[]
  packs: number
  bytes: number
  roots: number
  /** Volumes (tape cartridges) made scratch again: every set on them had expired. */
  recycled?: string[]
  /** Expired sets left on the device this time, and why (an object still under Object Lock; a device that cannot delete). */
  kept: Array<{ set: string, reason: string } & ({ why: 'locked', object: string } | { why: 'cannot-delete' } | { why: 'unrecorded', roots: number, root: string })>
}

/** The pack store: a BlockStore plus the archive sets written to it and their expiry. */
export interface PackBlockStore extends BlockStore {
  /** Records a set; its blocks and roots must be durable (flushed) first. */
  addSet: (set: ArchiveSet, options?: AbortOptions) => Promise<void>
  sets: (options?: AbortOptions) => Promise<Array<Omit<ArchiveSet, 'blocks'> & { blockCount: number }>>
  /**
   * Removes every set expired at `now`: first its snapshot roots that no set still in force
   * lists, then each pack no set in force needs (catalogue before pack), then the set's record.
   * Stopped or crashed midway, a rerun finishes it; a root or block a set in force needs is
   * never touched.
   */
  expire: (now: Date, options?: AbortOptions) => Promise<ExpiryResult>
  /** The blocks in the device's catalogues that no set claims (archived by `cairn archive run`, or before sets were recorded). */
  unclaimed: (options?: AbortOptions) => Promise<CID[]>
  /**
   * Whole-segment copy (doc/design.md "Archive pack"): the first `length` bytes of a store's
   * segment file become a pack as they are, its catalogue `entries` (offsets into the segment).
   * Every entry must be a block the device lacks; the bytes are not hashed here (the archive's
   * verify job checks them). Durable, like `put`, at the next `flush`; no larger than
   * `segmentLimit`. Several calls may run at once (as many copies as the medium takes run
   * together, the rest wait their turn); none at once with `put`.
   */
  putSegment: (segment: { path: string, length: number, entries: CatalogueEntry[] }, options?: AbortOptions) => Promise<void>
  /** `has` for a binary CID, at once: no CID object for each of a store's blocks. */
  holds: (cid: Uint8Array) => boolean
  /** The largest segment `putSegment` takes (bytes): larger ones are copied block by block. */
  readonly segmentLimit: number
}

export interface PackBlockStoreInit {
  /** A pack's size (default 16 MiB): it is written once full, or before a block would overflow it; a larger block is a pack of its own. */
  packSize?: number
  /**
   * The largest store segment copied whole (default 5 packs: a 64 MiB segment at the default
   * pack size). A whole segment is one pack, and a pack is expired whole, so this bounds the
   * grain of expiry as `packSize` does.
   */
  segmentLimit?: number
  /** Packs written ahead of a sync on a medium that defers (a folder; default 256 MiB): what a crash makes the next run write again. */
  commitBytes?: number
}

interface Located { pack: string, offset: number, length: number, seq: number }

const keyOf = (cid: Uint8Array): string => Buffer.from(cid).toString('base64')
const PACKS = 'packs/'
const ROOTS = 'roots/'
const SETS = 'sets/'
const SPAN = 32 << 20

/** Opens the store, reading every catalogue on the medium (the device's index is rebuilt each time). */
export async function openPackBlockStore (medium: ArchiveMedium, init: PackBlockStoreInit = {}, options?: AbortOptions): Promise<PackBlockStore> {
  const packSize = init.packSize ?? 16 << 20
  const commitBytes = init.commitBytes ?? 256 << 20
  const where = new Map<string, Located>()
  const roots = new Map<string, RootOrigin | undefined>()
  /** Each pack with a catalogue: the blocks it holds, its length, and its catalogue's seq (the order packs were written). */
  const packs = new Map<string, { keys: string[], bytes: number, seq: number }>()
  let seq = 0
  for await (const name of medium.list(PACKS, options)) {
    if (!name.endsWith('.cat')) continue
    let cat
    try { cat = decodeCatalogue(await medium.read(name, options)) } catch (err) {
      if (err instanceof ArchiveDamagedError) throw err
      throw new ArchiveDamagedError(medium.device, name, (err as Error).message, { cause: err })
    }
    const pack = name.slice(0, -'.cat'.length) + '.pack'
    seq = Math.max(seq, cat.seq)
    packs.set(pack, { keys: cat.entries.map(e => keyOf(e.cid)), bytes: cat.packLength, seq: cat.seq })
    for (const e of cat.entries) {
      const k = keyOf(e.cid)
      const old = where.get(k)
      if (old === undefined || old.seq < cat.seq) where.set(k, { pack, offset: e.offset, length: e.length, seq: cat.seq })
    }
  }
  for await (const name of medium.list(ROOTS, options)) {
    if (!name.endsWith('.json')) continue
    const body = JSON.parse(Buffer.from(await medium.read(name, options)).toString('utf8')) as { origin?: RootOrigin }
    roots.set(name.slice(ROOTS.length, -'.json'.length), body.origin)
  }

  /** Blocks put and not yet in a pack whose catalogue is durable: the pack being built, and its bytes. */
  interface Open { pack: PackBuilder, at: Map<string, CatalogueEntry> }
  /** The buffer of the last pack written: the next pack fills it (heldHere's views of it are gone, get copies). */
  let spare: Buffer | undefined
  const newOpen = (): Open => {
    const open = { pack: new PackBuilder(packSize, spare), at: new Map() }
    spare = undefined
    return open
  }
  let pending = newOpen()
  const pendingRoots: string[] = []
  /**
   * The pack being written while more blocks are put (at most one, so reading the source and
   * writing the device overlap); its blocks stay readable here until its catalogue is durable.
   */
  let inFlight: { open: Open, done: Promise<void> } | undefined

  /**
   * Packs written but not yet known durable, on a medium that can defer (a folder): their
   * catalogues are written once they are synced, together — one sync of many packs lets the
   * disk write them back at full queue depth, where a sync per pack waited for each in turn.
   * A commit runs behind the copies (at most one at a time): the disk writes one batch back
   * while the next is copied, as `cp -r` then `sync` lets the kernel do.
   */
  let unsynced: Array<{ name: string, length: number, entries: CatalogueEntry[] }> = []
  let unsyncedBytes = 0
  let committing: Promise<void> | undefined

  /** Syncs the packs written so far, then writes (and syncs) their catalogues; failed, the packs wait for the next commit. */
  const commit = async (signal?: AbortSignal): Promise<void> => {
    if (unsynced.length === 0) return
    const batch = unsynced
    unsynced = []
    unsyncedBytes = 0
    try {
      await medium.sync?.(batch.map(p => `${p.name}.pack`), { signal })
      const cats = batch.map(p => {
        const catSeq = ++seq
        // The order packs were written, as `wholeSegments` gives them (once the pack is indexed: `index`).
        const w = packs.get(`${p.name}.pack`)
        if (w !== undefined) w.seq = catSeq
        return { name: `${p.name}.cat`, bytes: encodeCatalogue({ seq: catSeq, packLength: p.length, entries: p.entries }) }
      })
      await inParallel(cats, c => medium.write(c.name, c.bytes, { signal, defer: true }))
      await medium.sync?.(cats.map(c => c.name), { signal })
    } catch (err) {
      unsynced = [...batch, ...unsynced]
      unsyncedBytes = unsynced.reduce((n, p) => n + p.length, 0)
      throw err
    }
  }
  /** Waits for the commit running behind, if any; its error is this call's. */
  const committed = async (): Promise<void> => {
    while (committing !== undefined) {
      const c = committing
      try { await c } finally { if (committing === c) committing = undefined }
    }
  }
  /** Starts a commit behind the copies once enough is written (waiting for the one before). */
  const commitBehind = async (signal?: AbortSignal): Promise<void> => {
    await committed()
    if (unsyncedBytes < commitBytes) return
    const c = commit(signal)
    c.catch(() => {}) // told by the next `committed`
    committing = c
  }
  /** Up to the medium's concurrency of `fn` at once, in order of `items`. */
  const inParallel = async <T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> => {
    for (let at = 0; at < items.length; at += medium.concurrency ?? 1) await Promise.all(items.slice(at, at + (medium.concurrency ?? 1)).map(fn))
  }

  /** Segment copies running (`putSegment`), and those waiting for one of the medium's writers. */
  let copying = 0
  const copySlots: Array<() => void> = []

  // A random name: packs are immutable and never named twice, so no hash of the whole pack.
  const newPackName = (): string => `${PACKS}${randomBytes(32).toString('hex')}`

  const writePack = async (open: Open, signal?: AbortSignal): Promise<void> => {
    const pack = open.pack.bytes()
    const name = newPackName()
    await medium.write(`${name}.pack`, pack, { signal, defer: true })
    await written(name, pack.length, open.pack.entries, signal)
  }

  /**
   * Packs this process wrote whose blocks are not yet in `where` and `packs`: added at the first
   * lookup (`index`), so a run that copies whole segments and asks nothing after builds no key
   * for each of their blocks. A block in a later pack replaces its place in an earlier one.
   */
  let unindexed: Array<{ pack: string, length: number, entries: CatalogueEntry[] }> = []
  const index = (): void => {
    for (const u of unindexed) {
      const keys = u.entries.map(e => keyOf(e.cid))
      u.entries.forEach((e, i) => where.set(keys[i], { pack: u.pack, offset: e.offset, length: e.length, seq: seq + 1 }))
      packs.set(u.pack, { keys, bytes: u.length, seq: seq + 1 })
    }
    unindexed = []
  }

  /** A pack written: readable from the medium from now on (this process only: no catalogue names it yet), its catalogue due. */
  const written = async (name: string, length: number, entries: CatalogueEntry[], signal?: AbortSignal): Promise<void> => {
    unindexed.push({ pack: `${name}.pack`, length, entries })
    unsynced.push({ name, length, entries })
    unsyncedBytes += length
    if (medium.sync === undefined) await commit(signal)
    else await commitBehind(signal)
  }

  interface StoredSet { id: string, createdAt: string, expiresAt?: string, label?: string, roots: string[], blocks: string }
  const readSets = async (signal?: AbortSignal): Promise<StoredSet[]> => {
    const out: StoredSet[] = []
    for await (const name of medium.list(SETS, { signal })) {
      if (!name.endsWith('.json')) continue
      try {
        out.push(JSON.parse(Buffer.from(await medium.read(name, { signal })).toString('utf8')) as StoredSet)
      } catch (err) {
        if (err instanceof ArchiveDamagedError) throw err
        throw new ArchiveDamagedError(medium.device, name, (err as Error).message, { cause: err })
      }
    }
    return out
  }
  /** The block keys of a stored set (its binary CIDs, base64, one after another). */
  const keysOf = (set: StoredSet): string[] => {
    const b = Buffer.from(set.blocks, 'base64')
    const out: string[] = []
    for (let at = 0; at + BLOCK_CID_LENGTH <= b.length; at += BLOCK_CID_LENGTH) out.push(keyOf(b.subarray(at, at + BLOCK_CID_LENGTH)))
    return out
  }

  /** Waits for the pack in flight; if it failed, its blocks are put again into the open pack and its error is thrown. */
  const settle = async (): Promise<void> => {
    const f = inFlight
    if (f === undefined) return
    try {
      await f.done
    } catch (err) {
      if (inFlight === f) {
        inFlight = undefined
        for (const [k, e] of f.open.at) if (!pending.at.has(k)) pending.at.set(k, pending.pack.add(e.cid, f.open.pack.view(e)))
      }
      throw err
    }
    if (inFlight === f) {
      inFlight = undefined
      spare = f.open.pack.buffer
    }
  }

  /** Starts writing the open pack, once the pack before it is written. */
  const seal = async (signal?: AbortSignal): Promise<void> => {
    await settle()
    if (pending.at.size === 0) return
    const open = pending
    pending = newOpen()
    const done = writePack(open, signal)
    done.catch(() => {}) // reported by the next settle
    inFlight = { open, done }
  }

  /** The bytes of a block put and not yet durable in a pack, if it is one. */
  const heldHere = (k: string): Uint8Array | undefined => {
    const e = pending.at.get(k)
    if (e !== undefined) return pending.pack.view(e)
    const f = inFlight?.open.at.get(k)
    return f !== undefined ? inFlight!.open.pack.view(f) : undefined
  }

  const readHeld = async (cid: CID, signal?: AbortSignal): Promise<Uint8Array | undefined> => {
    const k = keyOf(cid.bytes)
    const p = heldHere(k)
    if (p !== undefined) return new Uint8Array(p)
    index()
    const at = where.get(k)
    if (at === undefined) return undefined
    return await medium.read(at.pack, { offset: at.offset, length: at.length, signal })
  }

  /**
   * Expiry on a medium that cannot delete one object (tape): a volume (cartridge) is recycled when
   * every object on it may go — roots no set in force lists, packs (and catalogues) no set in force
   * needs, records of expired sets — and no root left listed on another volume needs a block of a
   * pack on it. An expired set goes when nothing of it is left; until then it is kept.
   */
  const recycle = async (expired: StoredSet[], liveRoots: Set<string>, unneeded: (pack: string) => boolean, out: ExpiryResult, signal?: AbortSignal): Promise<ExpiryResult> => {
    const volumes = medium.volumes?.()
    if (volumes === undefined || medium.recycle === undefined) {
      for (const s of expired) out.kept.push({ set: s.id, why: 'cannot-delete', reason: `${medium.device} cannot delete single objects` })
      return out
    }
    const goes = (name: string): boolean => {
      if (name.startsWith(ROOTS)) return expired.some(s => s.roots.includes(name.slice(ROOTS.length, -'.json'.length))) && !liveRoots.has(name.slice(ROOTS.length, -'.json'.length))
      if (name.startsWith(SETS)) return expired.some(s => `${SETS}${s.id}.json` === name)
      if (name.endsWith('.pack')) return unneeded(name)
      if (name.endsWith('.cat')) return unneeded(`${name.slice(0, -'.cat'.length)}.pack`)
      return false
    }
    const chosen = new Set([...volumes].filter(([, names]) => names.length > 0 && names.every(goes)).map(([v]) => v))
    // A root that stays listed (on a volume not recycled) keeps every volume holding a block its set claims.
    for (let changed = true; changed;) {
      changed = false
      for (const [v, names] of volumes) {
        if (chosen.has(v)) continue
        for (const name of names.filter(n => n.startsWith(ROOTS))) {
          const needs = new Set(expired.filter(s => s.roots.includes(name.slice(ROOTS.length, -'.json'.length))).flatMap(keysOf))
          for (const c of [...chosen]) {
            if (volumes.get(c)!.some(n => n.endsWith('.pack') && packs.get(n)?.keys.some(k => needs.has(k)))) { chosen.delete(c); changed = true }
          }
        }
      }
    }
    out.recycled = []
    for (const v of chosen) {
      throwIfAborted(signal, `Recycling cartridges of ${medium.device}`)
      const names = volumes.get(v)!
      await medium.recycle(v, { signal })
      out.recycled.push(v)
      for (const name of names) {
        if (name.startsWith(ROOTS)) { roots.delete(name.slice(ROOTS.length, -'.json'.length)); out.roots++ }
        const pack = packs.get(name)
        if (pack === undefined) continue
        for (const b of pack.keys) if (where.get(b)?.pack === name) where.delete(b)
        packs.delete(name)
        out.packs++
        out.bytes += pack.bytes
      }
    }
    const left = new Set([...volumes].filter(([v]) => !chosen.has(v)).flatMap(([, names]) => names))
    for (const s of expired) {
      const mine = [`${SETS}${s.id}.json`, ...s.roots.filter(r => !liveRoots.has(r)).map(r => `${ROOTS}${r}.json`)]
      if (mine.some(n => left.has(n))) out.kept.push({ set: s.id, why: 'cannot-delete', reason: `a cartridge of ${medium.device} holding it also holds what a set in force needs; it goes when that cartridge is recycled` })
      else out.sets.push(s.id)
    }
    return out
  }

  const store: PackBlockStore = {
    async has (cid, options) { return (await store.hasMany([cid], options))[0] },
    async hasMany (cids, options) {
      throwIfAborted(options?.signal, `Looking blocks up on ${medium.device}`)
      return cids.map(c => store.holds(c.bytes))
    },
    holds (cid) {
      // An empty device (a first archive) answers without a key for each of the store's blocks.
      if (where.size === 0 && unindexed.length === 0 && pending.at.size === 0 && inFlight === undefined) return false
      index()
      const k = keyOf(cid)
      return heldHere(k) !== undefined || where.has(k)
    },
    async sizes (cids, options) {
      throwIfAborted(options?.signal, `Looking blocks up on ${medium.device}`)
      index()
      return cids.map(c => { const k = keyOf(c.bytes); return heldHere(k)?.length ?? where.get(k)?.length })
    },
    async get (cid, options = {}) {
      throwIfAborted(options.signal, `Reading block ${cid.toString()} from ${medium.device}`)
      const bytes = await readHeld(cid, options.signal)
      if (bytes === undefined) throw new BlockNotFoundError(cid.toString())
      if (options.verify === true && !matchesCid(cid, bytes)) throw new CorruptBlockError(cid.toString(), 'its bytes no longer match the CID', { where: `archive device ${medium.device}` })
      return bytes
    },
    /** Blocks grouped by pack and read in spans of up to 32 MiB: a restore from S3 or tape is a few large reads, not one per block. */
    async * getMany (cids, options = {}) {
      index()
      const byPack = new Map<string, Array<{ index: number, at: Located }>>()
      for (let index = 0; index < cids.length; index++) {
        const k = keyOf(cids[index].bytes)
        const held = heldHere(k)
        if (held !== undefined) { yield { index, bytes: new Uint8Array(held) }; continue }
        const at = where.get(k)
        if (at === undefined) throw new BlockNotFoundError(cids[index].toString())
        let list = byPack.get(at.pack)
        if (list === undefined) byPack.set(at.pack, list = [])
        list.push({ index, at })
      }
      for (const [pack, list] of byPack) {
        list.sort((a, b) => a.at.offset - b.at.offset)
        for (let i = 0; i < list.length;) {
          const start = list[i].at.offset
          let end = start + list[i].at.length
          let j = i + 1
          while (j < list.length && list[j].at.offset + list[j].at.length - start <= SPAN) { end = Math.max(end, list[j].at.offset + list[j].at.length); j++ }
          throwIfAborted(options.signal, `Reading blocks from ${medium.device}`)
          const span = await medium.read(pack, { offset: start, length: end - start, signal: options.signal })
          for (; i < j; i++) yield { index: list[i].index, bytes: span.subarray(list[i].at.offset - start, list[i].at.offset - start + list[i].at.length) }
        }
      }
    },
    async put (cid, bytes, options) {
      throwIfAborted(options?.signal, `Archiving block ${cid.toString()} to ${medium.device}`)
      if (!matchesCid(cid, bytes)) throw new CidMismatchError(cid.toString())
      const k = keyOf(cid.bytes)
      if (heldHere(k) !== undefined) return
      index()
      if (where.has(k)) {
        // Present: kept unless its copy no longer matches (then the good bytes go in a new pack).
        const held = await readHeld(cid, options?.signal).catch(() => undefined)
        if (held !== undefined && matchesCid(cid, held)) return
      }
      // A pack is sealed before it would outgrow its buffer: growing copies every byte in it.
      if (pending.at.size > 0 && !pending.pack.fits(bytes.length)) await seal(options?.signal)
      pending.at.set(k, pending.pack.add(cid.bytes, bytes))
      if (pending.pack.size >= packSize) await seal(options?.signal)
    },
    segmentLimit: init.segmentLimit ?? 5 * packSize,
    async putSegment ({ path, length, entries }, options) {
      throwIfAborted(options?.signal, `Archiving a segment to ${medium.device}`)
      if (length > store.segmentLimit) throw new ArchiveDeviceInvalidError(`A segment of ${length} bytes is larger than ${medium.device} takes whole (${store.segmentLimit})`)
      // No more writers at once than the medium takes: a tape set is a sequence of members.
      while (copying >= (medium.concurrency ?? 1)) await new Promise<void>(resolve => { copySlots.push(resolve) })
      copying++
      try {
        await settle()
        const name = newPackName()
        if (medium.copyFile !== undefined) await medium.copyFile(`${name}.pack`, path, length, { signal: options?.signal, defer: true })
        else {
          const fh = await openFile(path, 'r')
          let bytes: Buffer
          try {
            bytes = Buffer.allocUnsafe(length)
            const { bytesRead } = await fh.read(bytes, 0, length, 0)
            if (bytesRead < length) throw new ArchiveDeviceInvalidError(`${path} holds ${bytesRead} bytes, fewer than the ${length} to copy to ${medium.device}`)
          } finally { await fh.close() }
          await medium.write(`${name}.pack`, bytes, { signal: options?.signal, defer: true })
        }
        await written(name, length, entries, options?.signal)
      } finally {
        copying--
        copySlots.shift()?.()
      }
    },
    /**
     * The packs that are store segments copied whole, in the order their catalogues were written
     * (the order the archive's copies finished: the store's, but for neighbours two concurrent
     * copies swapped), each with the blocks whose live copy it
     * holds; a folder's packs are copied by the kernel, other media's read and written.
     */
    async * wholeSegments (options) {
      index()
      const held = new Map<string, Array<{ cid: Uint8Array, offset: number, length: number }>>()
      for (const [k, at] of where) {
        let list = held.get(at.pack)
        if (list === undefined) held.set(at.pack, list = [])
        list.push({ cid: Buffer.from(k, 'base64'), offset: at.offset, length: at.length })
      }
      for (const [pack, { bytes: length }] of [...packs].sort((a, b) => a[1].seq - b[1].seq)) {
        const entries = held.get(pack)
        if (entries === undefined || length <= SEGMENT_MAGIC.length) continue
        throwIfAborted(options?.signal, `Reading ${medium.device}`)
        const head = await medium.read(pack, { offset: 0, length: SEGMENT_MAGIC.length, signal: options?.signal })
        if (!SEGMENT_MAGIC.equals(head)) continue
        yield {
          length,
          entries,
          copyTo: async (path, copyOptions) => {
            const local = medium.localPath?.(pack)
            if (local !== undefined) {
              await copyFile(local, path, constants.COPYFILE_EXCL)
              const size = (await stat(path)).size
              if (size < length) throw new ArchiveDamagedError(medium.device, pack, `${size} of its ${length} bytes are there: cut off`)
              if (size > length) await truncate(path, length)
              return
            }
            await writeFile(path, await medium.read(pack, { offset: 0, length, signal: copyOptions?.signal }), { flag: 'wx' })
          }
        }
      }
    },
    async flush (options) {
      await seal(options?.signal)
      await settle()
      await committed()
      await commit(options?.signal)
      while (pendingRoots.length > 0) {
        const k = pendingRoots[0]
        await medium.write(`${ROOTS}${k}.json`, Buffer.from(JSON.stringify({ version: 1, origin: roots.get(k) })), options)
        pendingRoots.shift()
      }
    },
    async * cids (options) {
      index()
      const keys = [...new Set([...where.keys(), ...(inFlight?.open.at.keys() ?? []), ...pending.at.keys()])]
      for (const k of keys) {
        throwIfAborted(options?.signal, `Listing blocks of ${medium.device}`)
        yield CID.decode(Buffer.from(k, 'base64'))
      }
    },
    async snapshotRoots (options) {
      throwIfAborted(options?.signal, `Listing snapshots of ${medium.device}`)
      return [...roots.keys()].map(k => CID.parse(k))
    },
    async addSnapshotRoot (cid, origin, options) {
      throwIfAborted(options?.signal, `Listing snapshot ${cid.toString()} on ${medium.device}`)
      const k = cid.toString()
      if (roots.has(k)) return
      roots.set(k, origin)
      pendingRoots.push(k)
    },
    async addSet (set, options) {
      if (!/^[A-Za-z0-9._-]{1,128}$/.test(set.id)) throw new ArchiveDeviceInvalidError(`An archive set's id is 1–128 of [A-Za-z0-9._-]; "${set.id}" is not`)
      const blocks = Buffer.concat(set.blocks.filter(c => c.bytes.length === BLOCK_CID_LENGTH).map(c => c.bytes))
      const body: StoredSet & { version: 1 } = {
        version: 1, id: set.id, createdAt: set.createdAt, ...(set.expiresAt !== undefined ? { expiresAt: set.expiresAt } : {}), ...(set.label !== undefined ? { label: set.label } : {}),
        roots: set.roots.map(c => c.toString()), blocks: blocks.toString('base64')
      }
      await medium.write(`${SETS}${set.id}.json`, Buffer.from(JSON.stringify(body)), options)
    },
    async sets (options) {
      return (await readSets(options?.signal)).map(s => ({
        id: s.id, createdAt: s.createdAt, ...(s.expiresAt !== undefined ? { expiresAt: s.expiresAt } : {}), ...(s.label !== undefined ? { label: s.label } : {}),
        roots: s.roots.map(r => CID.parse(r)), blockCount: Buffer.from(s.blocks, 'base64').length / BLOCK_CID_LENGTH
      }))
    },
    async expire (now, options) {
      const out: ExpiryResult = { sets: [], packs: 0, bytes: 0, roots: 0, kept: [] }
      index()
      const all = await readSets(options?.signal)
      const expired = all.filter(s => s.expiresAt !== undefined && Date.parse(s.expiresAt) <= now.getTime())
      if (expired.length === 0) return out
      // A snapshot archived without a set (`cairn archive run`) needs blocks no set names: no
      // pack can then be known to be unneeded, so nothing expires until those snapshots have sets.
      const unrecorded = [...roots.keys()].filter(r => !all.some(s => s.roots.includes(r)))
      if (unrecorded.length > 0) {
        for (const s of expired) out.kept.push({ set: s.id, why: 'unrecorded', roots: unrecorded.length, root: unrecorded[0], reason: `${medium.device} holds ${unrecorded.length} snapshot(s) archived without a set record (by cairn archive run), e.g. ${unrecorded[0]}, whose blocks are not known` })
        return out
      }
      const live = all.filter(s => !expired.includes(s))
      const liveKeys = new Set(live.flatMap(keysOf))
      const liveRoots = new Set(live.flatMap(s => s.roots))
      /** Blocks some set (in force or expired) claims: a block no set claims (archived before sets were recorded) keeps its pack. */
      const claimed = new Set([...liveKeys, ...expired.flatMap(keysOf)])
      /** A pack goes when no set in force needs a block whose live copy is in it, and every block in it is claimed. */
      const unneeded = (pack: string): boolean => packs.get(pack)?.keys.every(b => claimed.has(b) && !(liveKeys.has(b) && where.get(b)?.pack === pack)) ?? false
      const remove = medium.remove
      if (remove === undefined) return await recycle(expired, liveRoots, unneeded, out, options?.signal)
      for (const set of expired) {
        throwIfAborted(options?.signal, `Expiring archive sets on ${medium.device}`)
        // Roots first: a root is never listed on the device once blocks of its tree may be gone.
        let locked: string | undefined
        for (const r of set.roots) {
          if (liveRoots.has(r) || !roots.has(r)) continue
          if (await remove(`${ROOTS}${r}.json`, options) === 'locked') { locked = `${ROOTS}${r}.json`; break }
          roots.delete(r)
          out.roots++
        }
        if (locked === undefined) {
          const seen = new Set<string>()
          for (const k of keysOf(set)) {
            const at = where.get(k)
            if (at === undefined || seen.has(at.pack)) continue
            seen.add(at.pack)
            const pack = packs.get(at.pack)
            if (pack === undefined) continue
            if (!unneeded(at.pack)) continue
            const base = at.pack.slice(0, -'.pack'.length)
            if (await remove(`${base}.cat`, options) === 'locked') { locked = `${base}.cat`; break }
            for (const b of pack.keys) if (where.get(b)?.pack === at.pack) where.delete(b)
            packs.delete(at.pack)
            // Its catalogue gone, a pack is ignored; a crash here leaves only bytes for a later expiry to find.
            await remove(at.pack, options)
            out.packs++
            out.bytes += pack.bytes
          }
        }
        if (locked !== undefined) {
          out.kept.push({ set: set.id, why: 'locked', object: locked, reason: `${locked} is under Object Lock on ${medium.device} until its retention ends` })
          continue
        }
        await remove(`${SETS}${set.id}.json`, options)
        out.sets.push(set.id)
      }
      return out
    },
    async unclaimed (options) {
      const claimed = new Set((await readSets(options?.signal)).flatMap(keysOf))
      index()
      return [...where.keys()].filter(k => !claimed.has(k)).map(k => CID.decode(Buffer.from(k, 'base64')))
    },
    async snapshotRootOrigins (options) {
      throwIfAborted(options?.signal, `Listing snapshots of ${medium.device}`)
      return [...roots].map(([k, origin]) => ({ cid: CID.parse(k), ...(origin !== undefined ? { origin } : {}) }))
    }
  }
  return store
}
