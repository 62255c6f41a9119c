import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { showPath } from './file-name.ts'
import type { FsPath } from './file-name.ts'

/**
 * Extended attributes (F6): every name the kernel lists for this process — `user.*`,
 * `trusted.*` (root only), `security.*` (capabilities, SELinux labels), and POSIX ACLs as
 * `system.posix_acl_access` / `system.posix_acl_default` in the kernel's binary form. The
 * binding (@napi-rs/xattr, prebuilt for linux-x64) calls llistxattr, lgetxattr and lsetxattr:
 * never through a symbolic link, so a link's own attributes are read and written.
 *
 * It takes paths as text: for a path that is not UTF-8 (rare) the attr package's getfattr and
 * setfattr are run instead, through a shell that rebuilds the path's bytes from octal escapes.
 */
export type Xattr = [name: string, value: Uint8Array]

type XattrBinding = typeof import('@napi-rs/xattr')
let loaded: XattrBinding | undefined
/** The binding, loaded on first use: a command that reads or writes no files' attributes (snapshots, archive run) skips its ~15 ms load (issue 21). */
const binding = (): XattrBinding => (loaded ??= createRequire(import.meta.url)('@napi-rs/xattr') as XattrBinding)

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
  if (p === undefined) return readByTool(path as Buffer)
  const x = binding() // outside the try: a binding that does not load is an error, not a warning
  let names: string[]
  try {
    names = x.listAttributesSync(p)
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
      const value = x.getAttributeSync(p, name)
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
  const x = p === undefined ? undefined : binding()
  const warnings: string[] = []
  for (const [name, value] of xattrs) {
    if (p === undefined || x === undefined) {
      const r = byTool(path as Buffer, ['setfattr', '-h', '-n', name, '-v', '0s' + Buffer.from(value).toString('base64')])
      if (r.status !== 0) warnings.push(`${showPath(path)}: extended attribute ${name} not restored (setfattr: ${toolError(r)})`)
      continue
    }
    try {
      x.setAttributeSync(p, name, value)
    } catch (err) {
      warnings.push(`${showPath(path)}: extended attribute ${name} not restored (${errnoOf(err)})`)
    }
  }
  return warnings
}

/** Runs `cmd… -- PATH` with the path's exact bytes (argv from Node is text; printf's octal escapes are not). */
function byTool (path: Buffer, cmd: string[]): { status: number | null, stdout: string, stderr: string, error?: Error } {
  const octal = [...path].map(b => '\\' + b.toString(8).padStart(3, '0')).join('')
  // The x keeps a trailing newline of the name from $(…), which strips them.
  const script = `p=$(printf '${octal}x'); p=\${p%x}; exec "$@" -- "$p"`
  return spawnSync('/bin/sh', ['-c', script, 'sh', ...cmd], { encoding: 'utf8' })
}

function toolError (r: { status: number | null, stderr: string, error?: Error }): string {
  return r.error !== undefined ? r.error.message : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status ?? '?'}`)
}

/** readXattrs for a path that is not UTF-8: `getfattr -d` prints `name=0sBASE64` lines. */
function readByTool (path: Buffer): { xattrs: Xattr[], warning?: string } {
  const r = byTool(path, ['getfattr', '-h', '-d', '-m', '-', '-e', 'base64', '--absolute-names'])
  if (r.status !== 0) {
    if (/Operation not supported|No such file/.test(r.stderr)) return { xattrs: [] }
    return { xattrs: [], warning: `${showPath(path)}: extended attributes not backed up (getfattr: ${toolError(r)})` }
  }
  const xattrs: Xattr[] = []
  for (const line of r.stdout.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const eq = line.indexOf('=')
    const name = eq < 0 ? line : line.slice(0, eq)
    const v = eq < 0 ? '' : line.slice(eq + 1)
    xattrs.push([name, v.startsWith('0s') ? new Uint8Array(Buffer.from(v.slice(2), 'base64')) : new Uint8Array()])
  }
  return { xattrs: xattrs.sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0) }
}

/** Whether the entry has any extended attribute (one syscall): the metadata cache's check for entries of a parent snapshot made without them. */
export function hasXattrs (path: FsPath): boolean {
  const p = textPath(path)
  if (p === undefined) return readByTool(path as Buffer).xattrs.length > 0
  const x = binding()
  try { return x.listAttributesSync(p).length > 0 } catch { return false }
}
