import { copyFileSync, linkSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { diskFullAt } from './errors.ts'

/**
 * The private copy of the index a read-only open works on (LevelDB writes on every open, so
 * the store's own index is never opened read-only), removed at close.
 */
export interface IndexCopy { dir: string, remove: () => void }

const VIEW_PREFIX = 'cairn-index-view-'

/**
 * Copies the index into a fresh folder under the OS temp dir: hard links where it is the same
 * file system (LevelDB never writes into a file it already wrote, so the store's files stay as
 * they are; LOCK is the same file too, so the lock still keeps writers out), else copies.
 */
export function privateIndexCopy (indexDir: string, hasIndex: boolean): IndexCopy {
  removeStaleCopies()
  const dir = mkdtempSync(join(tmpdir(), `${VIEW_PREFIX}${process.pid}-`))
  const remove = (): void => { rmSync(dir, { recursive: true, force: true }) }
  try {
    if (hasIndex) {
      for (const name of readdirSync(indexDir)) {
        if (name === 'LOG' || name === 'LOG.old') continue
        const from = join(indexDir, name)
        try { linkSync(from, join(dir, name)) } catch { copyFileSync(from, join(dir, name)) }
      }
    }
  } catch (err) {
    remove()
    throw diskFullAt(err, `${tmpdir()} (a private copy of the index for a read-only command)`)
  }
  return { dir, remove }
}

/**
 * Removes the private index copies of read-only commands that were killed (their process is
 * gone): they hold hard links to index files the store may since have dropped, so they would
 * keep that space in use.
 */
function removeStaleCopies (): void {
  let names: string[]
  try { names = readdirSync(tmpdir()) } catch { return }
  for (const name of names) {
    const m = new RegExp(`^${VIEW_PREFIX}(\\d+)-`).exec(name)
    if (m === null || Number(m[1]) === process.pid) continue
    try { process.kill(Number(m[1]), 0); continue } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'ESRCH') continue }
    rmSync(join(tmpdir(), name), { recursive: true, force: true })
  }
}
