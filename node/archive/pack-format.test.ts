// Golden samples of the archive pack and catalogue, version 1 (doc/design.md): a checked-in
// pack and catalogue decode to the blocks they were made of, and the catalogue rebuilt from
// the pack alone equals the stored one. A pack that is a store segment copied whole (issue 16)
// rebuilds its entries from the segment's records.
import test from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { cidOf, LocalBlockStore } from '../../chunkstore/index.ts'
import { removeDir, tempDir } from '../../chunkstore/testing/index.ts'
import { decodeCatalogue, encodeCatalogue, scanPack } from './pack-format.ts'

const sample = (name: string): Buffer => readFileSync(new URL(`./testdata/${name}`, import.meta.url))

test('pack and catalogue v1: the golden samples decode, and the pack alone rebuilds the catalogue', () => {
  const pack = sample('pack-v1.pack')
  const cat = decodeCatalogue(sample('pack-v1.cat'))
  assert.equal(cat.seq, 3)
  assert.equal(cat.packLength, pack.length)
  const want = [Buffer.from('sealed block one'), Buffer.alloc(300, 7)]
  assert.deepEqual(cat.entries.map(e => pack.subarray(e.offset, e.offset + e.length)), want)
  assert.deepEqual(cat.entries.map(e => Buffer.from(e.cid)), want.map(b => Buffer.from(cidOf(b).bytes)))
  assert.deepEqual(scanPack(pack), cat.entries)
  assert.deepEqual(encodeCatalogue({ seq: 3, packLength: pack.length, entries: scanPack(pack) }), sample('pack-v1.cat'))
})

test('a damaged catalogue or a cut-off pack is refused, not half read', () => {
  const cat = Buffer.from(sample('pack-v1.cat')); cat[40] ^= 1
  assert.throws(() => decodeCatalogue(cat), /checksum/)
  assert.throws(() => scanPack(sample('pack-v1.pack').subarray(0, 60)), /cut off/)
  assert.throws(() => scanPack(Buffer.from('not a pack at all')), /magic/)
})

test('a store segment as a pack: its records rebuild the entries; cut off, it is refused', async () => {
  const dir = tempDir('cairn-pack-segment-')
  try {
    const store = await LocalBlockStore.open(join(dir, 'index'), join(dir, 'segments'))
    const blocks = [Buffer.from('sealed block one'), Buffer.alloc(70_000, 9)]
    for (const b of blocks) await store.put(cidOf(b), b)
    await store.flush()
    await store.close()
    const [name] = readdirSync(join(dir, 'segments'))
    const segment = readFileSync(join(dir, 'segments', name))
    const entries = scanPack(segment)
    assert.deepEqual(entries.map(e => segment.subarray(e.offset, e.offset + e.length)), blocks)
    assert.deepEqual(entries.map(e => Buffer.from(e.cid)), blocks.map(b => Buffer.from(cidOf(b).bytes)))
    assert.throws(() => scanPack(segment.subarray(0, segment.length - 1)), /cut off/)
  } finally { removeDir(dir) }
})
