// The value log with writes on libuv's pool (the main thread's store): every appended byte
// reads back at once — whether its buffer is still in memory, on its way to the file, or
// landed — singly or as one range across buffers, and is in the file once sync resolves.
import test from 'node:test'
import assert from 'node:assert/strict'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { SEGMENT_MAGIC, ValueLog } from './value-log.ts'
import type { BlockLocation } from './block-store.ts'

test('appended blocks read back before, while and after their buffers are written, and sync puts them in the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-vlog-'))
  try {
    const log = new ValueLog(dir, undefined, { asyncWrites: true })
    const cid = randomBytes(36)
    // ~12 MiB in blocks that do not divide the 4 MiB buffer: several buffers handed off, blocks on both sides of each boundary.
    const blocks = Array.from({ length: 60 }, (_, i) => randomBytes(150_000 + 977 * i))
    const locs = blocks.map(b => log.append(cid, undefined, b)) // no await: nothing handed off has landed yet
    locs.forEach((l, i) => { assert.ok(log.read(l).equals(blocks[i]), `block ${i} read at once`) })
    const first = locs[0]
    const last = locs[locs.length - 1]
    const range = { segment: first.segment, offset: first.offset, length: last.offset + last.length - first.offset }
    const whole = await log.readRange(range)
    locs.forEach((l, i) => { assert.ok(whole.subarray(l.offset - first.offset, l.offset - first.offset + l.length).equals(blocks[i]), `block ${i} in the range`) })
    await log.sync()
    const file = readFileSync(log.path(first.segment))
    locs.forEach((l, i) => { assert.ok(file.subarray(l.offset, l.offset + l.length).equals(blocks[i]), `block ${i} in the file`) })
    log.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

for (const direct of [false, true]) {
  test(`${direct ? 'direct' : 'buffered'} writes: small appends read back between drains and syncs; the closed segment is exactly its records`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-vlog-'))
    try {
      const log = new ValueLog(dir, undefined, { asyncWrites: true, directWrites: direct })
      const cid = randomBytes(36)
      // ~10 MiB: several full buffers handed to the pool between the drains.
      const blocks = Array.from({ length: 400 }, (_, i) => randomBytes(i % 7 === 0 ? 170_000 + i : 1 + ((i * 389) % 5000)))
      const locs: BlockLocation[] = []
      for (const [i, b] of blocks.entries()) {
        locs.push(log.append(cid, i % 3 === 0 ? randomBytes(32) : undefined, b))
        // The temp folder's file system takes O_DIRECT (ext4 here; a refusal is the next test's).
        if (i === 0) assert.equal(log.directIO, direct)
        // Reads of the newest block force a drain: a partial page is written and written again later.
        if (i % 5 === 0) assert.ok(log.read(locs[i]).equals(b), `block ${i} read at once`)
        if (i % 97 === 0) await log.sync()
      }
      locs.forEach((l, i) => { assert.ok(log.read(l).equals(blocks[i]), `block ${i} read back`) })
      await log.sync()
      await log.settle()
      const seg = locs[0].segment
      const end = locs[locs.length - 1].offset + locs[locs.length - 1].length
      log.close()
      const file = readFileSync(log.path(seg))
      assert.equal(file.length, end, 'no padding left after close')
      assert.ok(file.subarray(0, 8).equals(SEGMENT_MAGIC))
      locs.forEach((l, i) => { assert.ok(file.subarray(l.offset, l.offset + l.length).equals(blocks[i]), `block ${i} in the file`) })
      // The records parse back to the same locations (what recovery relies on).
      const again = new ValueLog(dir)
      const { records, end: scanned } = again.scan(seg, 0)
      assert.equal(scanned, end)
      assert.deepEqual(records.map(r => r.location), locs)
      again.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
}

test('a file system that refuses O_DIRECT gets writes through the page cache', async () => {
  // Every file system on this machine (ext4, tmpfs on Linux 6.6+) takes O_DIRECT, so the refusal
  // is played by the opener: it opens the file as the kernel would and answers EINVAL as FUSE does.
  const dir = mkdtempSync(join(tmpdir(), 'cairn-vlog-'))
  try {
    let refused = 0
    const openDirect = (path: string): number => {
      const fd = openSync(path, 'wx')
      closeSync(fd)
      refused++
      throw Object.assign(new Error(`EINVAL: invalid argument, open '${path}'`), { code: 'EINVAL' })
    }
    const log = new ValueLog(dir, undefined, { asyncWrites: true, directWrites: true, openDirect })
    const blocks = Array.from({ length: 30 }, (_, i) => randomBytes(300_000 + i))
    const locs = blocks.map(b => log.append(randomBytes(36), undefined, b))
    assert.equal(refused, 1)
    assert.equal(log.directIO, false)
    locs.forEach((l, i) => { assert.ok(log.read(l).equals(blocks[i]), `block ${i} read back`) })
    await log.sync()
    await log.settle()
    log.close()
    const file = readFileSync(log.path(locs[0].segment))
    locs.forEach((l, i) => { assert.ok(file.subarray(l.offset, l.offset + l.length).equals(blocks[i]), `block ${i} in the file`) })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
