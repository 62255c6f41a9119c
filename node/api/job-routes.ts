import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { User } from '../auth/index.ts'
import { said } from '../logs/index.ts'
import { JOB_KINDS, JOB_TYPES, type JobRecord, type RestoreRequest, type CleanRequest } from '../jobs/index.ts'
import { NotYoursError } from '../inventory/index.ts'
import { who } from './server.ts'
import type { ApiContext, RouteOptions } from './context.ts'
import { idParam, name364, okReply, page, paged, timeRange } from './schemas.ts'
import type { DataRow } from './dto.ts'

const tags = ['jobs']
const sees = (u: User, j: JobRecord): boolean => u.role !== 'operator' || j.ownerId === u.id

export async function jobRoutes (app: FastifyInstance, ctx: ApiContext, _opts: RouteOptions): Promise<void> {
  const { runner, operations } = ctx
  const actor = (req: FastifyRequest): { user: User, source: string } => ({ user: who(req).user, source: req.ip })
  const job = async (req: FastifyRequest, id: string): Promise<JobRecord> => {
    const j = await runner.get(id).catch(() => undefined)
    if (j === undefined || !sees(who(req).user, j)) throw new NotYoursError('job', id)
    return j
  }

  app.get<{ Querystring: { type?: string, status?: string, taskId?: string, search?: string, from?: string, to?: string, page?: number, pageSize?: number } }>('/api/jobs', {
    config: { access: 'read' },
    schema: {
      summary: 'Job history, newest first (manual 2.2.7, 2.5.1.2): status, duration, size, speed; `search` keeps the jobs whose name or task name contains it (any case)', tags,
      querystring: { type: 'object', additionalProperties: false, properties: { type: { type: 'string', enum: [...JOB_TYPES] }, status: { type: 'string', enum: ['running', 'success', 'warning', 'failed', 'stopped'] }, taskId: { type: 'string', maxLength: 100 }, search: { type: 'string', maxLength: 100 }, ...timeRange, ...page } }
    }
  }, async (req) => {
    const q = req.query
    const u = who(req).user
    const text = q.search?.trim().toLowerCase() ?? ''
    const named = (j: JobRecord): boolean => text === '' || j.name.toLowerCase().includes(text) || (j.taskName ?? '').toLowerCase().includes(text)
    const all = (await runner.list()).filter(j => sees(u, j) && named(j) &&
      (q.type === undefined || j.type === q.type) && (q.status === undefined || j.status === q.status) && (q.taskId === undefined || j.taskId === q.taskId) &&
      (q.from === undefined || j.startedAt >= q.from) && (q.to === undefined || j.startedAt <= q.to))
    return paged(all, q)
  })

  app.get('/api/jobs/running', { config: { access: 'read' }, schema: { summary: 'Running jobs with live progress (manual 2.2.6 monitor)', tags } },
    async (req) => runner.running().filter(j => sees(who(req).user, j)))

  app.get<{ Params: { id: string } }>('/api/jobs/:id', { config: { access: 'read' }, schema: { summary: 'One job: parameters, progress or result', tags, params: idParam } },
    async (req) => await job(req, req.params.id))

  app.get<{ Params: { id: string } }>('/api/jobs/:id/log', { config: { access: 'read' }, schema: { summary: 'The log lines of one job', tags, params: idParam } },
    async (req) => { await job(req, req.params.id); return await runner.logOf(req.params.id) })

  app.post<{ Params: { id: string } }>('/api/jobs/:id/stop', {
    config: { access: 'write' },
    schema: { summary: 'Stop a running job; a stopped backup\'s partial data is reclaimed', tags, params: idParam, response: { 200: okReply } }
  }, async (req) => {
    const j = await job(req, req.params.id)
    await runner.stop(j.id, `stopped by ${who(req).user.name}`, { user: who(req).user.name, source: req.ip })
    await ctx.logs.write({ type: JOB_KINDS[j.type].logType, level: 'warning', user: who(req).user.name, source: req.ip, ownerId: j.ownerId, message: `User [${who(req).user.name}] stopped job [${j.name}]`, text: said('USER_STOPPED_JOB', { user: who(req).user.name, name: j.name }) })
    return { ok: true }
  })

  const stream = (req: FastifyRequest, reply: FastifyReply, only?: string): void => {
    const u = who(req).user
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-content-type-options': 'nosniff' })
    const send = (event: string, data: unknown): void => { res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`) }
    const onJob = (e: { id: string, event: string, data: unknown }): void => {
      if (only !== undefined && e.id !== only) return
      const rec = runner.live(e.id) ?? (e.event === 'end' ? e.data as JobRecord : undefined)
      if (rec !== undefined && !sees(u, rec)) return
      send(e.event, { jobId: e.id, ...(typeof e.data === 'object' ? e.data as object : { value: e.data }) })
      if (only !== undefined && e.event === 'end') close()
    }
    const beat = setInterval(() => res.write(': keep-alive\n\n'), 15_000)
    const close = (): void => { clearInterval(beat); runner.events.off('job', onJob); res.end() }
    runner.events.on('job', onJob)
    req.raw.on('close', close)
    if (only === undefined) send('running', runner.running().filter(j => sees(u, j)))
  }

  app.get<{ Params: { id: string } }>('/api/jobs/:id/events', {
    config: { access: 'read' },
    schema: { summary: 'Live monitor of one job as server-sent events: job, progress, log, end', tags, params: idParam }
  }, async (req, reply) => {
    const j = await job(req, req.params.id)
    if (j.status !== 'running') {
      void reply.header('content-type', 'text/event-stream')
      return `event: end\ndata: ${JSON.stringify({ jobId: j.id, ...j })}\n\n`
    }
    stream(req, reply, j.id)
    reply.raw.write(`event: job\ndata: ${JSON.stringify(j)}\n\n`)
  })

  app.get('/api/jobs/events', {
    config: { access: 'read' },
    schema: { summary: 'Live monitor of all my jobs as server-sent events', tags }
  }, async (req, reply) => { stream(req, reply) })

  app.post<{ Body: RestoreRequest }>('/api/restores', {
    config: { access: 'write' },
    schema: {
      summary: 'Restore (manual 2.3, F7): space, task, snapshot ("latest" or id), paths or all, target node, redirect path, conflict mode; runs at once', tags: ['restore'],
      body: {
        type: 'object', additionalProperties: false, required: ['spaceId', 'taskId', 'snapshot', 'conflict'],
        properties: {
          name: name364, spaceId: { type: 'string', maxLength: 100 }, taskId: { type: 'string', maxLength: 100 }, snapshot: { type: 'string', minLength: 1, maxLength: 100 },
          paths: { type: 'array', maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 4096 } },
          targetNodeId: { type: 'string', maxLength: 100 }, targetPath: { type: 'string', minLength: 1, maxLength: 4096, pattern: '^/' },
          conflict: { type: 'string', enum: ['overwrite', 'skip', 'keep-newer'] }
        }
      }
    }
  }, async (req, reply) => await reply.code(202).send(await operations.restore(actor(req), req.body)))

  app.post<{ Body: CleanRequest }>('/api/data/clean', {
    config: { access: 'write', reauth: true },
    schema: {
      summary: 'Clean data (manual 2.5.1.1, F19): chosen copies, a whole task, or leftovers of failed runs; space is reclaimed. Needs a recent reauth', tags: ['data'],
      body: {
        type: 'object', additionalProperties: false, required: ['taskId', 'mode'],
        properties: { name: name364, taskId: { type: 'string', maxLength: 100 }, mode: { type: 'string', enum: ['snapshots', 'task', 'leftover'] }, snapshots: { type: 'array', maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 100 } } }
      }
    }
  }, async (req, reply) => await reply.code(202).send(await operations.clean(actor(req), req.body)))

  app.post<{ Params: { id: string } }>('/api/spaces/:id/prune', {
    config: { access: 'write' },
    schema: { summary: 'Reclaim space of blocks no copy references (garbage collection); backups keep running', tags: ['data'], params: idParam }
  }, async (req, reply) => await reply.code(202).send(await operations.prune(actor(req), req.params.id)))

  app.post<{ Params: { id: string }, Body: { snapshot?: string } }>('/api/spaces/:id/verify', {
    config: { access: 'write' },
    schema: { summary: 'Verify every block of a space (or one snapshot) decrypts and matches its CID (F8)', tags: ['data'], params: idParam, body: { type: 'object', additionalProperties: false, properties: { snapshot: { type: 'string', maxLength: 100 } } } }
  }, async (req, reply) => await reply.code(202).send(await operations.verify(actor(req), req.params.id, req.body?.snapshot)))

  app.get<{ Params: { id: string }, Querystring: { taskId?: string, from?: string, to?: string } }>('/api/spaces/:id/snapshots', {
    config: { access: 'read' },
    schema: { summary: 'Copies (snapshots) in a space, optionally of one task and in a time range (manual 2.3.1, 2.5.1)', tags: ['data'], params: idParam, querystring: { type: 'object', additionalProperties: false, properties: { taskId: { type: 'string', maxLength: 100 }, ...timeRange } } }
  }, async (req) => await operations.snapshots(actor(req), req.params.id, req.query.taskId, req.query))

  app.get<{ Params: { id: string, snapshot: string }, Querystring: { path?: string, limit?: number, children?: boolean, offset?: number, search?: string } }>('/api/spaces/:id/snapshots/:snapshot/entries', {
    config: { access: 'read' },
    schema: {
      summary: 'Files and folders in a snapshot below a path: for choosing what to restore. With children, one page of the folder\'s own entries (from offset); with search, the entries whose path contains it (any case); `more` says a page was cut at limit', tags: ['data'],
      params: { type: 'object', required: ['id', 'snapshot'], additionalProperties: false, properties: { id: { type: 'string', maxLength: 100 }, snapshot: { type: 'string', maxLength: 100 } } },
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { path: { type: 'string', maxLength: 4096 }, limit: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 }, children: { type: 'boolean', default: false }, offset: { type: 'integer', minimum: 0, default: 0 }, search: { type: 'string', minLength: 1, maxLength: 255 } }
      }
    }
  }, async (req) => {
    const { repo, snap } = await operations.storeOf(actor(req), req.params.id, req.params.snapshot)
    const q = req.query
    const limit = q.limit ?? 1000
    const needle = q.search?.toLowerCase()
    const listing = repo.ls(snap.id, q.path, needle === undefined && q.children === true ? { children: true, offset: q.offset ?? 0 } : {})
    const out = []
    let more = false
    for await (const e of listing) {
      if (needle !== undefined && !e.path.toLowerCase().includes(needle)) continue
      if (out.length === limit) { more = true; break }
      out.push(e)
    }
    return { snapshot: snap, entries: out, more }
  })

  app.get<{ Querystring: { from?: string, to?: string } }>('/api/data/tasks', {
    config: { access: 'read' },
    schema: { summary: 'Data management table (manual 2.5.1): per task backup size, stored size, copies, runs', tags: ['data'], querystring: { type: 'object', additionalProperties: false, properties: { ...timeRange } } }
  }, async (req) => {
    const u = who(req).user
    const jobs = await runner.list()
    const rows: DataRow[] = []
    for (const t of await ctx.tasks.list(u)) {
      const space = await ctx.inventory.space(u, t.spaceId)
      let snaps: Awaited<ReturnType<typeof operations.snapshots>> = []
      try { snaps = await operations.snapshots(actor(req), space.id, t.id, req.query) } catch { snaps = [] }
      rows.push({
        taskId: t.id, taskName: t.name, agentType: t.agentType, spaceId: space.id, spaceName: space.name,
        backupBytes: snaps.at(-1)?.stats.bytesTotal ?? 0,
        storedBytes: await operations.storedBytes(actor(req), space.id, t.id, snaps.map(s => s.id)),
        copies: snaps.length,
        runs: jobs.filter(j => j.taskId === t.id && j.type === 'backup').length
      })
    }
    return rows
  })

  app.get<{ Querystring: { page?: number, pageSize?: number } }>('/api/drills', {
    config: { access: 'read' },
    schema: { summary: 'DR drill history: pass or fail per drill (F8)', tags: ['data'], querystring: { type: 'object', additionalProperties: false, properties: { ...page } } }
  }, async (req) => paged((await runner.list()).filter(j => j.type === 'drill' && sees(who(req).user, j)).map(j => ({ ...j, passed: j.result?.passed === true })), req.query))
}
