// Golden samples of the archive pack and catalogue, version 1 (doc/design.md): a checked-in
// pack and catalogue decode to the blocks they were made of, and the catalogue rebuilt from
// the pack alone equals the stored one.
import test from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { cidOf } from '../../chunkstore/index.ts'
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
