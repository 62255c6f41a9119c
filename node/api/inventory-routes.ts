import type { FastifyInstance } from 'fastify'
import { AGENT_TYPES, CIPHERS, type AgentType, type NodeRecord, type NodeRoots, type SpaceRecord } from '../inventory/index.ts'
import { ForbiddenError } from '../auth/index.ts'
import { requireRecentAuth, who } from './server.ts'
import type { ApiContext, RouteOptions } from './context.ts'
import { idParam, okReply, printable } from './schemas.ts'
import type { NodeView } from './dto.ts'

const nodeName = printable(1, 64)
const agentTypes = { type: 'array', uniqueItems: true, items: { type: 'string', enum: [...AGENT_TYPES] } } as const
const spaceName = printable(1, 64)
const rootList = { type: 'array', maxItems: 100, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 4096, pattern: '^/' } } as const
const rootsSchema = {
  type: 'object', required: ['sources', 'restores'], additionalProperties: false,
  description: 'Folders operators may back up from (sources) and restore into (restores); empty: none',
  properties: { sources: rootList, restores: rootList }
} as const

export async function inventoryRoutes (app: FastifyInstance, ctx: ApiContext, _opts: RouteOptions): Promise<void> {
  const { inventory } = ctx
  const actor = (req: Parameters<typeof who>[0]): { user: ReturnType<typeof who>['user'], source: string } => ({ user: who(req).user, source: req.ip })
  // This node answers the request, so it is seen now; its stored record keeps its start time.
  const nodeView = (n: NodeRecord): NodeView => ({ ...n, online: inventory.online(n), ...(n.local ? { lastSeenAt: ctx.clock.now().toISOString() } : {}) })

  app.get('/api/nodes', { config: { access: 'read' }, schema: { summary: 'Nodes ("clients", manual 2.7) I may see, with online state', tags: ['nodes'] } },
    async (req) => (await inventory.listNodes(who(req).user)).map(nodeView))

  app.post<{ Body: { name: string, hostname: string, os: string, version: string, ip: string, agentTypes?: AgentType[], ownerId?: string } }>('/api/nodes', {
    config: { access: 'admin' },
    schema: {
      summary: 'Register a node', tags: ['nodes'],
      body: { type: 'object', required: ['name', 'hostname', 'os', 'version', 'ip'], additionalProperties: false, properties: { name: nodeName, hostname: printable(1, 255), os: printable(0, 128), version: printable(0, 64), ip: { type: 'string', anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }] }, agentTypes, ownerId: { type: 'string', maxLength: 100 } } }
    }
  }, async (req, reply) => {
    if (req.body.ownerId !== undefined) requireRecentAuth(req, ctx.accounts)
    return await reply.code(201).send(nodeView(await inventory.registerNode(actor(req), req.body)))
  })

  app.get<{ Params: { id: string } }>('/api/nodes/:id', { config: { access: 'read' }, schema: { summary: 'Node details: OS, version, IP, last seen, agents, owner', tags: ['nodes'], params: idParam } },
    async (req) => nodeView(await inventory.node(who(req).user, req.params.id)))

  app.patch<{ Params: { id: string }, Body: { name?: string, agentTypes?: AgentType[], agentConfig?: Record<string, unknown>, ownerId?: string | null, roots?: NodeRoots } }>('/api/nodes/:id', {
    config: { access: 'write' },
    schema: {
      summary: 'Rename, authorise agent types, configure agents, assign to an operator, set the folders operators may reach (owner, agents and roots: admins, after a recent reauth)', tags: ['nodes'], params: idParam,
      body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { name: nodeName, agentTypes, agentConfig: { type: 'object', maxProperties: 50 }, ownerId: { type: ['string', 'null'], maxLength: 100 }, roots: rootsSchema } }
    }
  }, async (req) => {
    const { user } = who(req)
    const b = req.body
    if (user.role !== 'admin' && (b.ownerId !== undefined || b.agentTypes !== undefined || b.roots !== undefined)) {
      throw new ForbiddenError('assign nodes, authorise agents or set their folders (admins only)')
    }
    if (b.ownerId !== undefined || b.agentTypes !== undefined || b.roots !== undefined) requireRecentAuth(req, ctx.accounts)
    return nodeView(await inventory.updateNode(actor(req), req.params.id, b))
  })

  app.delete<{ Params: { id: string } }>('/api/nodes/:id', {
    config: { access: 'admin', reauth: true },
    schema: { summary: 'Remove a node with no spaces or tasks', tags: ['nodes'], params: idParam, response: { 200: okReply } }
  }, async (req) => { await inventory.removeNode(actor(req), req.params.id); return { ok: true } })

  app.post<{ Params: { id: string }, Body: { ip?: string, version?: string, os?: string } }>('/api/nodes/:id/heartbeat', {
    config: { access: 'admin' },
    schema: { summary: 'A node reports it is alive (updates last seen)', tags: ['nodes'], params: idParam, body: { type: 'object', additionalProperties: false, properties: { ip: printable(0, 64), version: printable(0, 64), os: printable(0, 128) } } }
  }, async (req) => nodeView(await inventory.heartbeat(req.params.id, req.body ?? {})))

  app.get('/api/spaces', { config: { access: 'read' }, schema: { summary: 'User spaces (manual 2.8) with capacity and usage', tags: ['spaces'] } },
    async (req) => (await inventory.listSpaces(who(req).user)).map(spaceView))

  app.post<{ Body: Omit<SpaceRecord, 'id' | 'createdAt' | 'usedBytes'> }>('/api/spaces', {
    config: { access: 'admin', reauth: true },
    schema: {
      summary: 'Create a user space for an operator (it gives them ownership: needs a recent reauth)', tags: ['spaces'],
      body: {
        type: 'object', required: ['name', 'type', 'nodeId', 'ownerId', 'capacityBytes'], additionalProperties: false,
        properties: { name: spaceName, type: { type: 'string', enum: ['backup', 'replication'] }, nodeId: { type: 'string', maxLength: 100 }, ownerId: { type: 'string', maxLength: 100 }, capacityBytes: { type: 'integer', minimum: 0 }, cipher: { type: 'string', enum: [...CIPHERS], default: 'xsalsa20-poly1305' }, dedupScope: { type: 'string', enum: ['global', 'task'], default: 'global' } }
      }
    }
  }, async (req, reply) => await reply.code(201).send(spaceView(await inventory.createSpace(actor(req), req.body))))

  app.get<{ Params: { id: string } }>('/api/spaces/:id', { config: { access: 'read' }, schema: { summary: 'User space details: node, capacity, used, free', tags: ['spaces'], params: idParam } },
    async (req) => {
      const s = await inventory.space(who(req).user, req.params.id)
      const node = await ctx.state.get<NodeRecord>('nodes', s.nodeId)
      return { ...spaceView(s), nodeName: node?.name, nodeIp: node?.ip }
    })

  app.patch<{ Params: { id: string }, Body: { name?: string, capacityBytes?: number } }>('/api/spaces/:id', {
    config: { access: 'write' },
    schema: { summary: 'Rename a user space; admins also change its capacity (quota)', tags: ['spaces'], params: idParam, body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { name: spaceName, capacityBytes: { type: 'integer', minimum: 0 } } } }
  }, async (req) => {
    if (req.body.capacityBytes !== undefined && who(req).user.role !== 'admin') {
      throw new ForbiddenError('change capacity (admins only)')
    }
    return spaceView(await inventory.updateSpace(actor(req), req.params.id, req.body))
  })

  app.delete<{ Params: { id: string } }>('/api/spaces/:id', {
    config: { access: 'admin', reauth: true },
    schema: { summary: 'Remove a user space record with no tasks (its store stays on disk)', tags: ['spaces'], params: idParam, response: { 200: okReply } }
  }, async (req) => { await inventory.removeSpace(actor(req), req.params.id); return { ok: true } })
}

function spaceView (s: SpaceRecord): SpaceRecord & { freeBytes: number, usagePercent: number } {
  return { ...s, freeBytes: Math.max(0, s.capacityBytes - s.usedBytes), usagePercent: s.capacityBytes > 0 ? Math.round(1000 * s.usedBytes / s.capacityBytes) / 10 : 0 }
}
