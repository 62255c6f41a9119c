import { getAttributeSync, listAttributesSync, setAttributeSync } from '@napi-rs/xattr'
import { showPath } from './file-name.ts'
import type { FsPath } from './file-name.ts'

/**
 * Extended attributes (F6): every name the kernel lists for this process — `user.*`,
 * `trusted.*` (root only), `security.*` (capabilities, SELinux labels), and POSIX ACLs as
 * `system.posix_acl_access` / `system.posix_acl_default` in the kernel's binary form. The
 * binding (@napi-rs/xattr, prebuilt for linux-x64) calls llistxattr, lgetxattr and lsetxattr:
 * never through a symbolic link, so a link's own attributes are read and written.
 *
 * It takes paths as text: a path that is not UTF-8 has its attributes skipped with a warning.
 */
export type Xattr = [name: string, value: Uint8Array]

/** Errors that mean "this file system or file keeps no extended attributes": nothing to read. */
const UNSUPPORTED = new Set(['ENOTSUP', 'EOPNOTSUPP', 'ENODATA'])

/** The errno name in the binding's message ("Operation not permitted (os error 1)"). */
function errnoOf (err: unknown): string {
  const m = /os error (\d+)/.exec((err as Error).message)
  if (m === null) return (err as Error).message
  return ERRNO[Number(m[1])] ?? `errno ${m[1]}`
}

const ERRNO: Record<number, string> = { 1: 'EPERM', 2: 'ENOENT', 7: 'E2BIG', 13: 'EACCES', 22: 'EINVAL', 28: 'ENOSPC', 30: 'EROFS', 34: 'ERANGE', 61: 'ENODATA', 95: 'EOPNOTSUPP', 122: 'EDQUOT' }

/** A path the binding can take, or undefined for one that is not valid text. */
function textPath (path: FsPath): string | undefined {
  if (typeof path === 'string') return path
  const s = path.toString('utf8')
  return Buffer.from(s, 'utf8').equals(path) ? s : undefined
}

/** The entry's attributes, sorted by name (so an unchanged set gives the same tree node), and a warning if some could not be read. */
export function readXattrs (path: FsPath): { xattrs: Xattr[], warning?: string } {
  const p = textPath(path)
  if (p === undefined) return { xattrs: [], warning: `${showPath(path)}: extended attributes not backed up (the path is not UTF-8)` }
  let names: string[]
  try {
    names = listAttributesSync(p)
  } catch (err) {
    const code = errnoOf(err)
    if (UNSUPPORTED.has(code) || code === 'ENOENT') return { xattrs: [] }
    return { xattrs: [], warning: `${showPath(path)}: extended attributes not backed up (${code})` }
  }
  if (names.length === 0) return { xattrs: [] }
  const xattrs: Xattr[] = []
  const lost: string[] = []
  for (const name of names.sort()) {
    try {
      const value = getAttributeSync(p, name)
      if (value !== null) xattrs.push([name, new Uint8Array(value)])
    } catch (err) {
      const code = errnoOf(err)
      if (code !== 'ENODATA') lost.push(`${name} (${code})`)
    }
  }
  return lost.length === 0 ? { xattrs } : { xattrs, warning: `${showPath(path)}: extended attributes not backed up: ${lost.join(', ')}` }
}

/**
 * Sets the attributes on the entry (not through a symbolic link). Returns one warning per
 * attribute that could not be set (no privilege, a file system without them), or none.
 */
export function writeXattrs (path: FsPath, xattrs: Xattr[] | undefined): string[] {
  if (xattrs === undefined || xattrs.length === 0) return []
  const p = textPath(path)
  if (p === undefined) return [`${showPath(path)}: extended attributes not restored (the path is not UTF-8)`]
  const warnings: string[] = []
  for (const [name, value] of xattrs) {
    try {
      setAttributeSync(p, name, value)
    } catch (err) {
      warnings.push(`${showPath(path)}: extended attribute ${name} not restored (${errnoOf(err)})`)
    }
  }
  return warnings
}

/** Whether the entry has any extended attribute (one syscall): the metadata cache's check for entries of a parent snapshot made without them. */
export function hasXattrs (path: FsPath): boolean {
  const p = textPath(path)
  if (p === undefined) return false
  try { return listAttributesSync(p).length > 0 } catch { return false }
}
