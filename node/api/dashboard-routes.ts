import { readdir, lstat, readFile } from 'node:fs/promises'
import { projectRoot } from '../project-root.ts'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { NodeUnreachableError } from '../jobs/index.ts'
import { normalisePath, osName } from '../inventory/index.ts'
import { who } from './server.ts'
import type { ApiContext, RouteOptions } from './context.ts'
import { idParam, okReply } from './schemas.ts'
import { MetricsTokenError } from './errors.ts'
import type { About, BlockDevice, Dashboard, FileEntry } from './dto.ts'
import { listBlockDevices } from '../../chunkstore/index.ts'
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/** The licence package.json names (read once: it does not change while the node runs). */
let licence: Promise<string> | undefined
const packageLicence = async (): Promise<string> => {
  licence ??= readFile(join(projectRoot(), 'package.json'), 'utf8').then(t => String(JSON.parse(t).license ?? ''), () => '')
  return await licence
}

export async function dashboardRoutes (app: FastifyInstance, ctx: ApiContext, _opts: RouteOptions): Promise<void> {
  app.get('/api/about', {
    config: { access: 'read' },
    schema: { summary: 'About (manual 2.1.2): the node\'s Cairn version, name, host, OS and IP, its uptime and the licence', tags: ['system'] }
  }, async (): Promise<About> => {
    const local = await ctx.inventory.localNode()
    return {
      version: local?.version ?? '',
      node: { name: local?.name ?? '', hostname: local?.hostname ?? '', os: local?.os ?? osName(), ip: local?.ip ?? '' },
      licence: await packageLicence(),
      startedAt: ctx.startedAt.toISOString()
    }
  })

  app.get<{ Querystring: { days?: number } }>('/api/dashboard', {
    config: { access: 'read' },
    schema: {
      summary: 'Home page (manual 2.1.1): uptime, storage totals (spaces, spaces online), daily backup volume, running jobs, nodes online, user spaces with their client\'s IP', tags: ['system'],
      querystring: { type: 'object', additionalProperties: false, properties: { days: { type: 'integer', minimum: 1, maximum: 366, default: 7 } } }
    }
  }, async (req): Promise<Dashboard> => {
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
    // A space is online while the client holding it is (its IP shown beside it, manual 2.1.1); a
    // client this user cannot see (an operator's space on another's client) shows neither.
    const nodeOf = new Map(nodes.map(n => [n.id, n]))
    const spaceOnline = (nodeId: string): boolean => { const n = nodeOf.get(nodeId); return n !== undefined && ctx.inventory.online(n) }
    const capacity = spaces.reduce((n, s) => n + s.capacityBytes, 0)
    const used = spaces.reduce((n, s) => n + s.usedBytes, 0)
    return {
      uptimeSeconds: Math.round((now.getTime() - ctx.startedAt.getTime()) / 1000),
      storage: { capacityBytes: capacity, usedBytes: used, freeBytes: Math.max(0, capacity - used), spaces: spaces.length, online: spaces.filter(s => spaceOnline(s.nodeId)).length },
      dailyBackupBytes: [...volume].map(([day, bytes]) => ({ day, bytes })),
      runningJobs: ctx.runner.running().filter(j => u.role !== 'operator' || j.ownerId === u.id),
      nodes: { total: nodes.length, online: nodes.filter(n => ctx.inventory.online(n)).length },
      spaces: spaces.map(s => ({ id: s.id, name: s.name, type: s.type, capacityBytes: s.capacityBytes, usedBytes: s.usedBytes, nodeId: s.nodeId, ip: nodeOf.get(s.nodeId)?.ip ?? '', online: spaceOnline(s.nodeId) })),
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
    const { user } = who(req)
    const node = await ctx.inventory.node(user, req.params.id)
    if (!node.local) throw new NodeUnreachableError(node.name)
    const dir = normalisePath(req.query.path ?? '/', 'A folder to browse')
    const shows = ctx.inventory.reach.browse(node, user.role, dir)
    const out: FileEntry[] = []
    for (const e of (await readdir(dir, { withFileTypes: true }).catch(() => [])).slice(0, 5000)) {
      const p = join(dir, e.name)
      if (!shows(p)) continue
      const st = await lstat(p).catch(() => undefined)
      out.push({ name: e.name, path: p, type: e.isDirectory() ? 'dir' : e.isSymbolicLink() ? 'symlink' : e.isFile() ? 'file' : 'other', size: st?.size ?? 0, mtime: st?.mtime.toISOString() })
    }
    return { path: dir, entries: out.sort((a, b) => a.name.localeCompare(b.name)) }
  })

  app.get<{ Params: { id: string } }>('/api/nodes/:id/block-devices', {
    config: { access: 'write' },
    schema: {
      summary: 'A node\'s block devices with their partition tables, to choose the source of a disk image task or the target of its restore (SPEC F6); this daemon\'s node only',
      tags: ['nodes'], params: idParam
    }
  }, async (req): Promise<BlockDevice[]> => {
    const { user } = who(req)
    const node = await ctx.inventory.node(user, req.params.id)
    if (!node.local) throw new NodeUnreachableError(node.name)
    return listBlockDevices()
  })

  const metricsToken = async (): Promise<string | undefined> => (await ctx.state.get<{ tokenHash?: string }>('settings', 'metrics'))?.tokenHash
  const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest()

  app.get('/metrics', { schema: { summary: 'Prometheus metrics: jobs, bytes, durations, store size, nodes online (text format). With a metrics token set, only for "Authorization: Bearer <token>"; without one, per-space and per-policy series (which carry names) are left out', tags: ['system'] } },
    async (req, reply) => {
      const stored = await metricsToken()
      if (stored !== undefined) {
        const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')
        if (m === null || !timingSafeEqual(sha256(m[1]), Buffer.from(stored, 'hex'))) throw new MetricsTokenError()
      }
      return await reply.type('text/plain; version=0.0.4').send(await ctx.metrics.render({ names: stored !== undefined }))
    })

  app.get('/api/settings/metrics', { config: { access: 'admin' }, schema: { summary: 'Whether /metrics needs a bearer token', tags: ['settings'], response: { 200: { type: 'object', properties: { tokenSet: { type: 'boolean' } } } } } },
    async () => ({ tokenSet: await metricsToken() !== undefined }))

  app.post('/api/settings/metrics/token', {
    config: { access: 'admin', reauth: true },
    schema: { summary: 'Make a new metrics bearer token (shown once; the previous one stops working). /metrics then needs it and shows every series. Needs a recent reauth', tags: ['settings'], response: { 201: { type: 'object', properties: { token: { type: 'string' } } } } }
  }, async (req, reply) => {
    const token = randomBytes(32).toString('base64url')
    await ctx.state.put('settings', 'metrics', { tokenHash: sha256(token).toString('hex') })
    await ctx.logs.audit({ user: who(req).user.name, source: req.ip, action: 'settings.metrics.token', target: 'metrics' })
    return await reply.code(201).send({ token })
  })

  app.delete('/api/settings/metrics/token', {
    config: { access: 'admin', reauth: true },
    schema: { summary: 'Remove the metrics token: /metrics answers anyone again, without named series. Needs a recent reauth', tags: ['settings'], response: { 200: okReply } }
  }, async (req) => {
    await ctx.state.del('settings', 'metrics')
    await ctx.logs.audit({ user: who(req).user.name, source: req.ip, action: 'settings.metrics.untoken', target: 'metrics' })
    return { ok: true }
  })
}
