import { open } from 'node:fs/promises'
import { CID } from 'multiformats/cid'
import { throwIfAborted, type AbortOptions } from '../crypto/index.ts'
import { matchesCid } from './codec.ts'

/** Bytes read at once: blocks are checked span by span, not read one by one. */
const SPAN = 16 << 20

/**
 * Checks the blocks a segment file holds, as a list of entries (binary CID, offset of the
 * block's bytes, length) says, against their CIDs: sha2-256 of each block's bytes, read from
 * the file in spans of up to 16 MiB in offset order. Returns, per entry, whether it matched;
 * bytes past the file's end do not.
 */
export async function checkSegmentFile (path: string, entries: ReadonlyArray<{ cid: Uint8Array, offset: number, length: number }>, options?: AbortOptions): Promise<boolean[]> {
  const ok = new Array<boolean>(entries.length).fill(false)
  const order = entries.map((_, i) => i).sort((a, b) => entries[a].offset - entries[b].offset)
  const fh = await open(path, 'r')
  let buffer = Buffer.allocUnsafe(0)
  try {
    for (let at = 0; at < order.length;) {
      throwIfAborted(options?.signal, `Checking the blocks of ${path}`)
      const start = entries[order[at]].offset
      let end = start + entries[order[at]].length
      let next = at + 1
      while (next < order.length && entries[order[next]].offset + entries[order[next]].length - start <= SPAN) {
        end = Math.max(end, entries[order[next]].offset + entries[order[next]].length)
        next++
      }
      if (buffer.length < end - start) buffer = Buffer.allocUnsafe(Math.max(end - start, SPAN))
      let got = 0
      for (let n = -1; got < end - start && n !== 0; got += n) n = (await fh.read(buffer, got, end - start - got, start + got)).bytesRead
      for (; at < next; at++) {
        const e = entries[order[at]]
        const from = e.offset - start
        if (from + e.length > got) continue
        try { ok[order[at]] = matchesCid(CID.decode(e.cid), buffer.subarray(from, from + e.length)) } catch {}
      }
    }
  } finally {
    await fh.close()
  }
  return ok
}
