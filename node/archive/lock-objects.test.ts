// The lock object, version 1 (doc/design.md "One writer at a time"): a checked-in sample decodes,
// other versions and shapes are refused, and when a lock stops counting.
import test from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { spawnSync } from 'node:child_process'
import { decodeLockRecord, encodeLockRecord, isStale } from './lock-objects.ts'

const sample = readFileSync(new URL('./testdata/lock-v1.json', import.meta.url))

test('lock object v1: the golden sample decodes and encodes back to the same bytes; other versions and shapes are refused', () => {
  const r = decodeLockRecord(sample)
  assert.deepEqual(r, { version: 1, host: 'backup-01', pid: 31337, purpose: 'archive job weekly-20260105-0200 (j-7f3a)', since: '2026-01-05T02:00:03.114Z', time: '2026-01-05T02:04:03.120Z' })
  assert.deepEqual(Buffer.from(encodeLockRecord(r)), sample)
  const bad = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
  assert.throws(() => decodeLockRecord(bad({ ...r, version: 2 })), { name: 'ArchiveFormatError', message: /version 2/ })
  assert.throws(() => decodeLockRecord(bad({ ...r, time: 'yesterday' })), { name: 'ArchiveFormatError' })
  assert.throws(() => decodeLockRecord(new Uint8Array([0xff, 0xfe])), { name: 'ArchiveFormatError' })
})

test('a lock stops counting once released, not written for the stale time, or left by a gone process of this host', () => {
  const now = Date.parse('2026-01-05T02:10:00Z')
  const r = decodeLockRecord(sample)
  assert.equal(isStale(r, 300_000, now), true, 'six minutes since it was written')
  assert.equal(isStale(r, 600_000, now), false, 'another host\'s lock within the stale time counts, whatever its pid')
  assert.equal(isStale({ ...r, released: true }, 600_000, now), true)
  const gone = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout)
  assert.equal(isStale({ ...r, host: hostname(), pid: gone }, 600_000, now), true)
  assert.equal(isStale({ ...r, host: hostname(), pid: process.pid }, 600_000, now), false, 'this process\'s own')
})
