import { createHash } from 'node:crypto'
import { lstatSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { HolderSocketFolderError } from './errors.ts'

/** The holder's socket inside the store folder (doc/design.md, "One store, many clients"). */
export const HOLDER_SOCKET = 'holder.sock'
/** Unix socket paths are at most 107 bytes on Linux; keep a margin. */
const MAX_SOCKET_PATH = 100

/**
 * Where the holder of the store at `storeDir` listens: `<store>/holder.sock`, or, when that
 * path is too long for a Unix socket, a file named by the store path's hash in a folder of
 * the user's own under the temp dir (mode 0700, checked to be ours).
 */
export function holderSocketPath (storeDir: string): string {
  const dir = resolve(storeDir)
  const inStore = join(dir, HOLDER_SOCKET)
  if (Buffer.byteLength(inStore) <= MAX_SOCKET_PATH) return inStore
  const hash = createHash('sha256').update(dir).digest('hex').slice(0, 32)
  return join(tmpdir(), `cairn-holders-${process.getuid?.() ?? 'user'}`, `${hash}.sock`)
}

/** Makes the socket's folder when it is not the store's, and refuses one that is not ours alone. */
export function socketFolderReady (socket: string, storeDir: string): void {
  const dir = dirname(socket)
  if (dir === resolve(storeDir)) return
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  checkSocketFolder(dir)
}

/** A fallback socket folder must be a real folder, ours, and closed to others (else someone could plant a socket). */
export function checkSocketFolder (dir: string): void {
  const st = lstatSync(dir)
  if (!st.isDirectory()) throw new HolderSocketFolderError(dir, 'is not a folder')
  if (process.getuid !== undefined && st.uid !== process.getuid()) throw new HolderSocketFolderError(dir, 'belongs to another user')
  if ((st.mode & 0o077) !== 0) throw new HolderSocketFolderError(dir, 'is open to other users')
}
