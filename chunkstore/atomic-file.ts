import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs'

/**
 * Writes a small file so that readers see either the old contents or the new, never a part:
 * into `PATH.tmp-PID` (created with `mode`), synced, then renamed over PATH. Every config, key
 * file, marker and mesh state file of Cairn is written this way.
 */
export function writeFileAtomic (path: string, data: string | Uint8Array, mode = 0o600): void {
  const tmp = `${path}.tmp-${process.pid}`
  const fd = openSync(tmp, 'w', mode)
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
}
