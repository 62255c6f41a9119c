import { existsSync, lstatSync, realpathSync } from 'node:fs'
import { dirname, isAbsolute, join, normalize, resolve } from 'node:path'
import { checkRestoreTarget } from '../../chunkstore/index.ts'
import type { Role } from '../auth/index.ts'
import { PathInvalidError, PathNotAllowedError } from './errors.ts'
import type { NodeRecord } from './inventory.ts'

/** The folders of a node that operators may back up from and restore into (set by an admin). */
export interface NodeRoots { sources: string[], restores: string[] }

export const inside = (path: string, root: string): boolean => path === root || path.startsWith(root === '/' ? '/' : root + '/')

/** An absolute path with `.`, `..`, `//` and a trailing `/` resolved away; relative paths are refused. */
export function normalisePath (path: string, what: string): string {
  if (!isAbsolute(path)) throw new PathInvalidError(path, `${what} must be an absolute path (starting with /)`)
  if (path.includes('\0')) throw new PathInvalidError(path, `${what} may not contain a NUL character`)
  const n = normalize(path)
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n
}

/** The path with every symbolic link of its existing part resolved: where it really leads. */
export function realPath (path: string): string {
  let existing = path
  while (lstatSync(existing, { throwIfNoEntry: false }) === undefined) existing = dirname(existing)
  try { return join(realpathSync(existing), path.slice(existing.length)) } catch { return path }
}

/**
 * What a task's sources and a restore's target may reach on this daemon's node (issue 13, M1):
 * - never the daemon's own data folder (its state, keys, TLS key, mesh keys) nor anything in it,
 *   whoever asks; a source that contains it backs up everything else (it is excluded);
 * - for a task whose user space belongs to an operator, only paths inside the node's source roots;
 *   for a restore an operator starts, only targets inside its restore roots; a node with no roots
 *   gives operators nothing;
 * - restore targets never on a kernel file system (/proc, /sys, /dev …).
 * Paths are checked as given and as they really lead (symbolic links resolved).
 */
export interface Reach {
  /** The daemon's own folders: never a source or a target, hidden from browsing. */
  readonly protectedPaths: string[]
  source: (node: NodeRecord, ownerRole: Role, path: string) => string
  restoreTarget: (node: NodeRecord, role: Role, path: string) => string
  /** Whether a folder listing of `path` may show `entry` to `role`; throws when `path` itself is out of reach. */
  browse: (node: NodeRecord, role: Role, path: string) => (entry: string) => boolean
  checkRoots: (roots: NodeRoots) => NodeRoots
}

export function createReach (init: { protectedPaths: string[] }): Reach {
  const guarded = [...new Set(init.protectedPaths.map(p => resolve(p)).flatMap(p => [p, realPath(p)]))]
  const isProtected = (...paths: string[]): string | undefined => guarded.find(g => paths.some(p => inside(p, g)))
  const rootsOf = (node: NodeRecord, kind: keyof NodeRoots): string[] => node.roots?.[kind] ?? []
  const within = (paths: string[], roots: string[]): boolean => roots.some(r => paths.every(p => inside(p, r) || inside(p, realPath(r))))
  const refuseProtected = (path: string, real: string): void => {
    const hit = isProtected(path, real)
    if (hit !== undefined) throw new PathNotAllowedError(path, `it is inside this node's own data folder ${hit}, which holds its keys and state`)
  }

  /** `path` (leading to `real`) when the data folder is not in it and, for operators, a root of `kind` holds it. */
  const limited = (node: NodeRecord, role: Role, kind: keyof NodeRoots, path: string, real: string): string => {
    refuseProtected(path, real)
    const roots = rootsOf(node, kind)
    if (role === 'operator' && !within([path, real], roots)) {
      const what = kind === 'sources' ? 'back up' : 'restore into'
      throw new PathNotAllowedError(path, roots.length === 0
        ? `node ${node.name} allows operators no ${kind === 'sources' ? 'source' : 'restore'} folders yet; an admin sets them in the client's details`
        : `it is outside the folders node ${node.name} allows operators to ${what} (${roots.join(', ')})`)
    }
    return path
  }

  return {
    protectedPaths: guarded,
    source (node, ownerRole, raw) {
      const path = normalisePath(raw, 'A backup source')
      return limited(node, ownerRole, 'sources', path, realPath(path))
    },
    restoreTarget (node, role, raw) {
      const path = normalisePath(raw, 'A restore target')
      return limited(node, role, 'restores', path, checkRestoreTarget(path).real)
    },
    browse (node, role, raw) {
      const dir = normalisePath(raw, 'A folder to browse')
      const real = realPath(dir)
      refuseProtected(dir, real)
      if (role !== 'operator') return entry => isProtected(entry, realPath(entry)) === undefined
      const roots = [...rootsOf(node, 'sources'), ...rootsOf(node, 'restores')]
      const inRoot = within([dir, real], roots)
      if (!inRoot && !roots.some(r => inside(r, dir))) throw new PathNotAllowedError(dir, `it is outside the folders node ${node.name} allows operators (${roots.join(', ') || 'none yet'})`)
      // Above the roots only the way down to them shows; inside them everything but the data folder.
      return entry => isProtected(entry, realPath(entry)) === undefined && (inRoot || roots.some(r => inside(r, entry) || inside(entry, r)))
    },
    checkRoots (roots) {
      const check = (list: string[], what: string): string[] => [...new Set(list.map(p => {
        const path = normalisePath(p, what)
        refuseProtected(path, realPath(path))
        if (what === 'A restore root' && existsSync(path)) checkRestoreTarget(path)
        return path
      }))]
      return { sources: check(roots.sources, 'A source root'), restores: check(roots.restores, 'A restore root') }
    }
  }
}
