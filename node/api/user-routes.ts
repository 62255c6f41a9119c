import type { FastifyInstance } from 'fastify'
import { publicUser, type Role, type NotificationPrefs, type ReportPrefs } from '../auth/index.ts'
import { who } from './server.ts'
import type { ApiContext, RouteOptions } from './context.ts'
import { idParam, loginResponseSchema, okReply, roleEnum } from './schemas.ts'
import type { LoginResponse } from '../../crypto/index.ts'
import { LOG_LEVELS, LOG_TYPES, said } from '../logs/index.ts'
import { InUseError } from '../inventory/index.ts'
import { SelfRemovalError } from './errors.ts'

const tags = ['users']
const email = { type: 'string', format: 'email', maxLength: 254 } as const
const userName = { type: 'string', minLength: 3, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' } as const
const notificationsSchema = {
  type: 'object', additionalProperties: false, required: ['enabled', 'types', 'levels', 'mode'],
  properties: {
    enabled: { type: 'boolean' },
    types: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...LOG_TYPES] } },
    levels: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...LOG_LEVELS] } },
    mode: { type: 'string', enum: ['immediate', 'digest'] },
    digestTime: { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', default: '09:00' },
    timeZone: { type: 'string', minLength: 1, maxLength: 64, default: 'UTC' }
  }
} as const
const reportsSchema = {
  type: 'object', additionalProperties: false, required: ['enabled', 'cycle', 'types'],
  properties: {
    enabled: { type: 'boolean' },
    cycle: { type: 'string', enum: ['day', 'week', 'month', 'year'] },
    types: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: ['clients', 'tasks'] } }
  }
} as const

