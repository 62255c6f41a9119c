import { promisify } from 'node:util'
import { gzip } from 'node:zlib'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { WEBHOOK_EVENTS, toCsv, toXlsx, type SmtpSettings, type WebhookEvent, type ReportKind, type ReportTable } from '../notify/index.ts'
import { LOG_LEVELS, LOG_TYPES, type LogFilter, type LogEntry } from '../logs/index.ts'
import { ForbiddenError } from '../auth/index.ts'
import { RequestInvalidError, SmtpPasswordRequiredError } from './errors.ts'
import { who } from './server.ts'
import type { ApiContext, RouteOptions } from './context.ts'
import { idParam, okReply, page, paged, printable, timeRange } from './schemas.ts'

const logQuery = {
  type: 'object', additionalProperties: false,
  properties: { user: printable(0, 64), type: { type: 'string', enum: [...LOG_TYPES] }, level: { type: 'string', enum: [...LOG_LEVELS] }, ...timeRange }
} as const
const formatQuery = { format: { type: 'string', enum: ['csv', 'xlsx', 'json'], default: 'csv' } } as const

export async function logRoutes (app: FastifyInstance, ctx: ApiContext, _opts: RouteOptions): Promise<void> {
  const filterFor = (req: FastifyRequest, q: LogFilter): LogFilter => {
    const u = who(req).user
    return { ...q, ...(u.role === 'operator' ? { ownerId: u.id } : {}) }
  }
  const logTable = (entries: LogEntry[]): ReportTable => ({
    title: 'Logs',
    columns: [{ key: 'time', header: 'Creation time' }, { key: 'type', header: 'Log type' }, { key: 'user', header: 'User' }, { key: 'source', header: 'Log source' }, { key: 'level', header: 'Log level' }, { key: 'message', header: 'Content' }],
    rows: entries.map(e => ({ time: e.time, type: e.type, user: e.user, source: e.source, level: e.level, message: e.message }))
  })

  app.get<{ Querystring: LogFilter & { page?: number, pageSize?: number } }>('/api/logs', {
    config: { access: 'read' },
    schema: { summary: 'Log list, newest first, filtered by user, time range, type, level; paged (manual 2.9.1)', tags: ['logs'], querystring: { ...logQuery, properties: { ...logQuery.properties, ...page } } }
  }, async (req) => {
    const { page: p, pageSize, ...f } = req.query
    return paged(await ctx.logs.query(filterFor(req, f)), { page: p, pageSize })
  })

  app.get<{ Querystring: LogFilter & { format?: 'csv' | 'xlsx' | 'json' } }>('/api/logs/download', {
    config: { access: 'read' },
    schema: { summary: 'Download the (filtered) log as CSV, xlsx or JSON (manual 2.1.2 "log download")', tags: ['logs'], querystring: { ...logQuery, properties: { ...logQuery.properties, ...formatQuery } } }
  }, async (req, reply) => {
    const { format = 'csv', ...f } = req.query
    const entries = await ctx.logs.query(filterFor(req, f))
    const day = ctx.clock.now().toISOString().slice(0, 10)
    if (format === 'json') return entries
    void reply.header('content-disposition', `attachment; filename="${day}_logs.${format}"`)
    if (format === 'xlsx') return await reply.type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet').send(await toXlsx(logTable(entries)))
    return await reply.type('text/csv; charset=utf-8').send(toCsv(logTable(entries)))
  })

  app.get('/api/logs/bundle', {
    config: { access: 'read' },
    schema: { summary: 'The node\'s logs packed for a support request (manual 2.1.2 "log download"): gzip\'d JSON lines of the node\'s facts, the log list and every job with its log lines; an operator\'s own only', tags: ['logs'] }
  }, async (req, reply) => {
    const u = who(req).user
    const local = await ctx.inventory.localNode()
    const lines: unknown[] = [{ kind: 'node', time: ctx.clock.now().toISOString(), startedAt: ctx.startedAt.toISOString(), version: local?.version, name: local?.name, hostname: local?.hostname, os: local?.os, ip: local?.ip, node: process.version }]
    for (const e of await ctx.logs.query(filterFor(req, {}))) lines.push({ kind: 'log', ...e })
    for (const j of await ctx.runner.list()) {
      if (u.role === 'operator' && j.ownerId !== u.id) continue
      lines.push({ kind: 'job', ...j })
      for (const l of await ctx.runner.logOf(j.id)) lines.push({ kind: 'job-log', jobId: j.id, ...l })
    }
    const stamp = ctx.clock.now().toISOString().slice(0, 19).replaceAll(':', '')
    void reply.header('content-disposition', `attachment; filename="cairn-logs-${(local?.name ?? 'node').replace(/[^A-Za-z0-9_.-]/g, '_')}-${stamp}.jsonl.gz"`)
    return await reply.type('application/gzip').send(await promisify(gzip)(lines.map(l => JSON.stringify(l)).join('\n') + '\n'))
  })

  app.get<{ Querystring: { from?: number, limit?: number } }>('/api/audit', {
    config: { access: 'read' },
    schema: { summary: 'Append-only audit log of every change (admins and auditors)', tags: ['logs'], querystring: { type: 'object', additionalProperties: false, properties: { from: { type: 'integer', minimum: 1 }, limit: { type: 'integer', minimum: 1, maximum: 5000, default: 1000 } } } }
  }, async (req) => {
    if (who(req).user.role === 'operator') {
      throw new ForbiddenError('read the audit log (admins and auditors)')
    }
    return await ctx.logs.auditTrail(req.query)
  })

  app.get('/api/audit/verify', { config: { access: 'read' }, schema: { summary: 'Recompute the audit chain with the node\'s audit key (admins and auditors); ok=false names the first altered record', tags: ['logs'] } },
    async (req) => {
      if (who(req).user.role === 'operator') throw new ForbiddenError('verify the audit log (admins and auditors)')
      return await ctx.logs.verifyAudit()
    })

  app.get('/api/settings/smtp', { config: { access: 'admin' }, schema: { summary: 'Mail server settings (password not shown)', tags: ['settings'] } },
    async () => {
      const s = await ctx.mailer.settings()
      return s === undefined ? null : { ...s, password: s.password === undefined ? undefined : '********' }
    })

  app.put<{ Body: SmtpSettings }>('/api/settings/smtp', {
    config: { access: 'admin', reauth: true },
    schema: {
      summary: 'Set the mail server used for notifications and reports; without a password the stored one is kept only for the same host, port and user (else 400 SmtpPasswordRequiredError). Needs a recent reauth', tags: ['settings'],
      body: { type: 'object', additionalProperties: false, required: ['host', 'port', 'secure', 'from'], properties: { host: printable(1, 255), port: { type: 'integer', minimum: 1, maximum: 65535 }, secure: { type: 'boolean' }, user: printable(0, 255), password: { type: 'string', maxLength: 255 }, from: printable(3, 255), allowSelfSigned: { type: 'boolean' } } },
      response: { 200: okReply }
    }
  }, async (req) => {
    // GET shows the password masked, so a form sends none unless it changes: the stored password
    // is kept only while it would go to the same place (host, port and user); else it is asked for.
    const before = await ctx.mailer.settings()
    const b = req.body
    const sameDestination = before !== undefined && before.host.toLowerCase() === b.host.toLowerCase() && before.port === b.port && before.user === b.user
    if (b.password === undefined && b.user !== undefined && before?.password !== undefined && !sameDestination) throw new SmtpPasswordRequiredError()
    const password = b.password ?? (sameDestination && b.user !== undefined ? before.password : undefined)
    await ctx.mailer.configure({ ...req.body, ...(password !== undefined ? { password } : {}) })
    await ctx.logs.audit({ user: who(req).user.name, source: req.ip, action: 'settings.smtp', target: 'smtp', detail: { ...req.body, password: undefined } })
    return { ok: true }
  })

  app.post<{ Body: { to?: string } }>('/api/settings/smtp/test', {
    config: { access: 'admin' },
    schema: { summary: 'Send a test mail (to me, or to "to")', tags: ['settings'], body: { type: 'object', additionalProperties: false, properties: { to: { type: 'string', format: 'email' } } }, response: { 200: okReply } }
  }, async (req) => {
    const to = req.body?.to ?? who(req).user.email
    if (to === undefined) {
      throw new RequestInvalidError('Set your e-mail address first (PATCH /api/users/me) or give "to"')
    }
    await ctx.mailer.send({ to, subject: '[Cairn] Test mail', text: 'Mail from your Cairn node works.\n' })
    return { ok: true }
  })

  const hookView = <T extends { secret: string }>(h: T): Omit<T, 'secret'> => { const { secret: _s, ...rest } = h; return rest }

  app.get('/api/webhooks', { config: { access: 'admin' }, schema: { summary: 'Webhooks (secrets not shown)', tags: ['webhooks'] } },
    async () => (await ctx.webhooks.list()).map(hookView))

  app.post<{ Body: { url: string, events: WebhookEvent[], secret?: string, allowLocal?: boolean } }>('/api/webhooks', {
    config: { access: 'admin', reauth: true },
    schema: {
      summary: 'Subscribe a URL to events; the answer shows the HMAC secret once. Deliveries carry X-Cairn-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "t.body")>. Loopback, link-local and unspecified targets only with allowLocal. Needs a recent reauth', tags: ['webhooks'],
      body: { type: 'object', additionalProperties: false, required: ['url', 'events'], properties: { url: { type: 'string', format: 'uri', pattern: '^https?://', maxLength: 2048 }, events: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...WEBHOOK_EVENTS] } }, secret: { type: 'string', minLength: 16, maxLength: 256 }, allowLocal: { type: 'boolean', description: 'Allow a target on this machine or its link (lab receivers)' } } }
    }
  }, async (req, reply) => {
    const hook = await ctx.webhooks.create(req.body)
    await ctx.logs.audit({ user: who(req).user.name, source: req.ip, action: 'webhook.create', target: hook.id, detail: { url: hook.url, events: hook.events, allowLocal: hook.allowLocal === true } })
    return await reply.code(201).send(hook)
  })

  app.patch<{ Params: { id: string }, Body: { url?: string, events?: WebhookEvent[], enabled?: boolean, allowLocal?: boolean } }>('/api/webhooks/:id', {
    config: { access: 'admin', reauth: true },
    schema: { summary: 'Change or pause a webhook', tags: ['webhooks'], params: idParam, body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { url: { type: 'string', format: 'uri', pattern: '^https?://', maxLength: 2048 }, events: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...WEBHOOK_EVENTS] } }, enabled: { type: 'boolean' }, allowLocal: { type: 'boolean' } } } }
  }, async (req) => {
    const hook = await ctx.webhooks.update(req.params.id, req.body)
    await ctx.logs.audit({ user: who(req).user.name, source: req.ip, action: 'webhook.update', target: hook.id, detail: req.body })
    return hookView(hook)
  })

  app.delete<{ Params: { id: string } }>('/api/webhooks/:id', {
    config: { access: 'admin', reauth: true },
    schema: { summary: 'Remove a webhook', tags: ['webhooks'], params: idParam, response: { 200: okReply } }
  }, async (req) => {
    await ctx.webhooks.remove(req.params.id)
    await ctx.logs.audit({ user: who(req).user.name, source: req.ip, action: 'webhook.remove', target: req.params.id })
    return { ok: true }
  })

  app.get<{ Params: { id: string }, Querystring: { page?: number, pageSize?: number } }>('/api/webhooks/:id/deliveries', {
    config: { access: 'admin' },
    schema: { summary: 'Delivery log of a webhook: each attempt with status or error', tags: ['webhooks'], params: idParam, querystring: { type: 'object', additionalProperties: false, properties: { ...page } } }
  }, async (req) => { await ctx.webhooks.get(req.params.id); return paged(await ctx.webhooks.deliveries(req.params.id), req.query) })

  app.get<{ Params: { kind: ReportKind }, Querystring: { format?: 'csv' | 'xlsx' | 'json' } }>('/api/reports/:kind', {
    config: { access: 'read' },
    schema: {
      summary: 'Client or task report (manual 2.9.3) as JSON, CSV or xlsx', tags: ['reports'],
      params: { type: 'object', required: ['kind'], additionalProperties: false, properties: { kind: { type: 'string', enum: ['clients', 'tasks'] } } },
      querystring: { type: 'object', additionalProperties: false, properties: { format: { type: 'string', enum: ['csv', 'xlsx', 'json'], default: 'json' } } }
    }
  }, async (req, reply) => {
    const table = await ctx.reports(req.params.kind, who(req).user)
    const format = req.query.format ?? 'json'
    if (format === 'json') return table
    const day = ctx.clock.now().toISOString().slice(0, 10)
    void reply.header('content-disposition', `attachment; filename="${day}_${req.params.kind}.${format}"`)
    if (format === 'xlsx') return await reply.type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet').send(await toXlsx(table))
    return await reply.type('text/csv; charset=utf-8').send(toCsv(table))
  })

  app.post('/api/reports/send', {
    config: { access: 'user' },
    schema: { summary: 'Mail me my report selection now', tags: ['reports'], response: { 200: okReply } }
  }, async (req) => { await ctx.notifier.sendReportsNow(who(req).user.id); return { ok: true } })
}
