import type { FastifyInstance } from 'fastify'
import { who } from './server.ts'
import type { ApiContext, RouteOptions } from './context.ts'
import { idParam, printable, PRINTABLE } from './schemas.ts'
import type { AdoptRequest } from '../jobs/index.ts'

const tags = ['spaces']
const id100 = { type: 'string', minLength: 1, maxLength: 100 } as const

/** DR restore through the daemon (F13, doc/mesh.md "Restoring at a DR site"): key escrow at the origin, adoption at the DR site. */
export async function escrowRoutes (app: FastifyInstance, ctx: ApiContext, _opts: RouteOptions): Promise<void> {
  app.post<{ Params: { id: string } }>('/api/spaces/:id/escrow', {
    config: { access: 'admin', reauth: true },
    schema: {
      summary: 'Take a user space\'s keys into escrow for a DR site: creates its store if it has none, puts a new recovery slot into its key file (replacing the previous escrow slot) and answers once with { config, keys, recoveryKey, tasks, site }. Keep the answer apart from this site. Needs a recent reauth',
      tags, params: idParam
    }
  }, async (req) => await ctx.escrow.escrow({ user: who(req).user, source: req.ip }, req.params.id))

  app.post<{ Body: AdoptRequest }>('/api/spaces/adopt', {
    config: { access: 'admin', reauth: true },
    schema: {
      summary: 'At a DR site, adopt a lost site\'s escrowed keys as a replication space over the mesh replica: its snapshots list and restore like any space\'s; backup, clean and prune are refused. Checked before anything is stored (a wrong recovery key is a 400). Needs the mesh and a recent reauth',
      tags,
      body: {
        type: 'object', additionalProperties: false, required: ['name', 'nodeId', 'ownerId', 'config', 'keys', 'recoveryKey'],
        properties: {
          name: printable(1, 64), nodeId: id100, ownerId: id100,
          config: { type: 'object', maxProperties: 32, description: 'The escrowed config.json' },
          keys: { type: 'object', maxProperties: 32, description: 'The escrowed keys.json' },
          recoveryKey: { type: 'string', minLength: 1, maxLength: 200, description: 'The recovery key of the escrow (8 groups of 5 characters)' },
          site: { type: ['string', 'null'], minLength: 1, maxLength: 64, pattern: PRINTABLE, description: 'The site the escrow came from (the escrow\'s "site"; null: unknown)' },
          tasks: { type: 'array', maxItems: 10_000, description: 'That site\'s tasks (the escrow\'s "tasks"): names for its snapshots', items: { type: 'object', additionalProperties: false, required: ['id', 'name'], properties: { id: id100, name: printable(1, 64) } } }
        }
      }
    }
  }, async (req, reply) => await reply.code(201).send(await ctx.escrow.adopt({ user: who(req).user, source: req.ip }, req.body)))
}
