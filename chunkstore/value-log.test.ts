// The value log with writes on libuv's pool (the main thread's store): every appended byte
// reads back at once — whether its buffer is still in memory, on its way to the file, or
// landed — singly or as one range across buffers, and is in the file once sync resolves.
import test from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { ValueLog } from './value-log.ts'

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
