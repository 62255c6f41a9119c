import { lstat, readlink, readFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import type { Repository, TreeEntry } from '../../chunkstore/index.ts'
import { throwIfAborted } from '../../crypto/index.ts'

export interface DrillComparison {
  entries: number
  bytes: number
  mismatches: string[]
}

/** Where `cairn restore` puts a snapshot path below `target`. */
export const restoredPath = (target: string, entryPath: string): string => join(target, entryPath)

/**
 * Compares a restored tree with the snapshot's own listing: every entry present with its type,
 * size and link target. Together with `check({ readData: true })` — every block decrypts and
 * matches its CID — this shows the copy can really be brought back (F8).
 */
export async function compareRestore (repo: Repository, snapshot: string, target: string, signal?: AbortSignal): Promise<DrillComparison> {
  const out: DrillComparison = { entries: 0, bytes: 0, mismatches: [] }
  for await (const e of repo.ls(snapshot)) {
    throwIfAborted(signal, 'The drill')
    out.entries++
    const problem = await compareEntry(e, restoredPath(target, e.path))
    if (problem !== undefined) out.mismatches.push(`${e.path}: ${problem}`)
    else if (e.type === 'file') out.bytes += e.size
    if (out.mismatches.length >= 100) break
  }
  return out
}

async function compareEntry (e: TreeEntry, p: string): Promise<string | undefined> {
  let st
  try { st = await lstat(p) } catch { return 'missing after restore' }
  if (e.type === 'dir') return st.isDirectory() ? undefined : 'not a directory'
  if (e.type === 'symlink') {
    if (!st.isSymbolicLink()) return 'not a symlink'
    return (await readlink(p)) === e.target ? undefined : 'link target differs'
  }
  if (!st.isFile()) return 'not a file'
  if (st.size !== e.size) return `size ${st.size}, snapshot says ${e.size}`
  return undefined
}

export async function sha256File (p: string): Promise<string> {
  return createHash('sha256').update(await readFile(p)).digest('hex')
}
