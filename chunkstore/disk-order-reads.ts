import { CID } from 'multiformats/cid'
import { BLOCK_CID_LENGTH, type BlockLocation, type LocatedBlocks } from './block-store.ts'
import { CorruptBlockError } from './errors.ts'
import { throwIfAborted } from '../crypto/index.ts'
import { alignedBuffer, alignedRoom, type ValueLog } from './value-log.ts'

/** What a store read that was stopped is called in its OperationAbortedError. */
export const READING = 'A read of the store'
/** Neighbouring blocks are read together up to this many bytes (a larger block is one span) … */
const SPAN_BYTES = 4 << 20
/** … skipping at most this many unwanted bytes between two of them. */
const SPAN_GAP = 16 << 10
/** Reads at least this long go to libuv's pool; shorter ones are done on the spot. */
const ASYNC_READ = 64 << 10
/** Bytes (and reads) in flight ahead of the caller. */
const AHEAD_BYTES = 8 << 20
const MAX_AHEAD = 16

export interface DiskOrderReadComponents {
  log: ValueLog
  /** Buffers for transient reads, reused from one read to the next (aligned for O_DIRECT). */
  buffers: Buffer[]
  /** Told each block's CID as it is handed out (prune keeps what is read while it runs). */
  onRead?: (cid: Uint8Array) => void
}

/** One read: entries order[from..to) of the blocks, lying in `range`. */
interface Span { range: BlockLocation, from: number, to: number }

/**
 * The blocks of `b`, sorted by segment and offset, neighbours merged into reads of up to
 * SPAN_BYTES (skipping at most SPAN_GAP between two). Large reads run on libuv's pool, several
 * at once and up to AHEAD_BYTES ahead of the caller, so the event loop keeps serving the
 * network; small ones are read at once (a thread hop costs more than the copy). Spans are
 * planned as they are read, so no object per block outlives its read. With `transient`, a
 * block's bytes are valid only until the caller asks for the next one (see LocalBlockStore.getMany).
 */
export async function * readInDiskOrder (c: DiskOrderReadComponents, b: LocatedBlocks, transient: boolean, signal?: AbortSignal): AsyncGenerator<{ index: number, bytes: Uint8Array }> {
  const order = new Uint32Array(b.count)
  for (let i = 0; i < b.count; i++) order[i] = i
  order.sort((x, y) => (b.segments[x] - b.segments[y]) || (b.offsets[x] - b.offsets[y]))
  const cidAt = (i: number): Uint8Array => b.cids.subarray(i * BLOCK_CID_LENGTH, (i + 1) * BLOCK_CID_LENGTH)
  let planned = 0
  // The next read: blocks order[from..to) of one segment, from `offset`, `length` bytes.
  const plan = (): Span | undefined => {
    if (planned >= order.length) return undefined
    const first = order[planned]
    const segment = b.segments[first]
    const offset = b.offsets[first]
    let end = offset + b.lengths[first]
    let to = planned + 1
    for (; to < order.length; to++) {
      const i = order[to]
      const at = b.offsets[i]
      if (b.segments[i] !== segment || at < end || at - end > SPAN_GAP || at + b.lengths[i] - offset > SPAN_BYTES) break
      end = at + b.lengths[i]
    }
    const span = { range: { segment, offset, length: end - offset }, from: planned, to }
    planned = to
    return span
  }
  const readSpan = async (span: Span): Promise<{ bytes: Buffer, buffer?: Buffer }> => {
    const { range } = span
    let buffer: Buffer | undefined
    try {
      if (range.length < ASYNC_READ) return { bytes: c.log.read(range) }
      if (!transient || alignedRoom(range.length) > alignedRoom(SPAN_BYTES)) return { bytes: await c.log.readRange(range) }
      buffer = c.buffers.pop() ?? alignedBuffer(alignedRoom(SPAN_BYTES))
      return { bytes: await c.log.readRangeInto(range, buffer), buffer }
    } catch (err) {
      if (buffer !== undefined) c.buffers.push(buffer)
      throw new CorruptBlockError(CID.decode(cidAt(order[span.from])).toString(), (err as Error).message, { cause: err })
    }
  }
  const reads: Array<{ span: Span, read: Promise<{ bytes: Buffer, buffer?: Buffer }> }> = []
  let aheadNow = 0
  try {
    for (;;) {
      while (reads.length === 0 || (aheadNow < AHEAD_BYTES && reads.length < MAX_AHEAD)) {
        const span = plan()
        if (span === undefined) break
        const read = readSpan(span)
        read.catch(() => {}) // awaited below; a failure while the caller is busy must not go unhandled
        reads.push({ span, read })
        aheadNow += span.range.length
      }
      const next = reads.shift()
      if (next === undefined) break
      const { bytes: buf, buffer } = await next.read
      aheadNow -= next.span.range.length
      const base = next.span.range.offset
      for (let k = next.span.from; k < next.span.to; k++) {
        throwIfAborted(signal, READING)
        const i = order[k]
        c.onRead?.(cidAt(i))
        const at = b.offsets[i] - base
        yield { index: i, bytes: buf.subarray(at, at + b.lengths[i]) }
      }
      if (buffer !== undefined) c.buffers.push(buffer)
    }
  } finally {
    // Reads still on their way (the caller stopped early) give their buffers back when they land.
    for (const { read } of reads) void read.then(({ buffer }) => { if (buffer !== undefined) c.buffers.push(buffer) }, () => {})
  }
}
