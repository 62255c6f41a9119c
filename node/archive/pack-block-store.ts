// A BlockStore on an archive medium: blocks are gathered into packs of some megabytes (so an
// archive of 60,000 blocks is a few dozen objects, not 60,000), each pack followed by its
// catalogue; snapshot roots are small objects of their own. The layout on the medium:
//   packs/<random 256-bit id>.pack    blocks (pack-format.ts)
//   packs/<same>.cat                  the pack's catalogue, written only once the pack is durable
//   roots/<CID>.json                  a snapshot root and its origin, written after a flush
// A pack without a catalogue (a crash between the two) is ignored and written again by the
// next run; nothing a catalogue names is ever rewritten.
import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { BlockNotFoundError, CidMismatchError, CorruptBlockError, matchesCid, type BlockStore, type RootOrigin } from '../../chunkstore/index.ts'
import { throwIfAborted, type AbortOptions } from '../../crypto/index.ts'
import type { ArchiveMedium } from './archive-medium.ts'
import { ArchiveDamagedError } from './errors.ts'
import { decodeCatalogue, encodeCatalogue, PackBuilder, type CatalogueEntry } from './pack-format.ts'

export interface PackBlockStoreInit {
  /** A pack's size (default 16 MiB): it is written once full, or before a block would overflow it; a larger block is a pack of its own. */
  packSize?: number
}

interface Located { pack: string, offset: number, length: number, seq: number }

const keyOf = (cid: Uint8Array): string => Buffer.from(cid).toString('base64')
const PACKS = 'packs/'
const ROOTS = 'roots/'
const SPAN = 32 << 20

/** Opens the store, reading every catalogue on the medium (the device's index is rebuilt each time). */
export async function openPackBlockStore (medium: ArchiveMedium, init: PackBlockStoreInit = {}, options?: AbortOptions): Promise<BlockStore> {
  const packSize = init.packSize ?? 16 << 20
  const where = new Map<string, Located>()
  const roots = new Map<string, RootOrigin | undefined>()
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

  const writePack = async (open: Open, signal?: AbortSignal): Promise<void> => {
    const pack = open.pack.bytes()
    // A random name: packs are immutable and never named twice, so no hash of the whole pack.
    const name = `${PACKS}${randomBytes(32).toString('hex')}`
    await medium.write(`${name}.pack`, pack, { signal })
    const catSeq = ++seq
    await medium.write(`${name}.cat`, encodeCatalogue({ seq: catSeq, packLength: pack.length, entries: open.pack.entries }), { signal })
    for (const e of open.pack.entries) where.set(keyOf(e.cid), { pack: `${name}.pack`, offset: e.offset, length: e.length, seq: catSeq })
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
    const at = where.get(k)
    if (at === undefined) return undefined
    return await medium.read(at.pack, { offset: at.offset, length: at.length, signal })
  }

  const store: BlockStore = {
    async has (cid, options) { return (await store.hasMany([cid], options))[0] },
    async hasMany (cids, options) {
      throwIfAborted(options?.signal, `Looking blocks up on ${medium.device}`)
      return cids.map(c => { const k = keyOf(c.bytes); return heldHere(k) !== undefined || where.has(k) })
    },
    async sizes (cids, options) {
      throwIfAborted(options?.signal, `Looking blocks up on ${medium.device}`)
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
    async flush (options) {
      await seal(options?.signal)
      await settle()
      while (pendingRoots.length > 0) {
        const k = pendingRoots[0]
        await medium.write(`${ROOTS}${k}.json`, Buffer.from(JSON.stringify({ version: 1, origin: roots.get(k) })), options)
        pendingRoots.shift()
      }
    },
    async * cids (options) {
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
    async snapshotRootOrigins (options) {
      throwIfAborted(options?.signal, `Listing snapshots of ${medium.device}`)
      return [...roots].map(([k, origin]) => ({ cid: CID.parse(k), ...(origin !== undefined ? { origin } : {}) }))
    }
  }
  return store
}
