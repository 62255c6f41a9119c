import type { FastifyInstance, FastifyReply } from 'fastify'
import { publicUser, type LoginOutcome } from '../auth/index.ts'
import type { LoginResponse } from '../../crypto/index.ts'
import { RecordNotFoundError } from '../state/index.ts'
import { said } from '../logs/index.ts'
import { who } from './server.ts'
import type { ApiContext, RouteOptions } from './context.ts'
import { idParam, loginResponseSchema, okReply, printable } from './schemas.ts'

const tags = ['auth']

export async function authRoutes (app: FastifyInstance, ctx: ApiContext, opts: RouteOptions): Promise<void> {
  const { accounts } = ctx
  const sendOutcome = async (reply: FastifyReply, outcome: LoginOutcome): Promise<unknown> => {
    if (outcome.step === 'token') return { step: 'token', challenge: outcome.challenge, ...(outcome.keyFingerprint !== undefined ? { keyFingerprint: outcome.keyFingerprint } : {}) }
    void reply.setCookie(opts.cookieName, outcome.secret, { path: '/', httpOnly: true, sameSite: 'strict', secure: opts.tls, maxAge: Math.floor(accounts.timeouts.absoluteMs / 1000) })
    ctx.events.emit('login', outcome.user)
    return { step: 'done', user: outcome.user, csrfToken: outcome.session.csrfToken, sessionId: outcome.session.id }
  }

  app.post<{ Body: { username: string, password: string } }>('/api/auth/login', {
    schema: {
      summary: 'Log in with user name and password. Users with a USB key get step "token" and a challenge to sign', tags,
      body: { type: 'object', required: ['username', 'password'], additionalProperties: false, properties: { username: printable(1, 64), password: { type: 'string', minLength: 1, maxLength: 256 } } }
    }
  }, async (req, reply) => await sendOutcome(reply, await accounts.login(req.body.username, req.body.password, req.ip, req.headers['user-agent'] ?? '')))

  app.post<{ Body: LoginResponse }>('/api/auth/login/token', {
    schema: {
      summary: 'Second login step (F27): the signing helper\'s answer — the challenge fields, the origin it signed for, and the token\'s base64 signature over crypto/login-challenge\'s v1 message', tags,
      body: loginResponseSchema
    }
  }, async (req, reply) => await sendOutcome(reply, await accounts.completeTokenLogin(req.body, req.ip, req.headers['user-agent'] ?? '')))

  app.get('/api/auth/session', {
    config: { access: 'read' },
    schema: { summary: 'The logged-in user, this session and its CSRF token', tags }
  }, async (req) => {
    const { user, session } = who(req)
    return { user: publicUser(user, ctx.clock.now()), csrfToken: session.csrfToken, sessionId: session.id, idleTimeoutMs: accounts.timeouts.idleMs, absoluteTimeoutMs: accounts.timeouts.absoluteMs }
  })

  app.post('/api/auth/logout', {
    config: { access: 'user' },
    schema: { summary: 'End this session', tags, response: { 200: okReply } }
  }, async (req, reply) => {
    const { user, session } = who(req)
    await accounts.endSession(session)
    void reply.clearCookie(opts.cookieName, { path: '/' })
    await ctx.logs.write({ type: 'login', level: 'info', user: user.name, source: req.ip, ownerId: user.id, message: `User [${user.name}] logged out`, text: said('USER_LOGGED_OUT', { user: user.name }) })
    await ctx.logs.audit({ user: user.name, source: req.ip, action: 'auth.logout', target: user.id, detail: { session: session.id } })
    return { ok: true }
  })

  app.post<{ Body: { password: string } }>('/api/auth/reauth', {
    config: { access: 'user' },
    schema: {
      summary: 'Confirm the password again: unlocks a locked screen and allows deleting for 5 minutes', tags,
      body: { type: 'object', required: ['password'], additionalProperties: false, properties: { password: { type: 'string', minLength: 1, maxLength: 256 } } },
      response: { 200: okReply }
    }
  }, async (req) => {
    const { user, session } = who(req)
    await accounts.reauthenticate(session, user, req.body.password, req.ip)
    return { ok: true }
  })

  app.get('/api/auth/sessions', {
    config: { access: 'read' },
    schema: { summary: 'My sessions', tags }
  }, async (req) => {
    const { user, session } = who(req)
    return (await accounts.sessionsOf(user.id)).map(s => ({ id: s.id, createdAt: s.createdAt, lastSeenAt: s.lastSeenAt, ip: s.ip, userAgent: s.userAgent, current: s.id === session.id }))
  })

  app.delete<{ Params: { id: string } }>('/api/auth/sessions/:id', {
    config: { access: 'user' },
    schema: { summary: 'End one of my sessions', tags, params: idParam, response: { 200: okReply } }
  }, async (req) => {
    const { user } = who(req)
    const s = (await accounts.sessionsOf(user.id)).find(x => x.id === req.params.id)
    if (s === undefined) throw new RecordNotFoundError('session', req.params.id)
    await accounts.endSession(s)
    return { ok: true }
  })

  app.post<{ Body: { currentPassword: string, newPassword: string } }>('/api/auth/password', {
    config: { access: 'user' },
    schema: {
      summary: 'Change my password; ends my other sessions', tags,
      body: { type: 'object', required: ['currentPassword', 'newPassword'], additionalProperties: false, properties: { currentPassword: { type: 'string', minLength: 1, maxLength: 256 }, newPassword: { type: 'string', minLength: 1, maxLength: 256 } } },
      response: { 200: okReply }
    }
  }, async (req) => {
    const { user, session } = who(req)
    await accounts.reauthenticate(session, user, req.body.currentPassword, req.ip)
    await accounts.setPassword(user.id, req.body.newPassword, { user: user.name, source: req.ip }, session.id)
    return { ok: true }
  })
}
