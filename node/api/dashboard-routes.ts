import { readdir, lstat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { NodeUnreachableError } from '../jobs/index.ts'
import { who } from './server.ts'
import type { ApiContext, RouteOptions } from './context.ts'
import { idParam } from './schemas.ts'

export async function dashboardRoutes (app: FastifyInstance, ctx: ApiContext, _opts: RouteOptions): Promise<void> {
  app.get<{ Querystring: { days?: number } }>('/api/dashboard', {
    config: { access: 'read' },
    schema: {
      summary: 'Home page (manual 2.1.1): uptime, storage totals, daily backup volume, running jobs, nodes online, user spaces', tags: ['system'],
      querystring: { type: 'object', additionalProperties: false, properties: { days: { type: 'integer', minimum: 1, maximum: 366, default: 7 } } }
    }
  }, async (req) => {
    const u = who(req).user
    const spaces = await ctx.inventory.listSpaces(u)
    const nodes = await ctx.inventory.listNodes(u)
    const days = req.query.days ?? 7
    const now = ctx.clock.now()
    const since = new Date(now.getTime() - days * 86400_000).toISOString()
    const jobs = (await ctx.runner.list()).filter(j => (u.role !== 'operator' || j.ownerId === u.id))
    const volume = new Map<string, number>()
    for (let i = days - 1; i >= 0; i--) volume.set(new Date(now.getTime() - i * 86400_000).toISOString().slice(0, 10), 0)
    for (const j of jobs) {
      if (j.type !== 'backup' || j.startedAt < since || (j.status !== 'success' && j.status !== 'warning')) continue
      const day = j.startedAt.slice(0, 10)
      if (volume.has(day)) volume.set(day, volume.get(day)! + Number(j.result?.bytesRead ?? j.progress.bytes ?? 0))
    }
    const capacity = spaces.reduce((n, s) => n + s.capacityBytes, 0)
    const used = spaces.reduce((n, s) => n + s.usedBytes, 0)
    return {
      uptimeSeconds: Math.round((now.getTime() - ctx.startedAt.getTime()) / 1000),
      storage: { capacityBytes: capacity, usedBytes: used, freeBytes: Math.max(0, capacity - used), spaces: spaces.length },
      dailyBackupBytes: [...volume].map(([day, bytes]) => ({ day, bytes })),
      runningJobs: ctx.runner.running().filter(j => u.role !== 'operator' || j.ownerId === u.id),
      nodes: { total: nodes.length, online: nodes.filter(n => ctx.inventory.online(n)).length },
      spaces: spaces.map(s => ({ id: s.id, name: s.name, type: s.type, capacityBytes: s.capacityBytes, usedBytes: s.usedBytes, nodeId: s.nodeId })),
      tasks: (await ctx.tasks.list(u)).length,
      failedJobsLastDays: jobs.filter(j => j.startedAt >= since && j.status === 'failed').length
    }
  })

  app.get<{ Params: { id: string }, Querystring: { path?: string } }>('/api/nodes/:id/files', {
    config: { access: 'write' },
    schema: {
      summary: 'Browse a node\'s folders to choose backup sources (manual 2.2.1 left pane); this daemon\'s node only', tags: ['nodes'], params: idParam,
      querystring: { type: 'object', additionalProperties: false, properties: { path: { type: 'string', maxLength: 4096, pattern: '^/', default: '/' } } }
    }
  }, async (req) => {
    const node = await ctx.inventory.node(who(req).user, req.params.id)
    if (!node.local) throw new NodeUnreachableError(node.name)
    const dir = resolve(req.query.path ?? '/')
    const out = []
    for (const e of (await readdir(dir, { withFileTypes: true }).catch(() => [])).slice(0, 5000)) {
      const p = join(dir, e.name)
      const st = await lstat(p).catch(() => undefined)
      out.push({ name: e.name, path: p, type: e.isDirectory() ? 'dir' : e.isSymbolicLink() ? 'symlink' : e.isFile() ? 'file' : 'other', size: st?.size ?? 0, mtime: st?.mtime.toISOString() })
    }
    return { path: dir, entries: out.sort((a, b) => a.name.localeCompare(b.name)) }
  })

  app.get('/metrics', { schema: { summary: 'Prometheus metrics: jobs, bytes, durations, store size, nodes online (text format)', tags: ['system'] } },
    async (_req, reply) => await reply.type('text/plain; version=0.0.4').send(await ctx.metrics.render()))
}
