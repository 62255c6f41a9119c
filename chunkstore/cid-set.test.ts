// The mark set of prune and check (cid-set.ts): exact for distinct CIDs, never forgets one
// across growth, and costs a bounded number of bytes per CID (SPEC N4).
import test from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { cidOf } from './index.ts'
import { CidSet } from './cid-set.ts'

const cids = (n: number, tag: number): Uint8Array[] => Array.from({ length: n }, (_, i) => cidOf(Buffer.from(`${tag} ${i}`)).bytes)

test('a CID set holds every CID added, across growth, and nothing else', () => {
  const set = new CidSet()
  const inside = cids(20_000, 1)
  const outside = cids(20_000, 2)
  for (const c of inside) assert.equal(set.add(c), true)
  for (const c of inside) assert.equal(set.add(Uint8Array.from(c)), false, 'a second add of the same CID (another copy of its bytes) finds it')
  assert.equal(set.size, inside.length)
  for (const c of inside) assert.equal(set.has(c), true)
  for (const c of outside) assert.equal(set.has(c), false)
})

test('a CID set costs at most 32 bytes per CID however many it holds (a Set of keys costs ~100)', () => {
  const set = new CidSet()
  for (let i = 0; i < 100_000; i++) set.add(cidOf(randomBytes(8)).bytes)
  assert.equal(set.size, 100_000)
  assert.ok(set.byteLength / set.size <= 32, `${set.byteLength / set.size} bytes per CID`)
  const sized = new CidSet(100_000)
  const before = sized.byteLength
  for (let i = 0; i < 100_000; i++) sized.add(cidOf(randomBytes(8)).bytes)
  assert.equal(sized.byteLength, before, 'sized for what it will hold, it never grows')
})
