// The mesh as the console sees it (issue 4, contract in doc/api.md): members, links, lag and
// health per policy; replicate now (a job); invitations; removal; policies applied live.
import type { FastifyInstance } from 'fastify'
import { MeshNotRunningError } from '../jobs/index.ts'
import { who } from './server.ts'
import type { ApiContext, RouteOptions } from './context.ts'
import type { HostedMesh, ReplicationConfig } from '../mesh/index.ts'
import { bandwidthSchema, okReply, printable } from './schemas.ts'
import type { MeshStatus } from './dto.ts'

const tags = ['mesh']
const ROLE_NAMES = ['head', 'branch', 'dr']
const policySchema = {
  type: 'object', additionalProperties: false, required: ['name', 'copies'],
  properties: {
    name: printable(1, 64),
    copies: { type: 'integer', minimum: 1, maximum: 9, description: 'Copies in the mesh, this site\'s included' },
    roles: { type: 'array', maxItems: 3, uniqueItems: true, items: { type: 'string', enum: ROLE_NAMES }, description: 'Roles that must each hold a copy' },
    sites: { type: 'array', maxItems: 100, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' }, description: 'Only these sites may hold copies' },
    spaces: { type: 'array', maxItems: 100, uniqueItems: true, items: printable(1, 64), description: 'User spaces (by name) the policy replicates; absent: all, and what other sites sent (cascade)' }
  }
} as const
export async function meshRoutes (app: FastifyInstance, ctx: ApiContext, _opts: RouteOptions): Promise<void> {
  const running = (): HostedMesh => {
    const m = ctx.mesh()
    if (m === undefined) throw new MeshNotRunningError()
    return m
  }
  const policiesView = async (m: HostedMesh): Promise<{ policies: unknown[], bandwidth: ReplicationConfig['bandwidth'] | null }> =>
    ({ policies: (await m.status()).policies, bandwidth: m.replication().bandwidth ?? null })

  app.get('/api/mesh', {
    config: { access: 'read' },
    schema: { summary: 'The mesh this node hosts: members, replication links, lag and health per policy, bandwidth ({ configured: false } without a mesh)', tags }
  }, async (): Promise<MeshStatus | { configured: false }> => {
    const m = ctx.mesh()
    if (m === undefined) return { configured: false }
    const s = await m.status()
    return {
      configured: true,
      mesh: s.mesh,
      version: s.version,
      self: s.self,
      members: s.members.map(x => ({ peer: x.peer, site: x.site, role: x.role, addrs: x.addrs, connected: x.connected, self: x.self })),
      links: s.links,
      policies: s.policies,
      bandwidth: m.replication().bandwidth ?? null,
      invitationsOpen: s.invitationsOpen,
      held: s.held,
      retention: s.retention
    }
  })

  app.post('/api/mesh/replicate', {
    config: { access: 'write' },
    schema: { summary: 'Replicate to every policy target now: starts a job of type "replicate" (history, monitor)', tags, response: { 202: { type: 'object', properties: { jobId: { type: 'string' } } } } }
  }, async (req, reply) => {
    running()
    const { user } = who(req)
    const job = await ctx.operations.replicate({ user: user.name, ownerId: user.id })
    return await reply.code(202).send({ jobId: job.id })
  })

  app.post<{ Body: { ttlHours: number } }>('/api/mesh/invitations', {
    config: { access: 'admin', reauth: true },
    schema: {
      summary: 'A one-time invitation for a new site (a credential: needs a recent reauth; this node must hold the mesh key)', tags,
      body: { type: 'object', additionalProperties: false, required: ['ttlHours'], properties: { ttlHours: { type: 'integer', minimum: 1, maximum: 720 } } },
      response: { 201: { type: 'object', properties: { invitation: { type: 'string' }, expires: { type: 'string' } } } }
    }
  }, async (req, reply) => {
    const r = await running().invite(req.body.ttlHours * 3600_000)
    await ctx.logs.audit({ user: who(req).user.name, source: req.ip, action: 'mesh.invite', target: 'mesh', detail: { expires: r.expires } })
    return await reply.code(201).send(r)
  })

  app.delete<{ Params: { member: string } }>('/api/mesh/members/:member', {
    config: { access: 'admin', reauth: true },
    schema: {
      summary: 'Remove a member (peer id or site name); it is cut off at once. Needs the mesh key and a recent reauth', tags,
      params: { type: 'object', required: ['member'], additionalProperties: false, properties: { member: { type: 'string', minLength: 1, maxLength: 100 } } },
      response: { 200: okReply }
    }
  }, async (req) => {
    const doc = await running().node.remove(req.params.member)
    await ctx.logs.audit({ user: who(req).user.name, source: req.ip, action: 'mesh.remove', target: req.params.member, detail: { version: doc.version } })
    return { ok: true }
  })

  app.put<{ Body: ReplicationConfig }>('/api/mesh/policies', {
    config: { access: 'admin' },
    schema: {
      summary: 'Set the replication policies (per user space) and bandwidth windows; applied at once. Bandwidth absent: unchanged', tags,
      body: { type: 'object', additionalProperties: false, required: ['policies'], properties: { policies: { type: 'array', maxItems: 50, items: policySchema }, bandwidth: bandwidthSchema } }
    }
  }, async (req) => {
    const m = running()
    const next: ReplicationConfig = { policies: req.body.policies, bandwidth: req.body.bandwidth ?? m.replication().bandwidth }
    await m.configure(next)
    await ctx.logs.audit({ user: who(req).user.name, source: req.ip, action: 'mesh.policies', target: 'mesh', detail: next as unknown as Record<string, unknown> })
    return await policiesView(m)
  })
}
