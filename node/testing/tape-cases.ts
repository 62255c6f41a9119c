// The tape archive device's cases, run on each way of driving a tape library (tape.test.ts: the
// virtual library directly; tape-st.test.ts: the code for a SCSI changer and Linux `st` drives,
// over the virtual library's device face): the BlockStore conformance suite, a set that runs
// past the end of a cartridge, the index rebuilt from the tapes alone, a set read back with
// plain `tar`, a write-protected, a wrong and a truncated cartridge, and recycling.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { cidOf, type BlockStore } from '../../chunkstore/index.ts'
import { blockStoreSuite, memoryBlockStore, removeDir, tempDir } from '../../chunkstore/testing/index.ts'
import { copyBlocks, createVirtualTapeLibrary, openPackBlockStore, openTapeMedium, TapeWriteProtectedError, verifyBlocks, WrongCartridgeError, type TapeLibrary, type VirtualTapeLibrary } from '../archive/index.ts'

export interface TapeLibraryUnderTest {
  name: string
  /** The library in `dir` (made by createVirtualTapeLibrary), driven the way under test; opened again for each medium. */
  open: (dir: string) => TapeLibrary
  /** The drive's record size, where it writes whole records (a label alone then takes one). */
  recordSize?: number
}

const MiB = 1 << 20
const create = (dir: string, capacity = 64 * MiB, n = 3): VirtualTapeLibrary =>
  createVirtualTapeLibrary(dir, { slots: 8, drives: 2, cartridges: Array.from({ length: n }, (_, i) => ({ barcode: `CRN00${i}L8`, capacity })) })
const pool = (n = 3): string[] => Array.from({ length: n }, (_, i) => `CRN00${i}L8`)

/** Flips a byte of the block's copy wherever it lies on a cartridge image. */
function corruptOnTape (dir: string, bytes: Uint8Array): void {
  for (const b of pool()) {
    const path = join(dir, 'cartridges', `${b}.img`)
    const img = readFileSync(path)
    const at = img.indexOf(Buffer.from(bytes.subarray(0, 64)))
    if (at < 0) continue
    img[at + 10] ^= 0xff
    writeFileSync(path, img)
  }
}

const blocks = (n: number, size: number): Array<{ cid: CID, bytes: Uint8Array }> => Array.from({ length: n }, () => { const bytes = randomBytes(size); return { cid: cidOf(bytes), bytes } })
const storeOf = async (list: Array<{ cid: CID, bytes: Uint8Array }>): Promise<BlockStore> => {
  const s = memoryBlockStore()
  for (const b of list) await s.put(b.cid, b.bytes)
  await s.addSnapshotRoot(list[0].cid)
  return s
}

