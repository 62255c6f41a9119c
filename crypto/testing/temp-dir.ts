// One way for every layer's tests to get a scratch folder under the OS temp dir.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** What a node:test context (or suite) offers to run a clean-up when the test ends. */
export interface AfterHook { after: (fn: () => void | Promise<void>) => void }

/**
 * A fresh folder under the OS temp dir. Given a test context, it is removed when that test
 * ends; otherwise the caller removes it (`removeDir`).
 */
export function tempDir (owner?: AfterHook | string, prefix = 'cairn-test-'): string {
  if (typeof owner === 'string') prefix = owner
  const dir = mkdtempSync(join(tmpdir(), prefix))
  if (typeof owner === 'object') owner.after(() => { removeDir(dir) })
  return dir
}

export function removeDir (dir: string): void {
  rmSync(dir, { recursive: true, force: true })
}
