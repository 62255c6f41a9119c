import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import cookie from '@fastify/cookie'
import { AjvCompiler } from '@fastify/ajv-compiler'
import { CairnError } from '../state/index.ts'
import { CsrfTokenError, ForbiddenError, NotAuthenticatedError, ReauthenticationRequiredError, type Session, type User } from '../auth/index.ts'
import { RouteNotFoundError, STATUS_OF_KIND, STATUS_OF_LOWER_ERROR } from './errors.ts'
import { openApiDocument, routeDoc, type RouteDoc } from './openapi.ts'
import type { ApiContext } from './context.ts'

/**
 * Who may call a route. read: any logged-in role; user: any role, acting on itself (logout,
 * own sessions, own password); write: admin and operator; admin: admin only.
 */
export type Access = 'public' | 'read' | 'user' | 'write' | 'admin'

declare module 'fastify' {
  interface FastifyContextConfig { access?: Access, reauth?: boolean }
  interface FastifyRequest { auth?: { user: User, session: Session } }
  interface FastifySchema { summary?: string, description?: string, tags?: string[] }
}

export const sessionCookieName = (tls: boolean): string => tls ? '__Host-cairn_session' : 'cairn_session'

/**
 * The console is a static build with no inline script or style; it talks to this origin and to
 * the USB-key signing helper on the operator's own machine (F27). Nothing may frame it.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "font-src 'self'",
  "connect-src 'self' http://127.0.0.1:* http://localhost:*", "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'"
].join('; ')

/** TLS 1.2 suites offered: ECDHE with an AEAD only (no CBC, CCM8 or ARIA); TLS 1.3's are all AEAD. */
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305'
].join(':')

/** Deepest nesting of objects and arrays a JSON body may have (deeper ones exhausted the stack). */
export const MAX_JSON_DEPTH = 32

/** The deepest nesting in a JSON text, counted without parsing it (and without recursion). */
export function jsonDepth (text: string): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 123 || c === 91) { if (++depth > max) max = depth } else if (c === 125 || c === 93) depth--
  }
  return max
}

/** The schema of a change route that takes no body: nothing, or an empty object. */
const NO_BODY = { type: ['object', 'null'], additionalProperties: false, maxProperties: 0, description: 'No body (or {})' } as const

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/**
 * For a change that needs a recent re-authentication only with some of its fields (a node's
 * owner, agents or roots): throws unless the session confirmed a password (or logged in) lately.
 */
export function requireRecentAuth (req: FastifyRequest, accounts: { recentlyAuthenticated: (s: Session) => boolean }): void {
  if (!accounts.recentlyAuthenticated(who(req).session)) throw new ReauthenticationRequiredError()
}

/** The logged-in user of a route that has `access` other than public. */
export function who (req: FastifyRequest): { user: User, session: Session } {
  if (req.auth === undefined) throw new NotAuthenticatedError()
  return req.auth
}

