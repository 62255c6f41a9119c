import type { CID } from 'multiformats/cid'
import { displayName } from './file-name.ts'
import { keyOf } from './index-layout.ts'
import type { Key } from './index-layout.ts'
import type { DirEntry, DirNode, TreeNode } from './tree-node.ts'

export interface NodeRef { cid: CID, id: Uint8Array, tsize: number }

export interface TreeRepairDeps {
  loadNode: (ref: { cid: CID, id: Uint8Array }) => Promise<TreeNode>
  /** Seals and stores a directory node (or finds it stored already). */
  putNode: (node: DirNode) => Promise<NodeRef>
  /** CIDs of blocks missing from the store or no longer matching their address. */
  bad: Set<Key>
}

/**
 * `cairn repair snapshots` for one tree (as restic's `repair snapshots` does): every entry that
 * cannot be read whole — a directory or symlink node that does not load, a file node that does
 * not, or a file with a chunk in `bad` — is left out, and the directories above it are written
 * anew; everything else keeps its nodes and blocks. Returns the new root (undefined when the
 * root itself cannot be read, or nothing was lost) and the paths left out.
 */
export async function repairTree (deps: TreeRepairDeps, root: { cid: CID, id: Uint8Array }): Promise<{ root?: NodeRef, lost: string[], rootLost: boolean }> {
  const lost: string[] = []
  let top: TreeNode
  try { top = await deps.loadNode(root) } catch { return { lost: ['/'], rootLost: true } }
  if (top.kind !== 'dir') return { lost: ['/'], rootLost: true }
  const r = await repairDir(deps, top, '', lost)
  return { root: r, lost, rootLost: false }
}

/** The directory's new node when something below it was left out, else undefined. */
async function repairDir (deps: TreeRepairDeps, node: DirNode, path: string, lost: string[]): Promise<NodeRef | undefined> {
  const kept: DirEntry[] = []
  let changed = false
  for (const e of node.entries) {
    const p = `${path}/${displayName(e.name)}`
    const entry = await repairEntry(deps, e, p, lost)
    if (entry === undefined) { changed = true; lost.push(p); continue }
    if (entry !== e) changed = true
    kept.push(entry)
  }
  return changed ? await deps.putNode({ ...node, entries: kept }) : undefined
}

/** The entry as it stays (itself, or with a new node below), or undefined when it is left out. */
async function repairEntry (deps: TreeRepairDeps, e: DirEntry, path: string, lost: string[]): Promise<DirEntry | undefined> {
  if (e.inline !== undefined) return deps.bad.has(keyOf(e.cid.bytes)) ? undefined : e
  if (deps.bad.has(keyOf(e.cid.bytes))) return undefined
  let node: TreeNode
  try { node = await deps.loadNode(e) } catch { return undefined }
  if (node.kind === 'file') return node.chunks.some(c => deps.bad.has(keyOf(c.cid.bytes))) ? undefined : e
  if (node.kind !== 'dir') return e
  const fresh = await repairDir(deps, node, path, lost)
  return fresh === undefined ? e : { ...e, cid: fresh.cid, id: fresh.id, tsize: fresh.tsize }
}
