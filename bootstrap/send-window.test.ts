// The send window follows the bandwidth-delay product measured from acknowledgements, within
// its floor and ceiling; a fixed window never moves.
import test from 'node:test'
import assert from 'node:assert/strict'
import { MAX_WINDOW_BYTES, MIN_WINDOW_BYTES, SendWindow } from './send-window.ts'

const MIB = 1024 * 1024

/** Acknowledgements of 1 MiB batches arriving at `bytesPerMs`, each `rttMs` after it was sent, for `ms`. */
function feed (w: SendWindow, bytesPerMs: number, rttMs: number, ms: number, start = 0): number {
  let t = start
  for (; t < start + ms; t += MIB / bytesPerMs) w.acked(MIB, rttMs, t)
  return t
}

test('window-limited on a long fat link, the window grows to its ceiling', () => {
  const w = new SendWindow()
  assert.equal(w.bytes, MIN_WINDOW_BYTES)
  // 150 ms round trips, acknowledged at the rate the window allows (8 MiB per RTT): the product is the whole window.
  feed(w, MIN_WINDOW_BYTES / 150, 150, 1000)
  assert.equal(w.bytes, MAX_WINDOW_BYTES)
})

test('on a link whose product is small, or whose rate falls, the window stays at (or returns to) its floor', () => {
  const w = new SendWindow()
  // 150 ms and 200 Mbit/s: a product of 3.75 MB, under the floor.
  feed(w, 25_000, 150, 2000)
  assert.equal(w.bytes, MIN_WINDOW_BYTES)
  const big = new SendWindow()
  const t2 = feed(big, MIN_WINDOW_BYTES / 150, 150, 1000)
  assert.equal(big.bytes, MAX_WINDOW_BYTES)
  feed(big, 10_000, 150, 1000, t2)
  assert.equal(big.bytes, MIN_WINDOW_BYTES, 'back to the floor once the rate fell')
})

test('a fixed window never moves', () => {
  const w = new SendWindow(256 * 1024)
  feed(w, MIN_WINDOW_BYTES / 150, 150, 1000)
  assert.equal(w.bytes, 256 * 1024)
})
