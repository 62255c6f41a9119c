import { sep } from 'node:path'

/**
 * File names are bytes on Linux. A path stays a string while every component is valid UTF-8
 * and becomes a Buffer otherwise, so a name like 0xE9 survives backup and restore exactly.
 * In a tree node such a name is stored as NUL + base64url(bytes): real names cannot contain
 * NUL, so it cannot collide with one.
 */
export type FsPath = string | Buffer

const ESCAPE = '\u0000'

/** The tree-node name for a directory entry's raw bytes. */
export function nodeName (raw: Buffer): string {
  const s = raw.toString('utf8')
  return Buffer.from(s, 'utf8').equals(raw) ? s : ESCAPE + raw.toString('base64url')
}

/** The raw bytes of a tree-node name. */
export function rawName (name: string): Buffer {
  return name.startsWith(ESCAPE) ? Buffer.from(name.slice(1), 'base64url') : Buffer.from(name, 'utf8')
}

/** A readable form of a tree-node name (escaped bytes as \xNN). */
export function displayName (name: string): string {
  if (!name.startsWith(ESCAPE)) return name
  return [...rawName(name)].map(b => b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`).join('')
}

/** Bytes as text when they are UTF-8, else with \xNN escapes (a symlink target in a listing). */
export function displayBytes (raw: Uint8Array): string {
  return displayName(nodeName(Buffer.from(raw)))
}

/** `dir/name`, as a string when both are text, else as bytes. */
export function childPath (dir: FsPath, raw: Buffer): FsPath {
  const slash = typeof dir === 'string' ? (dir.endsWith(sep) ? '' : sep) : (dir[dir.length - 1] === 0x2f ? '' : sep)
  if (typeof dir === 'string') {
    const s = raw.toString('utf8')
    if (Buffer.from(s, 'utf8').equals(raw)) return dir + slash + s
  }
  return Buffer.concat([typeof dir === 'string' ? Buffer.from(dir) : dir, Buffer.from(slash), raw])
}

export function showPath (p: FsPath): string {
  return typeof p === 'string' ? p : [...p].map(b => b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`).join('')
}
