// The Archive manager (F20, manual 2.6): devices (local directory, object storage, tape
// library), archive tasks, their runs, the data each task has on each device, and the records.
// A device's secret key goes in once, with its creation, and never comes back out.
import type { FastifyInstance } from 'fastify'
import type { ArchiveTaskChange, ArchiveTaskInput, ArchiveTaskRecord, DeviceInput } from '../jobs/index.ts'
import { who } from './server.ts'
import type { ApiContext, RouteOptions } from './context.ts'
import { confirmBody, okReply } from './schemas.ts'
import { scheduleSchema } from './task-routes.ts'

const tags = ['archive']
/** 1–64 characters, no control characters or slashes (manual 2.6.1). */
const name164 = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[^\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}/\\\\]+$' } as const
const absPath = { type: 'string', minLength: 2, maxLength: 4096, pattern: '^/' } as const
const nameParam = { type: 'object', required: ['name'], additionalProperties: false, properties: { name: name164 } } as const
const idParam = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', minLength: 1, maxLength: 100 } } } as const

const deviceBody = {
  oneOf: [
    { type: 'object', additionalProperties: false, required: ['name', 'type', 'path'], properties: { name: name164, type: { const: 'dir' }, path: absPath } },
    {
      type: 'object', additionalProperties: false, required: ['name', 'type', 'bucket', 'accessKeyId', 'secretAccessKey'],
      properties: {
        name: name164, type: { const: 's3' },
        endpoint: { type: 'string', maxLength: 500, pattern: '^https?://' },
        region: { type: 'string', minLength: 1, maxLength: 64, description: 'Default us-east-1' },
        bucket: { type: 'string', minLength: 3, maxLength: 63 },
        prefix: { type: 'string', maxLength: 500 },
        pathStyle: { type: 'boolean' },
        accessKeyId: { type: 'string', minLength: 1, maxLength: 256 },
        secretAccessKey: { type: 'string', minLength: 1, maxLength: 256, description: 'Stored sealed; never returned or logged' },
        retentionDays: { type: 'integer', minimum: 1, maximum: 36500, description: 'Object Lock retention of archived objects, where the bucket has Object Lock' }
      }
    },
    {
      type: 'object', additionalProperties: false, required: ['name', 'type', 'path', 'pool'],
      properties: {
        name: name164, type: { const: 'vtl' }, path: absPath,
        pool: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9_-]+$' } },
        createLibrary: {
          type: 'object', additionalProperties: false, required: ['slots', 'capacityBytes'],
          properties: { slots: { type: 'integer', minimum: 1, maximum: 10000 }, capacityBytes: { type: 'integer', minimum: 1 << 20, maximum: 2 ** 50 } }
        }
      }
    },
    {
      type: 'object', additionalProperties: false, required: ['name', 'type', 'changer', 'drives', 'pool'],
      properties: {
        name: name164, type: { const: 'tape' },
        changer: { ...absPath, description: 'The SCSI medium changer\'s generic node, /dev/sgN' },
        drives: { type: 'array', minItems: 1, maxItems: 64, items: { ...absPath, description: 'An st drive\'s no-rewind node, /dev/nstN' }, description: 'In the changer\'s drive order' },
        pool: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9_-]+$' } },
        recordSize: { type: 'integer', minimum: 512, maximum: 16 << 20, multipleOf: 512, description: 'Bytes per tape record; default 262144' }
      }
    }
  ]
} as const

/** A backup task's schedule (task-routes.ts), less its level; its job is an archive run or a verify of the device. */
const { level: _level, job: _job, ...scheduleProperties } = scheduleSchema.properties
const archiveScheduleSchema = {
  type: 'object', additionalProperties: false, required: ['kind', 'startDate', 'time'],
  properties: { ...scheduleProperties, job: { type: 'string', enum: ['archive', 'archive-verify'], default: 'archive', description: 'An archive run, or a verify of the task\'s device' } }
} as const

