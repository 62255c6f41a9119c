// Checking a restore against its source: contents byte for byte (GNU diff), and file
// metadata (type, permission bits, mtime, symlink target) by walking both trees.
// Not timed: it is the harness's own work, not the tool's.
import { lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs'
import { join } from 'node:path'
import { runRaw, tail } from './command.ts'

export interface RestoreVerdict {
  /** Every file, symlink and folder present on both sides with identical contents. */
  identical: boolean
  /** First lines of `diff -rq` when not identical. */
  differences: string
  /** Entries whose type, mode, mtime or link target differ (contents aside). */
  metadataMismatches: number
  metadataExamples: string[]
}

export async function verifyRestore (source: string, restored: string): Promise<RestoreVerdict> {
  const diff = await runRaw({ argv: ['diff', '-rq', '--no-dereference', source, restored] })
  const meta = compareMetadata(source, restored)
  return {
    identical: diff.code === 0,
    differences: diff.code === 0 ? '' : tail(diff.stdout + diff.stderr, 10),
    metadataMismatches: meta.count,
    metadataExamples: meta.examples
  }
}

function compareMetadata (source: string, restored: string): { count: number, examples: string[] } {
  let count = 0
  const examples: string[] = []
  const note = (rel: string, what: string): void => {
    count++
    if (examples.length < 5) examples.push(`${rel}: ${what}`)
  }
  const visit = (rel: string): void => {
    const a = lstatSync(join(source, rel))
    let b: Stats
    try {
      b = lstatSync(join(restored, rel))
    } catch {
      note(rel, 'missing')
      return
    }
    if (kind(a) !== kind(b)) {
      note(rel, `${kind(a)} restored as ${kind(b)}`)
      return
    }
    if (a.isSymbolicLink()) {
      if (readlinkSync(join(source, rel)) !== readlinkSync(join(restored, rel))) note(rel, 'symlink target')
      return
    }
    if ((a.mode & 0o7777) !== (b.mode & 0o7777)) note(rel, `mode ${(a.mode & 0o7777).toString(8)} restored as ${(b.mode & 0o7777).toString(8)}`)
    // folders' mtimes change as their entries are restored; tools reset them last, so they count too
    if (Math.floor(a.mtimeMs / 1000) !== Math.floor(b.mtimeMs / 1000)) note(rel, 'mtime')
    if (a.isDirectory()) {
      for (const name of readdirSync(join(source, rel)).sort()) visit(rel === '' ? name : join(rel, name))
    }
  }
  visit('')
  return { count, examples }
}

function kind (s: Stats): string {
  return s.isFile() ? 'file' : s.isDirectory() ? 'folder' : s.isSymbolicLink() ? 'symlink' : 'special'
}
