import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import fastifyStatic from '@fastify/static'
import type { ApiContext, RouteOptions } from './context.ts'
import { projectRoot } from '../project-root.ts'

/** Where `npm run build:console` (run by `npm install`) puts the web console (F26). */
export const consoleDist = (): string => join(projectRoot(), 'console', 'dist') + '/'

/**
 * Serves the built web console at `/` (index.html and its hashed assets); the console routes
 * with the URL hash, so every other path stays the API's. Without a build the node still runs
 * and `/` says how to make one.
 */
export async function consoleStatic (app: FastifyInstance, _ctx: ApiContext, _opts: RouteOptions): Promise<void> {
  const dist = consoleDist()
  if (!existsSync(dist + 'index.html')) {
    app.get('/', { schema: { summary: 'The web console (not built on this node)', tags: ['system'] } }, async (_req, reply) =>
      await reply.code(404).type('text/plain; charset=utf-8').send(`The web console is not built on this node (no ${dist}index.html): run \`npm run build:console\` in ${projectRoot()} and restart \`cairn serve\`.\n`))
    return
  }
  // Two documented routes and sendFile (no wildcard): no path of the API can be shadowed by a file.
  await app.register(fastifyStatic, { root: dist, serve: false })
  app.get('/', { schema: { summary: 'The web console (F26): its index.html', tags: ['console'] } }, async (_req, reply) => await reply.sendFile('index.html'))
  app.get<{ Params: { file: string } }>('/assets/:file', {
    schema: {
      summary: 'The web console\'s scripts and styles (hashed names from the Vite build)', tags: ['console'],
      params: { type: 'object', required: ['file'], additionalProperties: false, properties: { file: { type: 'string', maxLength: 200, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' } } }
    }
  }, async (req, reply) => await reply.sendFile(`assets/${req.params.file}`))
}