export async function userRoutes (app: FastifyInstance, ctx: ApiContext, _opts: RouteOptions): Promise<void> {
  const { accounts } = ctx
  const now = (): Date => ctx.clock.now()

  app.get('/api/users', { config: { access: 'admin' }, schema: { summary: 'All users', tags } },
    async () => (await accounts.listUsers()).map(u => publicUser(u, now())))

  app.post<{ Body: { name: string, password: string, role: Role, email?: string } }>('/api/users', {
    config: { access: 'admin', reauth: true },
    schema: { summary: 'Create a user (needs a recent reauth)', tags, body: { type: 'object', required: ['name', 'password', 'role'], additionalProperties: false, properties: { name: userName, password: { type: 'string', minLength: 1, maxLength: 256 }, role: roleEnum, email } } }
  }, async (req, reply) => {
    const { user } = who(req)
    const created = await accounts.createUser(req.body, { user: user.name, source: req.ip })
    await ctx.logs.write({ type: 'user', level: 'info', user: user.name, source: req.ip, message: `User [${user.name}] created user [${created.name}] (${created.role})`, text: said('USER_CREATED_USER', { user: user.name, name: created.name, role: created.role }) })
    return await reply.code(201).send(publicUser(created, now()))
  })

  app.get('/api/users/me', { config: { access: 'read' }, schema: { summary: 'My account (manual 2.1.2 user information)', tags } },
    async (req) => publicUser(who(req).user, now()))

  app.patch<{ Body: { email?: string } }>('/api/users/me', {
    config: { access: 'user', reauth: true },
    schema: { summary: 'Change my e-mail address, where my notifications go (needs a recent reauth)', tags, body: { type: 'object', additionalProperties: false, properties: { email } } }
  }, async (req) => {
    const { user } = who(req)
    return publicUser(await accounts.updateUser(user.id, u => { u.email = req.body.email }, { user: user.name, source: req.ip, action: 'user.email' }), now())
  })

  app.get<{ Params: { id: string } }>('/api/users/:id', { config: { access: 'admin' }, schema: { summary: 'One user', tags, params: idParam } },
    async (req) => publicUser(await accounts.getUser(req.params.id), now()))

  app.patch<{ Params: { id: string }, Body: { role?: Role, email?: string, enabled?: boolean, unlock?: boolean, password?: string } }>('/api/users/:id', {
    config: { access: 'admin', reauth: true },
    schema: {
      summary: 'Change role, e-mail, enabled state; unlock; set a new password (needs a recent reauth)', tags, params: idParam,
      body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { role: roleEnum, email, enabled: { type: 'boolean' }, unlock: { type: 'boolean' }, password: { type: 'string', minLength: 1, maxLength: 256 } } }
    }
  }, async (req) => {
    const { user } = who(req)
    const b = req.body
    if (b.password !== undefined) await accounts.setPassword(req.params.id, b.password, { user: user.name, source: req.ip })
    const updated = await accounts.updateUser(req.params.id, u => {
      if (b.role !== undefined) u.role = b.role
      if (b.email !== undefined) u.email = b.email
      if (b.enabled !== undefined) u.enabled = b.enabled
      if (b.unlock === true) { u.lockedUntil = undefined; u.failedLogins = 0 }
    }, { user: user.name, source: req.ip, action: 'user.update', detail: { ...b, password: b.password === undefined ? undefined : '(changed)' } })
    if (b.enabled === false) for (const s of await accounts.sessionsOf(updated.id)) await accounts.endSession(s)
    return publicUser(updated, now())
  })

  app.delete<{ Params: { id: string } }>('/api/users/:id', {
    config: { access: 'admin', reauth: true },
    schema: { summary: 'Remove a user who owns no spaces, tasks or clients; not yourself (needs a recent POST /api/auth/reauth)', tags, params: idParam, response: { 200: okReply } }
  }, async (req) => {
    const { user } = who(req)
    if (req.params.id === user.id) throw new SelfRemovalError()
    // A user who still owns spaces, tasks or clients would leave them with no owner nobody can see.
    const owned = async (collection: 'spaces' | 'tasks' | 'nodes', what: string): Promise<string[]> =>
      (await ctx.state.list<{ ownerId?: string, name: string }>(collection)).filter(r => r.ownerId === req.params.id).map(r => `${what} ${r.name}`)
    const uses = [...await owned('spaces', 'space'), ...await owned('tasks', 'task'), ...await owned('nodes', 'client')]
    if (uses.length > 0) throw new InUseError('user', uses.join(', '))
    const removed = await accounts.getUser(req.params.id)
    await accounts.removeUser(req.params.id, { user: user.name, source: req.ip })
    await ctx.logs.write({ type: 'user', level: 'warning', user: user.name, source: req.ip, message: `User [${user.name}] removed user [${removed.name}]`, text: said('USER_REMOVED_USER', { user: user.name, name: removed.name }) })
    return { ok: true }
  })

  // No reauth here: a challenge changes nothing; the PUT that uses it asks for the password.
  app.post<{ Params: { id: string } }>('/api/users/:id/token/challenge', {
    config: { access: 'admin' },
    schema: {
      summary: 'A challenge for the user\'s USB key to sign through the signing helper before its certificate is enrolled with `proof` (the console\'s enrolment, issue 19). Single use, expires like a login challenge', tags, params: idParam
    }
  }, async (req) => ({ challenge: await accounts.enrolChallenge(req.params.id) }))

  app.put<{ Params: { id: string }, Body: { certificate: string, proof?: LoginResponse } }>('/api/users/:id/token', {
    config: { access: 'admin', reauth: true },
    schema: {
      summary: 'Enrol the USB key certificate (PEM) of a user; login then needs the token (F27). With `proof` (the helper\'s answer to POST …/token/challenge, as for POST /api/auth/login/token) the key must have signed it; without, the certificate alone (`cairn token enroll`, scripts). Needs a recent reauth', tags, params: idParam,
      body: {
        type: 'object', required: ['certificate'], additionalProperties: false,
        properties: { certificate: { type: 'string', minLength: 50, maxLength: 16384 }, proof: loginResponseSchema }
      }
    }
  }, async (req) => {
    const { user } = who(req)
    return publicUser(await accounts.enrolCertificate(req.params.id, req.body.certificate, { user: user.name, source: req.ip }, req.body.proof), now())
  })

  app.delete<{ Params: { id: string } }>('/api/users/:id/token', {
    config: { access: 'admin', reauth: true },
    schema: { summary: 'Remove the USB key of a user', tags, params: idParam }
  }, async (req) => {
    const { user } = who(req)
    return publicUser(await accounts.updateUser(req.params.id, u => { u.certificate = undefined; u.certificateFingerprint = undefined }, { user: user.name, source: req.ip, action: 'user.token.remove' }), now())
  })

  app.get('/api/users/me/notifications', { config: { access: 'read' }, schema: { summary: 'My e-mail notification settings (manual 2.9.2)', tags } },
    async (req) => who(req).user.notifications ?? { enabled: false, types: [], levels: [], mode: 'immediate', digestTime: '09:00', timeZone: 'UTC' })

  app.put<{ Body: NotificationPrefs }>('/api/users/me/notifications', {
    config: { access: 'user' },
    schema: { summary: 'Set which log types and levels are mailed to me, immediately or as a daily digest', tags, body: notificationsSchema }
  }, async (req) => {
    const { user } = who(req)
    const updated = await accounts.updateUser(user.id, u => { u.notifications = { ...req.body, lastDigestAt: u.notifications?.lastDigestAt } }, { user: user.name, source: req.ip, action: 'user.notifications', detail: req.body })
    ctx.notifier.reschedule()
    return updated.notifications
  })

  app.get('/api/users/me/reports', { config: { access: 'read' }, schema: { summary: 'My report e-mail settings (manual 2.9.3)', tags } },
    async (req) => who(req).user.reports ?? { enabled: false, cycle: 'week', types: ['clients', 'tasks'] })

  app.put<{ Body: ReportPrefs }>('/api/users/me/reports', {
    config: { access: 'user' },
    schema: { summary: 'Mail me the client and/or task report every day, week, month or year', tags, body: reportsSchema }
  }, async (req) => {
    const { user } = who(req)
    const updated = await accounts.updateUser(user.id, u => { u.reports = { ...req.body, lastSentAt: u.reports?.lastSentAt } }, { user: user.name, source: req.ip, action: 'user.reports', detail: req.body })
    ctx.notifier.reschedule()
    return updated.reports
  })
}

export { okReply }
