import type { RouteOptions } from 'fastify'

export interface RouteDoc {
  method: string
  url: string
  schema?: Record<string, any>
  access: string
  reauth: boolean
}

/** Builds the OpenAPI 3.1 document from the routes as registered (their JSON schemas are the truth). */
export function openApiDocument (routes: RouteDoc[], info: { version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const r of routes) {
    if (r.method === 'HEAD' || r.method === 'OPTIONS') continue
    const path = r.url.replace(/:(\w+)/g, '{$1}')
    const s = r.schema ?? {}
    const parameters: unknown[] = []
    for (const [where, key] of [['path', 'params'], ['query', 'querystring']] as const) {
      const props = s[key]?.properties ?? {}
      for (const [name, schema] of Object.entries(props)) {
        parameters.push({ name, in: where, required: where === 'path' || (s[key]?.required ?? []).includes(name), schema })
      }
    }
    const responses: Record<string, unknown> = {}
    for (const [code, schema] of Object.entries(s.response ?? { 200: {} })) {
      responses[code] = { description: code.startsWith('2') ? 'Success' : 'Error', content: { 'application/json': { schema } } }
    }
    responses.default = { description: 'Error: { name, message }', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }
    const op: Record<string, unknown> = {
      operationId: `${r.method.toLowerCase()}${path.replace(/[{}]/g, '').split(/[/-]/).map(p => p.charAt(0).toUpperCase() + p.slice(1)).join('')}`,
      summary: s.summary,
      description: s.description,
      tags: s.tags,
      'x-access': r.access,
      ...(r.reauth ? { 'x-reauth': true } : {}),
      parameters,
      responses
    }
    if (s.body !== undefined) op.requestBody = { required: true, content: { 'application/json': { schema: s.body } } }
    if (r.access !== 'public') op.security = [{ session: [] }]
    paths[path] ??= {}
    paths[path][r.method.toLowerCase()] = op
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Cairn node API',
      version: info.version,
      description: 'JSON under /api/. Log in with POST /api/auth/login; the session is a cookie. Every POST/PUT/PATCH/DELETE needs the X-CSRF-Token header from the login answer. Errors are { name, message }. x-access says which roles may call a route.'
    },
    components: {
      securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: 'cairn_session' } },
      schemas: {
        Error: { type: 'object', required: ['name', 'message'], properties: { name: { type: 'string' }, message: { type: 'string' } } }
      }
    },
    paths
  }
}

export function routeDoc (r: RouteOptions): RouteDoc[] {
  const methods = Array.isArray(r.method) ? r.method : [r.method]
  const config = (r.config ?? {}) as { access?: string, reauth?: boolean }
  return methods.map(m => ({ method: m, url: r.url, schema: r.schema as Record<string, any> | undefined, access: config.access ?? 'public', reauth: config.reauth === true }))
}
