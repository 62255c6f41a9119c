// The replication settings of a node: `<mesh dir>/replication.json`, written by
// `cairn mesh policy` and PUT /api/mesh/policies, read by the mesh daemon at start (the
// daemon-hosted mesh also applies a PUT at once). Checked as a whole before it is saved.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROLES, type ReplicationPolicy } from '../../bootstrap/index.ts'
import { validateSchedule, writeFileAtomic, type BandwidthSchedule } from '../../chunkstore/index.ts'
import { InvalidReplicationConfigError } from './errors.ts'

export const REPLICATION_FILE = 'replication.json'
export const MAX_COPIES = 9
/** The longest lock a policy may ask in days (about 100 years); longer is "forever". */
export const MAX_IMMUTABLE_DAYS = 36_500

export interface ReplicationConfig {
  policies: ReplicationPolicy[]
  bandwidth?: BandwidthSchedule
  /**
   * What this node, as a replica, does with what it receives: its own lock (doc/mesh.md
   * "Locks"), the floor under what senders ask, for every origin or per origin site.
   */
  receive?: ReceiveSettings
}

export interface ReceiveSettings {
  immutableDays?: number | 'forever'
  perSite?: Record<string, number | 'forever'>
  /** Bytes this node holds at most for what an origin site sends (doc/mesh.md "Space accounting and quotas"). */
  quotas?: Record<string, number>
}

const validDays = (d: unknown): boolean => d === 'forever' || (Number.isInteger(d) && (d as number) >= 0 && (d as number) <= MAX_IMMUTABLE_DAYS)

/** Throws InvalidReplicationConfigError naming the first problem. */
export function validateReplicationConfig (cfg: ReplicationConfig): void {
  if (!Array.isArray(cfg.policies)) throw new InvalidReplicationConfigError('policies must be a list')
  const names = new Set<string>()
  for (const p of cfg.policies) {
    const what = `policy "${String(p.name)}"`
    if (typeof p.name !== 'string' || p.name.length === 0) throw new InvalidReplicationConfigError('every policy needs a name')
    if (names.has(p.name)) throw new InvalidReplicationConfigError(`${what} is named twice; policy names are unique`)
    names.add(p.name)
    if (!Number.isInteger(p.copies) || p.copies < 1 || p.copies > MAX_COPIES) throw new InvalidReplicationConfigError(`${what}: copies must be a whole number from 1 to ${MAX_COPIES} (this site's copy included)`)
    for (const r of p.roles ?? []) if (!(ROLES as readonly string[]).includes(r)) throw new InvalidReplicationConfigError(`${what}: role "${String(r)}" is none of ${ROLES.join(', ')}`)
    for (const list of [p.sites, p.spaces]) if (list !== undefined && (!Array.isArray(list) || list.some(x => typeof x !== 'string' || x.length === 0))) throw new InvalidReplicationConfigError(`${what}: sites and spaces are lists of names`)
    if (p.immutableDays !== undefined && !validDays(p.immutableDays)) throw new InvalidReplicationConfigError(`${what}: immutableDays is a whole number of days from 0 to ${MAX_IMMUTABLE_DAYS}, or "forever"`)
  }
  const r = cfg.receive
  if (r !== undefined) {
    if (r.immutableDays !== undefined && !validDays(r.immutableDays)) throw new InvalidReplicationConfigError(`receive: immutableDays is a whole number of days from 0 to ${MAX_IMMUTABLE_DAYS}, or "forever"`)
    for (const [site, q] of Object.entries(r.quotas ?? {})) if (!Number.isSafeInteger(q) || q < 0) throw new InvalidReplicationConfigError(`receive: the quota for site "${site}" is a whole number of bytes`)
    for (const [site, d] of Object.entries(r.perSite ?? {})) if (!validDays(d)) throw new InvalidReplicationConfigError(`receive: the days for site "${site}" are a whole number from 0 to ${MAX_IMMUTABLE_DAYS}, or "forever"`)
  }
  try {
    if (cfg.bandwidth !== undefined) validateSchedule(cfg.bandwidth)
  } catch (err) {
    throw new InvalidReplicationConfigError(`bandwidth: ${(err as Error).message}`, { cause: err })
  }
}

export function loadReplicationConfig (meshDir: string): ReplicationConfig {
  const path = join(meshDir, REPLICATION_FILE)
  if (!existsSync(path)) return { policies: [] }
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Partial<ReplicationConfig>
  const cfg: ReplicationConfig = { policies: raw.policies ?? [], bandwidth: raw.bandwidth, ...(raw.receive !== undefined ? { receive: raw.receive } : {}) }
  validateReplicationConfig(cfg)
  return cfg
}

/** Saves the settings; a `cfg` without `receive` keeps the one saved (policies and this node's own lock are set apart). */
export function saveReplicationConfig (meshDir: string, cfg: ReplicationConfig): void {
  if (cfg.receive === undefined) {
    const saved = existsSync(join(meshDir, REPLICATION_FILE)) ? loadReplicationConfig(meshDir).receive : undefined
    if (saved !== undefined) cfg = { ...cfg, receive: saved }
  }
  validateReplicationConfig(cfg)
  writeFileAtomic(join(meshDir, REPLICATION_FILE), JSON.stringify(cfg, null, 2) + '\n', 0o644)
}