const taskProperties = {
  name: name164,
  taskIds: { type: 'array', minItems: 1, maxItems: 200, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 100 } },
  select: {
    oneOf: [
      { type: 'object', additionalProperties: false, required: ['mode'], properties: { mode: { const: 'latest' } } },
      { type: 'object', additionalProperties: false, required: ['mode', 'from', 'to'], properties: { mode: { const: 'range' }, from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' } } }
    ]
  },
  device: name164,
  pool: { type: 'array', minItems: 1, maxItems: 1000, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9_-]+$' }, description: 'A tape library\'s media pool for this task: some of its cartridges' },
  retentionDays: { type: 'integer', minimum: 1, maximum: 36500 },
  mode: { type: 'string', enum: ['manual', 'scheduled'] },
  schedules: { type: 'array', maxItems: 50, items: archiveScheduleSchema }
} as const

const cartridgesReply = {
  type: 'object', additionalProperties: false, required: ['device', 'busy', 'cartridges'],
  properties: {
    device: { type: 'string' },
    busy: { type: 'boolean', description: 'A writer holds the library: cartridges are as last read (readAt), or none yet' },
    readAt: { type: 'string', format: 'date-time' },
    cartridges: {
      type: 'array',
      items: {
        type: 'object', additionalProperties: false, required: ['barcode', 'sets', 'scratch'],
        properties: {
          barcode: { type: 'string' },
          sets: { type: 'integer', minimum: 0, description: 'Archive sets on the cartridge' },
          scratch: { type: 'boolean', description: 'Blank or recycled: nothing on it, the pool may write it' },
          lastRecycledAt: { type: 'string', format: 'date-time', description: 'When an archive job of this node last recycled it' }
        }
      }
    }
  }
} as const

