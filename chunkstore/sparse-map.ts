import { spawnSync } from 'node:child_process'
import { readSync } from 'node:fs'
import type { FsPath } from './file-name.ts'

/**
 * Where a sparse file holds data, so that a backup reads only that and takes the holes as
 * zeros without reading them (a 10 GiB file with 1 MiB of data is 1 MiB of reading). Node has
 * no lseek, so the map comes from one perl process per sparse file, which walks the file with
 * lseek(SEEK_DATA / SEEK_HOLE): perl is part of every Debian system (perl-base, Essential).
 * Without perl, or on a file system that reports no holes, the file is read whole, as before.
 */
export class SparseMap {
  /** Zeros taken from holes instead of being read. */
  holeBytes = 0
  private cursor = 0

  private constructor (private readonly data: Array<[number, number]>, private readonly size: number) {}

  /** The map of `path` (`size` bytes), or undefined when it cannot be had. */
  static of (path: FsPath, size: number): SparseMap | undefined {
    if (process.platform !== 'linux') return undefined
    const r = spawnSync('perl', ['-e', SCRIPT], { input: typeof path === 'string' ? Buffer.from(path) : path, maxBuffer: 64 << 20 })
    if (r.error !== undefined || r.status !== 0) return undefined
    const data: Array<[number, number]> = []
    for (const line of r.stdout.toString('latin1').split('\n')) {
      const m = /^(\d+) (\d+)$/.exec(line)
      if (m !== null) data.push([Number(m[1]), Math.min(Number(m[2]), size)])
    }
    return new SparseMap(data, size)
  }

  /** Is [from, from + length) all hole (and within the file)? Asked with `from` never decreasing. */
  isHole (from: number, length: number): boolean {
    if (from + length > this.size) return false
    while (this.cursor < this.data.length && this.data[this.cursor][1] <= from) this.cursor++
    const next = this.data[this.cursor]
    return next === undefined || next[0] >= from + length
  }

  /** readSync at `position`, with the holes filled with zeros instead of read. */
  read (fd: number, buf: Buffer, at: number, length: number, position: number): number {
    if (position >= this.size) return readSync(fd, buf, at, length, position) // grown meanwhile: read on
    const end = Math.min(position + length, this.size)
    let pos = position
    for (const [s, e] of this.data) {
      if (e <= pos) continue
      if (s >= end) break
      if (s > pos) { buf.fill(0, at + pos - position, at + s - position); this.holeBytes += s - pos; pos = s }
      const stop = Math.min(e, end)
      while (pos < stop) {
        const n = readSync(fd, buf, at + pos - position, stop - pos, pos)
        if (n === 0) return pos - position // shorter than it was: the file changed
        pos += n
      }
    }
    if (pos < end) { buf.fill(0, at + pos - position, at + end - position); this.holeBytes += end - pos; pos = end }
    return pos - position
  }
}

// Prints "start end" for each data region of the file named on stdin (SEEK_DATA = 3,
// SEEK_HOLE = 4 on Linux); sysseek fails with ENXIO (6) past the last data, and any other
// failure makes the map unusable (exit 3: the file is read whole).
const SCRIPT = `
local $/; my $p = <STDIN>;
open(my $f, '<', $p) or exit 2;
my $size = -s $f; my $pos = 0;
while ($pos < $size) {
  my $d = sysseek($f, $pos, 3);
  if (!defined $d) { exit 3 if ($! + 0) != 6; last; }
  my $h = sysseek($f, $d, 4); exit 3 unless defined $h;
  print(($d + 0) . " " . ($h + 0) . "\\n"); $pos = $h;
}
`
