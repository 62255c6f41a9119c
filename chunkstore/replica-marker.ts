// A mesh replica's folder: the blocks and snapshot roots other sites send, kept by `cairn mesh
// run` or `cairn serve` (<data>/replica) with no keys of this site's. It has the layout of a store
// (index/, segments/) and, to tell it from a site's own store, `replica.json` (format below and in
// doc/design.md). A DR site may later copy a lost site's escrowed config.json and keys.json into
// it to read that site's snapshots; it stays a replica: nothing there may be changed with one
// site's keys, since the blocks are shared with every other site's.
import { existsSync, mkdirSync, readdirSync } from 'node:fs'
import { writeFileAtomic } from './atomic-file.ts'
import { join } from 'node:path'
import { NotAStoreFolderError } from './errors.ts'

export const REPLICA_MARKER = 'replica.json'

/** replica.json, version 1. */
export interface ReplicaMarker { format: 'cairn-replica', version: 1, created: string }

/**
 * True when `dir` is a replica: it has replica.json, or (made before the marker existed) an
 * index but no config.json of a store.
 */
export function isReplica (dir: string): boolean {
  if (existsSync(join(dir, REPLICA_MARKER))) return true
  return existsSync(join(dir, 'index')) && !existsSync(join(dir, 'config.json'))
}

export type ReplicaFolder = 'created' | 'replica' | 'store'

/**
 * What `dir` is for a mesh node that serves it: a site's own store (config.json, no marker), a
 * replica (marked now if it was made before the marker), or — missing or empty — a new replica,
 * made and marked here. Anything else is refused: a mesh node never fills a folder of the user's.
 */
export function prepareReplicaFolder (dir: string): ReplicaFolder {
  const entries = existsSync(dir) ? readdirSync(dir) : undefined
  if (entries !== undefined && entries.length > 0) {
    if (isReplica(dir)) { markReplica(dir); return 'replica' }
    if (existsSync(join(dir, 'config.json'))) return 'store'
    throw new NotAStoreFolderError(dir)
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  markReplica(dir)
  return 'created'
}

function markReplica (dir: string): void {
  const path = join(dir, REPLICA_MARKER)
  if (existsSync(path)) return
  const marker: ReplicaMarker = { format: 'cairn-replica', version: 1, created: new Date().toISOString() }
  writeFileAtomic(path, JSON.stringify(marker) + '\n')
}
