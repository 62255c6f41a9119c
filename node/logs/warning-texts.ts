// The sentences chunkstore reports as data — the per-file warnings of a backup or restore
// (BackupStats.warnings, kept in snapshot records as they are, and RestoreResult.warnings), a
// check's errors (CheckResult.errors) and a drill's mismatches (drill.ts) — as LogTexts, so the
// console words them in the user's language. Each pattern is one sentence the code writes;
// console/i18n.test.ts reads chunkstore's sources and fails on a warning sentence no pattern here
// matches. A path comes first and may hold anything, so patterns anchor on the end.
import { said, type LogText } from './log-book.ts'

const PATTERNS: Array<[code: string, pattern: RegExp]> = [
  ['WARN_PARENT_DIR_UNREADABLE', /^a directory of the parent snapshot cannot be read \((?<reason>.*)\); its files are read again$/s],
  ['WARN_CANNOT_LIST', /^(?<path>.*): cannot list \((?<reason>.*)\); backed up as empty$/s],
  ['WARN_VANISHED', /^(?<path>.*): vanished before it could be read; not in this snapshot$/s],
  ['WARN_OPEN_FOR_WRITING', /^(?<path>.*): open for writing by another program \(pid (?<pid>.*)\); skipped \(exclusive-file mode backs it up\)$/s],
  ['WARN_SPECIAL_FILE', /^(?<path>.*): skipped \(sockets, FIFOs and device files are not backed up\)$/s],
  ['WARN_UNREADABLE', /^(?<path>.*): cannot be read \((?<reason>.*)\); not in this snapshot$/s],
  ['WARN_CHANGED_WHILE_READ', /^(?<path>.*): changed while it was being read; the snapshot holds the bytes as read$/s],
  ['WARN_READ_FAILED', /^(?<path>.*): read failed \((?<reason>.*)\); not in this snapshot$/s],
  ['WARN_XATTRS_NOT_BACKED_UP', /^(?<path>.*): extended attributes not backed up \((?<reason>.*)\)$/s],
  ['WARN_XATTRS_LOST', /^(?<path>.*): extended attributes not backed up: (?<names>.*)$/s],
  ['WARN_IMAGE_CRASH_CONSISTENT', /^(?<device>.*) is mounted read-write: the image is crash-consistent \(as after a power loss\), as asked$/s],
  ['WARN_PARTITION_TABLE_NOT_TAKEN', /^the kernel did not take the restored partition table of (?<target>.*) \(partx: (?<reason>.*)\); run "partx -u .*" or reattach it$/s],
  ['WARN_SPECIAL_NOT_RESTORED', /^(?<path>.*) is a device, socket or pipe: not restored$/s],
  ['WARN_TIMES_MICROSECONDS', /^(?<n>\d+|x) entries have their times set to the microsecond only \(nanoseconds need perl's utimensat on Linux\)$/s],
  ['WARN_METADATA_NOT_RESTORED', /^(?<path>.*): metadata not restored \((?<reason>.*)\)$/s],
  ['WARN_XATTR_NOT_RESTORED', /^(?<path>.*): extended attribute (?<name>.*) not restored \((?<reason>.*)\)$/s]
]

const CHECK_PATTERNS: Array<[code: string, pattern: RegExp]> = [
  ['CHECK_BLOCK_MISSING', /^(?<where>.*): block (?<cid>\S+) is missing$/s],
  ['CHECK_BLOCK_BEYOND_SEGMENT', /^(?<where>.*): block (?<cid>\S+) lies beyond the end of segment (?<segment>\S+)$/s],
  ['CHECK_NODE_MISMATCH', /^(?<where>.*): tree node (?<cid>\S+): bytes do not match its address$/s],
  ['CHECK_NODE_UNREADABLE', /^(?<where>.*): tree node (?<cid>\S+): (?<reason>.*)$/s],
  ['CHECK_BLOCK_MISMATCH', /^(?<where>.*): bytes do not match its address$/s],
  ['CHECK_BLOCK_SIZE', /^(?<where>.*): (?<got>\d+) bytes, expected (?<expected>\d+)$/s],
  ['CHECK_BLOCK_UNREADABLE', /^(?<where>.*): (?<reason>.*)$/s]
]

const MISMATCH_PATTERNS: Array<[code: string, pattern: RegExp]> = [
  ['DRILL_MISSING', /^(?<path>.*): missing after restore$/s],
  ['DRILL_NOT_DIR', /^(?<path>.*): not a directory$/s],
  ['DRILL_NOT_SYMLINK', /^(?<path>.*): not a symlink$/s],
  ['DRILL_LINK_DIFFERS', /^(?<path>.*): link target differs$/s],
  ['DRILL_NOT_FILE', /^(?<path>.*): not a file$/s],
  ['DRILL_SIZE_DIFFERS', /^(?<path>.*): size (?<got>\d+), snapshot says (?<expected>\d+)$/s]
]

function matched (patterns: Array<[string, RegExp]>, message: string, otherwise: string): LogText {
  for (const [code, pattern] of patterns) {
    const m = pattern.exec(message)
    if (m !== null) return said(code, { ...m.groups })
  }
  return said(otherwise, { message })
}

/** A warning sentence of chunkstore as a code and its parts; one no pattern knows (from an older node) is said as it is. */
export const warningSaid = (message: string): LogText => matched(PATTERNS, message, 'WARNING_AS_WRITTEN')
/** A check's error line (chunkstore/checker.ts, the data workers' verify) as a code and its parts. */
export const checkErrorSaid = (message: string): LogText => matched(CHECK_PATTERNS, message, 'CHECK_ERROR_AS_WRITTEN')
/** A drill's mismatch (node/jobs/drill.ts) as a code and its parts. */
export const mismatchSaid = (message: string): LogText => matched(MISMATCH_PATTERNS, message, 'DRILL_MISMATCH_AS_WRITTEN')