export async function archiveRoutes (app: FastifyInstance, ctx: ApiContext, _opts: RouteOptions): Promise<void> {
  const { archive, scheduler } = ctx
  const actor = (req: Parameters<typeof who>[0]): { user: ReturnType<typeof who>['user'], source: string } => ({ user: who(req).user, source: req.ip })
  const view = async (t: ArchiveTaskRecord): Promise<ArchiveTaskRecord & { status: string, runningJobId?: string, nextRuns: unknown }> => {
    const job = ctx.runner.running().find(j => j.type === 'archive' && j.params.archiveTaskId === t.id)
    return { ...t, status: job !== undefined ? 'running' : 'idle', runningJobId: job?.id, nextRuns: await scheduler.nextRuns(t) }
  }

  app.get('/api/archive/devices', { config: { access: 'read' }, schema: { summary: 'Archive devices of this node (manual 2.6.1): name, type, node, status; never a secret', tags } },
    async () => await archive.devices())

  app.post<{ Body: DeviceInput }>('/api/archive/devices', {
    config: { access: 'admin' },
    schema: { summary: 'Add a device: a local directory, S3-compatible object storage (its secret key stored sealed) or a tape library', tags, body: deviceBody }
  }, async (req, reply) => await reply.code(201).send(await archive.addDevice(actor(req), req.body)))

  app.delete<{ Params: { name: string } }>('/api/archive/devices/:name', {
    config: { access: 'admin' },
    schema: { summary: 'Forget a device no archive task uses; what it holds stays on it', tags, params: nameParam, response: { 200: okReply } }
  }, async (req) => { await archive.removeDevice(actor(req), req.params.name); return { ok: true } })

  app.post<{ Params: { name: string } }>('/api/archive/devices/:name/test', {
    config: { access: 'write' },
    schema: { summary: 'Test the connection: open the device and read its catalogue; the outcome becomes its status', tags, params: nameParam }
  }, async (req) => await archive.testDevice(actor(req), req.params.name))

  app.post<{ Params: { name: string } }>('/api/archive/devices/:name/verify', {
    config: { access: 'write' },
    schema: { summary: 'Start a verify job: read back every block on the device and check it against its CID', tags, params: nameParam }
  }, async (req, reply) => await reply.code(202).send(await archive.verify(actor(req), req.params.name)))

  app.get('/api/archive/tasks', { config: { access: 'read' }, schema: { summary: 'Archive tasks I may see, with status and next runs', tags } },
    async (req) => await Promise.all((await archive.tasks(who(req).user)).map(view)))

  app.post<{ Body: ArchiveTaskInput }>('/api/archive/tasks', {
    config: { access: 'write' },
    schema: {
      summary: 'Create an archive task: user space, backup tasks, which snapshots (latest of each, or a time range), device, retention, schedules', tags,
      body: { type: 'object', additionalProperties: false, required: ['name', 'spaceId', 'taskIds', 'select', 'device'], properties: { ...taskProperties, spaceId: { type: 'string', minLength: 1, maxLength: 100 } } }
    }
  }, async (req, reply) => await reply.code(201).send(await view(await archive.createTask(actor(req), req.body))))

  app.get<{ Params: { id: string } }>('/api/archive/tasks/:id', { config: { access: 'read' }, schema: { summary: 'One archive task', tags, params: idParam } },
    async (req) => await view(await archive.task(who(req).user, req.params.id)))

  app.patch<{ Params: { id: string }, Body: ArchiveTaskChange }>('/api/archive/tasks/:id', {
    config: { access: 'write' },
    schema: {
      summary: 'Edit an idle archive task; retentionDays null: keep what later runs archive for ever (sets already on the device keep their expiry)', tags, params: idParam,
      body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { ...taskProperties, retentionDays: { type: ['integer', 'null'], minimum: 1, maximum: 36500 } } }
    }
  }, async (req) => await view(await archive.updateTask(actor(req), req.params.id, req.body)))

  app.delete<{ Params: { id: string }, Body: { confirm: string } }>('/api/archive/tasks/:id', {
    config: { access: 'write' },
    schema: { summary: 'Delete an idle archive task; body { confirm: "YES" }. What it archived stays on the device', tags, params: idParam, body: confirmBody, response: { 200: okReply } }
  }, async (req) => { await archive.removeTask(actor(req), req.params.id, req.body.confirm); return { ok: true } })

  app.post<{ Params: { id: string } }>('/api/archive/tasks/:id/start', {
    config: { access: 'write' },
    schema: { summary: 'Run an archive task now; returns the job (a rerun writes only blocks the device lacks)', tags, params: idParam }
  }, async (req, reply) => await reply.code(202).send(await archive.run(actor(req), req.params.id)))

  app.post<{ Body: { archiveTaskId: string, snapshot: string } }>('/api/archive/restores', {
    config: { access: 'write' },
    schema: {
      summary: 'Bring a snapshot an archive task archived back into its space\'s store from the device (then restore it with POST /api/restores)', tags,
      body: { type: 'object', additionalProperties: false, required: ['archiveTaskId', 'snapshot'], properties: { archiveTaskId: { type: 'string', minLength: 1, maxLength: 100 }, snapshot: { type: 'string', minLength: 4, maxLength: 100 } } }
    }
  }, async (req, reply) => await reply.code(202).send(await archive.restore(actor(req), req.body.archiveTaskId, req.body.snapshot)))

  app.get('/api/archive/data', { config: { access: 'read' }, schema: { summary: 'What each archive task has archived on each device (manual 2.6 data)', tags } },
    async (req) => await archive.data(who(req).user))

  app.get<{ Params: { name: string } }>('/api/archive/devices/:name/cartridges', {
    config: { access: 'read' },
    schema: {
      summary: 'A tape library\'s cartridges (manual 2.6 data): barcode, sets on it, scratch (blank or recycled), when this node last recycled it. While a writer holds the library, busy and what was last read', tags, params: nameParam,
      response: { 200: cartridgesReply }
    }
  }, async (req) => await archive.cartridges(who(req).user, req.params.name))

  app.get('/api/archive/records', { config: { access: 'read' }, schema: { summary: 'Archive and verify runs (manual 2.6.2): task name, status, type, device, amount', tags } },
    async (req) => await archive.records(who(req).user))
}