export function tapeLibraryCases (under: TapeLibraryUnderTest): void {
  blockStoreSuite({
    name: `archive device: ${under.name}`,
    async open () {
      const dir = tempDir('cairn-vtl-')
      create(dir)
      let medium = openTapeMedium({ device: 'vtl-1', library: under.open(dir), pool: pool() })
      let store = await openPackBlockStore(medium, { packSize: 64 << 10 })
      return {
        store,
        reopen: async () => { medium.closeSet(); medium = openTapeMedium({ device: 'vtl-1', library: under.open(dir), pool: pool() }); store = await openPackBlockStore(medium); return store },
        corrupt: async cid => { corruptOnTape(dir, await store.get(cid)) },
        close: async () => { removeDir(dir) }
      }
    }
  })

  test(`${under.name}: a set past the end of a cartridge continues on the next; the tapes alone give everything back, and tar reads a set`, async () => {
    const dir = tempDir('cairn-vtl-eot-')
    try {
      create(dir, 3 * MiB)
      const some = blocks(40, 120_000)
      const medium = openTapeMedium({ device: 'vtl-1', library: under.open(dir), pool: pool() })
      await copyBlocks(await storeOf(some), await openPackBlockStore(medium, { packSize: 1 * MiB }))
      medium.closeSet()
      const used = pool().filter(b => JSON.parse(readFileSync(join(dir, 'cartridges', `${b}.json`), 'utf8')).eod > 0)
      assert.deepEqual(used, pool().slice(0, 2), 'the set ran onto the second cartridge')
      // Cairn's index is rebuilt from the tapes alone.
      const again = await openPackBlockStore(openTapeMedium({ device: 'vtl-1', library: under.open(dir), pool: pool() }))
      const v = await verifyBlocks(again)
      assert.deepEqual({ blocks: v.blocks, bad: v.bad.length }, { blocks: some.length, bad: 0 })
      assert.equal((await again.snapshotRoots()).length, 1)
      // `mt fsf 1` then `tar t`: tape file 1 of the first cartridge is a plain tar of packs and catalogues.
      const st = JSON.parse(readFileSync(join(dir, 'cartridges', 'CRN000L8.json'), 'utf8')) as { marks: number[] }
      const file1 = readFileSync(join(dir, 'cartridges', 'CRN000L8.img')).subarray(st.marks[0], st.marks[1])
      writeFileSync(join(dir, 'set.tar'), file1)
      const names = execFileSync('tar', ['tf', join(dir, 'set.tar')], { encoding: 'utf8' }).trim().split('\n')
      assert.ok(names.some(n => n.endsWith('.pack')) && names.some(n => n.endsWith('.cat')), names.join(' '))
    } finally {
      removeDir(dir)
    }
  })

  test(`${under.name}: a write-protected pool, a wrong cartridge and a truncated image are each named; nothing written before is lost`, async () => {
    const dir = tempDir('cairn-vtl-faults-')
    try {
      const vtl = create(dir, 64 * MiB, 2)
      const lib = under.open(dir)
      const some = blocks(10, 50_000)
      const first = openTapeMedium({ device: 'vtl-1', library: lib, pool: ['CRN000L8'] })
      await copyBlocks(await storeOf(some), await openPackBlockStore(first, { packSize: 100_000 }))
      first.closeSet()
      vtl.setWriteProtected('CRN000L8', true)
      const more = blocks(3, 50_000)
      const locked = openTapeMedium({ device: 'vtl-1', library: lib, pool: ['CRN000L8'] })
      await assert.rejects(copyBlocks(await storeOf(more), await openPackBlockStore(locked)), (err: Error) => err instanceof TapeWriteProtectedError && err.message.includes('CRN000L8'))
      vtl.setWriteProtected('CRN000L8', false)
      assert.equal((await verifyBlocks(await openPackBlockStore(openTapeMedium({ device: 'vtl-1', library: lib, pool: ['CRN000L8'] })))).bad.length, 0)
      // Cartridges swapped behind the changer's back: labels disagree with barcodes.
      const cart = (b: string, ext: string): string => join(dir, 'cartridges', `${b}.${ext}`)
      const blank = openTapeMedium({ device: 'vtl-1', library: lib, pool: ['CRN001L8'] })
      await copyBlocks(await storeOf(more), await openPackBlockStore(blank))
      blank.closeSet()
      for (const ext of ['img', 'json']) { renameSync(cart('CRN000L8', ext), cart('tmp', ext)); renameSync(cart('CRN001L8', ext), cart('CRN000L8', ext)); renameSync(cart('tmp', ext), cart('CRN001L8', ext)) }
      assert.throws(() => openTapeMedium({ device: 'vtl-1', library: lib, pool: ['CRN000L8'] }), (err: Error) => err instanceof WrongCartridgeError && err.message.includes('CRN001L8'))
      for (const ext of ['img', 'json']) { renameSync(cart('CRN000L8', ext), cart('tmp', ext)); renameSync(cart('CRN001L8', ext), cart('CRN000L8', ext)); renameSync(cart('tmp', ext), cart('CRN001L8', ext)) }
      // A truncated image: the tape ends at the cut; what is before it reads intact, what was
      // after it is missing (its catalogues went with it), and a rerun writes only that again.
      const img = readFileSync(cart('CRN000L8', 'img'))
      writeFileSync(cart('CRN000L8', 'img'), img.subarray(0, img.length >> 1))
      const cut = openTapeMedium({ device: 'vtl-1', library: lib, pool: ['CRN000L8'] })
      const v = await verifyBlocks(await openPackBlockStore(cut))
      assert.ok(v.blocks > 0 && v.blocks < some.length, `${v.blocks} listed`)
      assert.equal(v.bad.length, 0)
      const rerun = await copyBlocks(await storeOf(some), await openPackBlockStore(cut))
      cut.closeSet()
      assert.equal(rerun.blocksWritten, some.length - v.blocks)
      const whole = await verifyBlocks(await openPackBlockStore(openTapeMedium({ device: 'vtl-1', library: lib, pool: ['CRN000L8'] })))
      assert.deepEqual({ blocks: whole.blocks, bad: whole.bad.length }, { blocks: some.length, bad: 0 })
    } finally {
      removeDir(dir)
    }
  })

  test(`${under.name}: a cartridge whose every set has expired is recycled — scratch, then written from its start; one that holds a set in force is not`, async () => {
    const dir = tempDir('cairn-vtl-recycle-')
    try {
      createVirtualTapeLibrary(dir, { slots: 4, drives: 1, cartridges: pool(3).map(barcode => ({ barcode, capacity: 8 * MiB })) })
      /** One archive run on some cartridges of the pool: its blocks, one root, its set. */
      const run = async (on: string[], id: string, expiresAt: string | undefined, list: Array<{ cid: CID, bytes: Uint8Array }>): Promise<void> => {
        const medium = openTapeMedium({ device: 'vtl-1', library: under.open(dir), pool: on })
        const store = await openPackBlockStore(medium, { packSize: 64 << 10 })
        await copyBlocks(await storeOf(list), store)
        await store.addSet({ id, createdAt: '2026-01-01T00:00:00Z', ...(expiresAt !== undefined ? { expiresAt } : {}), roots: [list[0].cid], blocks: list.map(b => b.cid) })
        medium.closeSet()
      }
      const [a, b, c] = pool(3)
      const old = blocks(6, 50_000)
      const kept = blocks(6, 50_000)
      const mixed = blocks(3, 50_000)
      await run([a], 'old', '2026-02-01T00:00:00Z', old)
      await run([b], 'kept', undefined, kept)
      // C holds an expired set and one in force.
      await run([c], 'c-old', '2026-02-01T00:00:00Z', blocks(3, 50_000))
      await run([c], 'c-kept', undefined, mixed)
      const eod = (barcode: string): number => JSON.parse(readFileSync(join(dir, 'cartridges', `${barcode}.json`), 'utf8')).eod
      const before = { a: eod(a), c: eod(c) }

      const medium = openTapeMedium({ device: 'vtl-1', library: under.open(dir), pool: [a, b, c] })
      const store = await openPackBlockStore(medium)
      const out = await store.expire(new Date('2026-02-02T00:00:00Z'))
      medium.closeSet()
      assert.deepEqual(out.recycled, [a])
      assert.deepEqual(out.sets, ['old'])
      assert.deepEqual(out.kept.map(k => k.set), ['c-old'], 'a set on a cartridge with a set in force stays')
      assert.ok(out.packs > 0 && out.bytes > 300_000, JSON.stringify(out))
      assert.ok(eod(a) <= Math.max(2048, under.recordSize ?? 0) && eod(a) < before.a, 'A holds its label only')
      assert.equal(eod(c), before.c, 'C is untouched')

      // The tapes alone: the old set and its snapshot are gone, the others whole; the next set starts on A.
      const again = openTapeMedium({ device: 'vtl-1', library: under.open(dir), pool: [a, b, c] })
      const after = await openPackBlockStore(again)
      assert.deepEqual((await after.sets()).map(s => s.id).sort(), ['c-kept', 'c-old', 'kept'])
      assert.deepEqual(await after.hasMany(old.map(x => x.cid)), old.map(() => false))
      assert.ok((await after.hasMany([...kept, ...mixed].map(x => x.cid))).every(Boolean))
      assert.ok(!(await after.snapshotRoots()).some(r => r.equals(old[0].cid)))
      assert.equal((await verifyBlocks(after)).bad.length, 0)
      const fresh = blocks(2, 50_000)
      await copyBlocks(await storeOf(fresh), after)
      again.closeSet()
      assert.ok(eod(a) > 100_000, 'the next set is written on the recycled cartridge')
      assert.equal(execFileSync('tar', ['-tf', '-'], { input: readFileSync(join(dir, 'cartridges', `${a}.img`)).subarray(0, 1024) }).toString().trim(), 'CAIRN-LABEL.json')
    } finally {
      removeDir(dir)
    }
  })
}