export async function createApiServer (ctx: ApiContext, options: { https?: { key: string, cert: string }, version: string, logger?: FastifyServerOptions['logger'] }): Promise<FastifyInstance> {
  const tls = options.https !== undefined
  const app = Fastify({
    logger: options.logger ?? false,
    ...(tls ? { https: { ...options.https, minVersion: 'TLSv1.2', ciphers: TLS_CIPHERS, honorCipherOrder: true } } : {}),
    bodyLimit: 1024 * 1024,
    // Unknown fields are an error, not silently dropped: a typo in a request must not go unnoticed.
    // Bodies are JSON and typed already, so nothing in them is coerced (`"name": true` stays a
    // boolean and is refused); query strings and path parameters are text, so they are coerced.
    schemaController: {
      compilersFactory: {
        buildValidator: (externalSchemas: Parameters<ReturnType<typeof AjvCompiler>>[0]) => {
          const factory = AjvCompiler()
          const base = { removeAdditional: false, useDefaults: true, allErrors: false }
          const strict = factory(externalSchemas, { customOptions: { ...base, coerceTypes: false } } as never)
          const coercing = factory(externalSchemas, { customOptions: { ...base, coerceTypes: 'array' } } as never)
          return (route: { httpPart?: string }) => route.httpPart === 'body' ? strict(route as never) : coercing(route as never)
        }
      }
    },
    // Keep-alive for API clients (the console polls); a request must arrive whole within a minute.
    keepAliveTimeout: 65_000,
    requestTimeout: 60_000,
    forceCloseConnections: true,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // Errors the router and body parser raise before any hook runs get the same { name, message } shape.
    frameworkErrors: (err: { statusCode?: number, message: string }, _req: unknown, reply: { code: (n: number) => { send: (b: unknown) => void } }) => {
      const code = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400
      reply.code(code).send({ name: code === 414 ? 'RequestTooLongError' : 'RequestInvalidError', message: err.message.slice(0, 200) })
    }
  } as FastifyServerOptions) as unknown as FastifyInstance
  const routes: RouteDoc[] = []
  app.addHook('onRoute', r => {
    // Every change route has a body schema; one that takes no body accepts nothing or {}.
    const methods = Array.isArray(r.method) ? r.method : [r.method]
    if (methods.some(m => STATE_CHANGING.has(m)) && r.schema?.body === undefined) r.schema = { ...r.schema, body: NO_BODY }
    routes.push(...routeDoc(r))
  })
  // JSON bodies nested deeper than MAX_JSON_DEPTH are refused before they are parsed.
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (jsonDepth(body as string) > MAX_JSON_DEPTH) {
      done(Object.assign(new Error(`The JSON body is nested more than ${MAX_JSON_DEPTH} levels deep`), { statusCode: 400 }), undefined)
      return
    }
    parseJson(req, body as string, done)
  })
  await app.register(cookie)
  const cookieName = sessionCookieName(tls)

  app.addHook('onRequest', async (req, reply) => {
    void reply.header('x-content-type-options', 'nosniff')
    void reply.header('x-frame-options', 'DENY')
    void reply.header('content-security-policy', CONTENT_SECURITY_POLICY)
    void reply.header('referrer-policy', 'no-referrer')
    void reply.header('cache-control', 'no-store')
    if (tls) void reply.header('strict-transport-security', 'max-age=31536000')
    ctx.metrics.request()
    const access = req.routeOptions.config.access ?? 'public'
    if (access === 'public') return
    req.auth = await ctx.accounts.authenticate(req.cookies[cookieName])
    const role = req.auth.user.role
    if (STATE_CHANGING.has(req.method)) {
      if (!ctx.accounts.checkCsrf(req.auth.session, req.headers['x-csrf-token'] as string | undefined)) throw new CsrfTokenError()
      if (role === 'auditor' && access !== 'user') throw new ForbiddenError('change anything (auditors are read-only)')
    }
    if (access === 'write' && role === 'auditor') throw new ForbiddenError('change anything (auditors are read-only)')
    if (access === 'admin' && role !== 'admin') throw new ForbiddenError('do this (admins only)')
    if (req.routeOptions.config.reauth === true && !ctx.accounts.recentlyAuthenticated(req.auth.session)) throw new ReauthenticationRequiredError()
  })

  app.setErrorHandler(async (err: any, req, reply) => {
    if (err instanceof CairnError) {
      const status = STATUS_OF_KIND[err.kind]
      if (status >= 500) req.log.error(err)
      return await reply.code(status).send({ name: err.name, message: err.message })
    }
    const lower = typeof err?.name === 'string' ? STATUS_OF_LOWER_ERROR[err.name] : undefined
    if (lower !== undefined) return await reply.code(lower).send({ name: err.name, message: String(err.message) })
    if (err?.validation !== undefined) {
      return await reply.code(400).send({ name: 'RequestInvalidError', message: `${err.validationContext ?? 'request'}${err.validation[0]?.instancePath ?? ''} ${err.validation[0]?.message ?? err.message}`.trim() })
    }
    const code = typeof err?.statusCode === 'number' ? err.statusCode : 500
    if (code >= 400 && code < 500) {
      const name = code === 413 ? 'RequestTooLargeError' : code === 415 ? 'MediaTypeUnsupportedError' : 'RequestInvalidError'
      return await reply.code(code).send({ name, message: String(err.message ?? 'Bad request') })
    }
    req.log.error(err)
    ctx.metrics.serverError()
    // The operator sees internal errors in the log list; the client gets no internals.
    void ctx.logs.write({ type: 'system', level: 'error', user: req.auth?.user.name ?? 'anonymous', source: req.ip, message: `Internal error on ${req.method} ${req.routeOptions.url ?? req.url}: ${String(err?.message ?? err)}` }).catch(() => {})
    return await reply.code(500).send({ name: 'InternalError', message: 'The node failed to answer; the node log has details' })
  })

  app.setNotFoundHandler(async (req, reply) => {
    const e = new RouteNotFoundError(req.method, req.url.split('?')[0])
    return await reply.code(404).send({ name: e.name, message: e.message })
  })

  app.get('/api/health', {
    schema: {
      summary: 'Liveness and version; no login needed', tags: ['system'],
      response: { 200: { type: 'object', properties: { status: { type: 'string' }, version: { type: 'string' }, uptimeSeconds: { type: 'number' }, time: { type: 'string' } } } }
    }
  }, async () => ({ status: 'ok', version: options.version, uptimeSeconds: Math.round(process.uptime()), time: ctx.clock.now().toISOString() }))

  app.get('/api/openapi.json', { schema: { summary: 'This API as an OpenAPI 3.1 document', tags: ['system'] } }, async () => openApiDocument(routes, { version: options.version }))

  for (const register of ctx.routeModules) await register(app, ctx, { cookieName, tls })
  return app
}
