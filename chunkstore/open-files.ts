// Files other programs hold open for writing (the manual's "exclusive file" option, 独占档):
// without it a backup skips them, as the seed product does, because their bytes may be
// half-written. Linux only: every process's /proc/PID/fdinfo flags say how a descriptor was
// opened, and a stat through /proc/PID/fd/N names the file. A process this user may not
// inspect is passed over, so run the node as root to see every program's files.
import { readdir, readFile, stat } from 'node:fs/promises'

const O_ACCMODE = 0o3
const O_RDONLY = 0

/** A file as `${dev}:${ino}`, the key `openForWriting` returns. */
export function fileKey (dev: bigint | number, ino: bigint | number): string {
  return `${dev}:${ino}`
}

/**
 * Regular files open for writing by processes other than this one, keyed by device and inode,
 * with one PID that holds each. Empty where /proc is absent. A snapshot: files opened later
 * are not seen (those are caught as "changed while it was being read").
 */
export async function openForWriting (self = process.pid): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  let pids: string[]
  try { pids = (await readdir('/proc')).filter(n => /^\d+$/.test(n) && Number(n) !== self) } catch { return out }
  // Processes are read side by side; one that ends or is not ours to inspect is passed over.
  await Promise.all(pids.map(async pid => {
    let fds: string[]
    try { fds = await readdir(`/proc/${pid}/fd`) } catch { return }
    for (const fd of fds) {
      try {
        const m = /^flags:\s*([0-7]+)/m.exec(await readFile(`/proc/${pid}/fdinfo/${fd}`, 'latin1'))
        if (m === null || (parseInt(m[1], 8) & O_ACCMODE) === O_RDONLY) continue
        const st = await stat(`/proc/${pid}/fd/${fd}`, { bigint: true })
        if (st.isFile()) out.set(fileKey(st.dev, st.ino), Number(pid))
      } catch {}
    }
  }))
  return out
}
