import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import cookie from '@fastify/cookie'
import { AjvCompiler } from '@fastify/ajv-compiler'
import { CairnError, errorRecord, InternalError } from '../../crypto/index.ts'
import { said, saidError } from '../logs/index.ts'
import { CsrfTokenError, ForbiddenError, NotAuthenticatedError, ReauthenticationRequiredError, type Session, type User } from '../auth/index.ts'
import { MediaTypeUnsupportedError, RequestInvalidError, RequestTooLargeError, RequestTooLongError, RouteNotFoundError } from './errors.ts'
import { httpStatusOf } from './error-status.ts'
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
    // Errors the router and body parser raise before any hook runs get the same { name, code, message } shape.
    frameworkErrors: (err: { statusCode?: number, message: string }, _req: unknown, reply: { code: (n: number) => { send: (b: unknown) => void } }) => {
      const e = err.statusCode === 414 ? new RequestTooLongError(err.message.slice(0, 200)) : new RequestInvalidError(err.message.slice(0, 200))
      reply.code(httpStatusOf(e)).send(errorRecord(e))
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
      done(new RequestInvalidError(`The JSON body is nested more than ${MAX_JSON_DEPTH} levels deep`), undefined)
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
    const e = err instanceof CairnError ? err : frameworkError(err)
    const status = httpStatusOf(e)
    if (status >= 500) req.log.error(err)
    if (e !== undefined && status !== 500) return await reply.code(status).send(errorRecord(e))
    ctx.metrics.serverError()
    // The operator sees internal errors in the log list; the client gets no internals.
    void ctx.logs.write({ type: 'system', level: 'error', user: req.auth?.user.name ?? 'anonymous', source: req.ip, message: `Internal error on ${req.method} ${req.routeOptions.url ?? req.url}: ${String(err?.message ?? err)}`, text: said('INTERNAL_ERROR', { route: `${req.method} ${req.routeOptions.url ?? req.url}`, ...saidError(err) }) }).catch(() => {})
    return await reply.code(500).send(errorRecord(new InternalError('The node failed to answer; the node log has details')))
  })

  app.setNotFoundHandler(async (req, reply) => {
    const e = new RouteNotFoundError(req.method, req.url.split('?')[0])
    return await reply.code(httpStatusOf(e)).send(errorRecord(e))
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

/**
 * What a console needs to say which field is wrong in its user's language: the field (the last
 * part of the path, or the missing or extra property), the rule it broke (the schema keyword) and
 * the rule's limit, if any.
 */
function validationParams (v: any): Record<string, string | number> {
  const p = v?.params ?? {}
  const field = String(p.missingProperty ?? p.additionalProperty ?? String(v?.instancePath ?? '').split('/').filter(Boolean).pop() ?? '')
  const limit = p.limit ?? p.allowedValues?.join(', ') ?? p.format
  return { field, rule: String(v?.keyword ?? 'invalid'), ...(limit !== undefined ? { limit: typeof limit === 'number' ? limit : String(limit) } : {}) }
}

/** Fastify's own 4xx errors (schema validation, body size, content type) as the API's error classes. */
function frameworkError (err: any): CairnError | undefined {
  if (err?.validation !== undefined) {
    const v = err.validation[0]
    return new RequestInvalidError(`${err.validationContext ?? 'request'}${v?.instancePath ?? ''} ${v?.message ?? err.message}`.trim(), { params: validationParams(v) })
  }
  const status = typeof err?.statusCode === 'number' ? err.statusCode : 500
  if (status < 400 || status >= 500) return undefined
  const message = String(err.message ?? 'Bad request')
  return status === 413 ? new RequestTooLargeError(message) : status === 415 ? new MediaTypeUnsupportedError(message) : new RequestInvalidError(message)
}
