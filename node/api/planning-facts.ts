// What a node knows of itself and its mesh, gathered for capacity planning (F28): the facts a
// scenario is written from (GET /api/planning/scenario, `cairn sim from-mesh` through the control
// socket). Reads only; the job history gives sizes, change and durations.
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { User } from '../auth/index.ts'
import type { JobRecord } from '../jobs/index.ts'
import type { ApiContext } from './context.ts'
import type { MeshFacts, PlanFactRun } from './planning-dto.ts'

/** Backup runs per task the facts carry: enough for change rates and durations, bounded. */
const RUNS_PER_TASK = 90
const SYSTEM = { role: 'admin' } as User

function segmentBytes (dir: string): number {
  let n = 0
  try { for (const f of readdirSync(dir)) if (f.endsWith('.seg')) n += statSync(join(dir, f)).size } catch {}
  return n
}

const num = (v: unknown): number => typeof v === 'number' && Number.isFinite(v) ? v : 0

export async function gatherMeshFacts (ctx: Pick<ApiContext, 'clock' | 'inventory' | 'tasks' | 'runner' | 'mesh'>): Promise<MeshFacts> {
  const mesh = ctx.mesh()
  const status = mesh === undefined ? undefined : await mesh.status()
  const local = await ctx.inventory.localNode()
  const spaces = (await ctx.inventory.listSpaces(SYSTEM)).filter(s => s.type === 'backup')
  const spaceName = new Map(spaces.map(s => [s.id, s.name]))
  const jobs = (await ctx.runner.list()).filter((j: JobRecord) => j.type === 'backup' && (j.status === 'success' || j.status === 'warning') && j.taskId !== undefined)
  const runsOf = (taskId: string): PlanFactRun[] => jobs.filter(j => j.taskId === taskId).slice(0, RUNS_PER_TASK).reverse().map(j => ({
    startedAt: j.startedAt,
    durationSeconds: num(j.durationMs) / 1000,
    level: j.level ?? 'incremental',
    files: num(j.result?.files),
    bytesTotal: num(j.result?.bytesTotal),
    bytesRead: num(j.result?.bytesRead),
    bytesNew: num(j.result?.bytesNew),
    bytesStored: num(j.result?.bytesStored)
  }))
  const self = status?.self
  return {
    at: ctx.clock.now().toISOString(),
    site: self?.site ?? local?.name ?? 'this-site',
    role: self?.role ?? 'head',
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    members: (status?.members ?? []).map(m => ({ site: m.site, role: m.role, self: m.self, connected: m.connected })),
    policies: mesh?.replication().policies ?? [],
    bandwidth: mesh?.replication().bandwidth ?? null,
    links: (status?.links ?? []).map(l => ({ site: l.site, bytesSent: l.lastResult?.bytesSent ?? 0, seconds: (l.lastResult?.durationMs ?? 0) / 1000, blocksOffered: l.lastResult?.blocksOffered ?? 0 })),
    held: (status?.held ?? []).filter(h => !h.self).map(h => ({ site: h.site, snapshots: h.snapshots })),
    replicaBytes: mesh === undefined ? 0 : segmentBytes(mesh.replica.log.dir),
    spaces: spaces.map(s => ({ name: s.name, usedBytes: s.usedBytes, capacityBytes: s.capacityBytes })),
    tasks: (await ctx.tasks.all()).filter(t => spaceName.has(t.spaceId)).map(t => ({
      name: t.name,
      space: spaceName.get(t.spaceId)!,
      schedules: t.mode === 'scheduled' ? t.schedules.filter(s => s.enabled && s.job === 'backup') : [],
      retention: t.options.retention,
      compression: t.options.compression,
      bandwidth: t.options.bandwidth ?? null,
      runs: runsOf(t.id)
    }))
  }
}
