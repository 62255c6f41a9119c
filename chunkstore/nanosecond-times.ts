import { spawnSync } from 'node:child_process'
import type { FsPath } from './file-name.ts'

/**
 * Sets modification (and access) times to the nanosecond. Node's fs.utimes family goes through
 * libuv, which takes a double (a few hundred nanoseconds off for today's times) and, in the
 * libuv of Node 20, cuts it to whole microseconds; so restore sets times there first (exact to
 * the microsecond on Node 20, tree-node.ts `fsTime`) and then hands every entry to one perl
 * process, which calls
 * utimensat(2) directly: perl is part of every Debian system (perl-base, Essential), and this
 * is the one way from Node 20 to that system call without a native module of our own. Where
 * perl or the system call number is missing (not Linux x64/arm64), times stay exact to the
 * microsecond (Node 20) or within a microsecond (later). Returns how many entries could not be
 * set that way.
 */
export function setNanosecondTimes (entries: Array<{ path: FsPath, ns: bigint, symlink: boolean }>): number {
  // Every entry, not only those with nanoseconds below the microsecond: libuv before 1.4x
  // (Node 20) cuts to the microsecond, but later ones (Node 24) take the double as it is, which
  // is a few hundred nanoseconds off for today's times.
  const todo = entries
  if (todo.length === 0) return 0
  const nr = UTIMENSAT[process.arch]
  if (process.platform !== 'linux' || nr === undefined) return todo.length
  const parts: Buffer[] = []
  for (const e of todo) {
    let sec = e.ns / 1_000_000_000n
    let nsec = e.ns % 1_000_000_000n
    if (nsec < 0n) { sec -= 1n; nsec += 1_000_000_000n }
    parts.push(typeof e.path === 'string' ? Buffer.from(e.path) : e.path, NUL, Buffer.from(`${sec}\0${nsec}\0${e.symlink ? 1 : 0}\0`))
  }
  const r = spawnSync('perl', ['-e', SCRIPT, String(nr)], { input: Buffer.concat(parts), maxBuffer: 64 << 20 })
  if (r.error !== undefined || r.status !== 0) return todo.length
  return r.stdout.length === 0 ? 0 : r.stdout.toString('latin1').split('\n').filter(Boolean).length
}

const NUL = Buffer.of(0)

/** utimensat's system call number per architecture (x86_64: 280; the generic table of arm64: 88). */
const UTIMENSAT: Record<string, number | undefined> = { x64: 280, arm64: 88 }

// Reads NUL-separated records (path, seconds, nanoseconds, symlink flag) and sets both times of
// each with utimensat(AT_FDCWD, path, times, symlink ? AT_SYMLINK_NOFOLLOW : 0); prints a line
// per failure. `struct timespec[2]` is four 64-bit integers on both architectures.
const SCRIPT = `
my $nr = $ARGV[0]; $/ = "\\0";
while (defined(my $p = <STDIN>)) {
  chomp $p; my $s = <STDIN>; chomp $s; my $n = <STDIN>; chomp $n; my $l = <STDIN>; chomp $l;
  my $ts = pack("q4", $s, $n, $s, $n);
  if (syscall($nr, -100, $p, $ts, $l ? 0x100 : 0) != 0) { print "$!\\n"; }
}
`
