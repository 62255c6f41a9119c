import type { FastifyInstance } from 'fastify'
import { AGENT_TYPES } from '../inventory/index.ts'
import { SCHEDULE_KINDS, MIN_INTERVAL_MINUTES, type TaskInput, type TaskRecord } from '../jobs/index.ts'
import { who } from './server.ts'
import type { ApiContext, RouteOptions } from './context.ts'
import { bandwidthSchema, confirmBody, idParam, name364, okReply, printable } from './schemas.ts'

const tags = ['tasks']
const level = { type: 'string', enum: ['full', 'incremental'] } as const
const pathList = { type: 'array', maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 4096 } } as const

export const scheduleSchema = {
  type: 'object', additionalProperties: false, required: ['kind', 'startDate', 'time', 'level'],
  properties: {
    id: { type: 'string', maxLength: 40 },
    kind: { type: 'string', enum: [...SCHEDULE_KINDS] },
    startDate: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
    time: { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' },
    timeZone: { type: 'string', minLength: 1, maxLength: 64, default: 'UTC' },
    level,
    days: { type: 'array', minItems: 1, maxItems: 31, uniqueItems: true, items: { type: 'integer', minimum: 0, maximum: 31 } },
    everyMinutes: { type: 'integer', minimum: MIN_INTERVAL_MINUTES, maximum: 525600 },
    job: { type: 'string', enum: ['backup', 'drill'], default: 'backup' },
    enabled: { type: 'boolean', default: true }
  }
} as const

const optionsSchema = {
  type: 'object', additionalProperties: false,
  properties: {
    dedup: { type: 'boolean' },
    compression: { type: 'integer', minimum: -7, maximum: 19 },
    encryption: { type: 'boolean', const: true },
    retention: {
      type: 'object', additionalProperties: false, required: ['mode'],
      properties: { mode: { type: 'string', enum: ['forever', 'policy'] }, copies: { type: 'integer', minimum: 1, maximum: 10000 }, days: { type: 'integer', minimum: 1, maximum: 36500 } }
    },
    exclusiveFiles: { type: 'boolean' },
    smallFiles: { type: 'boolean' },
    bandwidth: bandwidthSchema
  }
} as const

const sourcesSchema = {
  type: 'object', additionalProperties: false, required: ['include'],
  properties: { include: pathList, exclude: { ...pathList, default: [] } }
} as const

export async function taskRoutes (app: FastifyInstance, ctx: ApiContext, _opts: RouteOptions): Promise<void> {
  const { tasks, runner, scheduler } = ctx
  const view = async (t: TaskRecord): Promise<TaskRecord & { status: string, runningJobId?: string, nextRuns: unknown }> => {
    const job = runner.running().find(j => j.taskId === t.id)
    return { ...t, status: job !== undefined ? 'running' : 'idle', runningJobId: job?.id, nextRuns: await scheduler.nextRuns(t) }
  }
  const actor = (req: Parameters<typeof who>[0]): { user: ReturnType<typeof who>['user'], source: string } => ({ user: who(req).user, source: req.ip })

  app.get('/api/tasks', { config: { access: 'read' }, schema: { summary: 'Backup tasks I may see, with status and next runs', tags } },
    async (req) => await Promise.all((await tasks.list(who(req).user)).map(view)))

  app.post<{ Body: TaskInput }>('/api/tasks', {
    config: { access: 'write' },
    schema: {
      summary: 'Create a backup task (manual 2.2.1): name 3–64 unique, node, space, agent, sources, options, manual or scheduled', tags,
      body: {
        type: 'object', additionalProperties: false, required: ['name', 'nodeId', 'spaceId', 'sources'],
        properties: {
          name: name364, nodeId: { type: 'string', maxLength: 100 }, spaceId: { type: 'string', maxLength: 100 },
          agentType: { type: 'string', enum: [...AGENT_TYPES], default: 'filesystem' },
          sources: sourcesSchema, options: optionsSchema,
          mode: { type: 'string', enum: ['manual', 'scheduled'], default: 'manual' },
          schedules: { type: 'array', maxItems: 50, items: scheduleSchema }
        }
      }
    }
  }, async (req, reply) => await reply.code(201).send(await view(await tasks.create(actor(req), req.body))))

  app.get<{ Params: { id: string } }>('/api/tasks/:id', { config: { access: 'read' }, schema: { summary: 'Task details and sources (manual 2.2.5)', tags, params: idParam } },
    async (req) => await view(await tasks.get(who(req).user, req.params.id)))

  app.patch<{ Params: { id: string }, Body: Partial<TaskInput> }>('/api/tasks/:id', {
    config: { access: 'write' },
    schema: {
      summary: 'Edit name, sources, options, mode or schedules; 409 TaskRunningError while it runs (manual 2.2.3)', tags, params: idParam,
      body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { name: name364, sources: sourcesSchema, options: optionsSchema, mode: { type: 'string', enum: ['manual', 'scheduled'] }, schedules: { type: 'array', maxItems: 50, items: scheduleSchema } } }
    }
  }, async (req) => await view(await tasks.update(actor(req), req.params.id, req.body)))

  app.put<{ Params: { id: string }, Body: { schedules: NonNullable<TaskInput['schedules']> } }>('/api/tasks/:id/schedules', {
    config: { access: 'write' },
    schema: { summary: 'Replace the schedules of a task (manual 2.2.3 "plan")', tags, params: idParam, body: { type: 'object', additionalProperties: false, required: ['schedules'], properties: { schedules: { type: 'array', maxItems: 50, items: scheduleSchema } } } }
  }, async (req) => await view(await tasks.update(actor(req), req.params.id, { schedules: req.body.schedules })))

  app.delete<{ Params: { id: string }, Body: { confirm: string } }>('/api/tasks/:id', {
    config: { access: 'write', reauth: true },
    schema: { summary: 'Delete an idle task; body { confirm: "YES" }; needs a recent POST /api/auth/reauth (manual 2.2.4). Stored copies stay until cleaned', tags, params: idParam, body: confirmBody, response: { 200: okReply } }
  }, async (req) => { await tasks.remove(actor(req), req.params.id, req.body.confirm); return { ok: true } })

  app.post<{ Params: { id: string }, Body: { level?: 'full' | 'incremental', remark?: string } }>('/api/tasks/:id/start', {
    config: { access: 'write' },
    schema: { summary: 'Start a backup now (manual 2.2.2): level and remark; returns the job', tags, params: idParam, body: { type: 'object', additionalProperties: false, properties: { level: { ...level, default: 'incremental' }, remark: printable(0, 500) } } }
  }, async (req, reply) => await reply.code(202).send(await ctx.operations.backup(actor(req), req.params.id, { level: req.body?.level ?? 'incremental', remark: req.body?.remark })))

  app.post<{ Params: { id: string } }>('/api/tasks/:id/drill', {
    config: { access: 'write' },
    schema: { summary: 'Start a DR drill: restore the latest copy to scratch space, compare, verify; alert on failure (F8)', tags, params: idParam }
  }, async (req, reply) => await reply.code(202).send(await ctx.operations.drill(actor(req), req.params.id)))

  app.get<{ Params: { id: string } }>('/api/tasks/:id/jobs', { config: { access: 'read' }, schema: { summary: 'History of one task (manual 2.2.7)', tags, params: idParam } },
    async (req) => {
      const t = await tasks.get(who(req).user, req.params.id)
      return (await runner.list()).filter(j => j.taskId === t.id)
    })
}
