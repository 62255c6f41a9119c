// The JSON Schema (draft-07) of a scenario file, version 1: published by `cairn sim schema` and
// GET /api/planning/schema, checked by scenario-file.ts with Ajv. It says what each field is
// and its form; what only the node's own rules can say (a time zone that exists, a policy the
// node would take, a bandwidth window it can apply) is checked after it, by those rules.
import { RATE_PATTERN, SHARE_PATTERN, SIZE_PATTERN, SPAN_PATTERN } from './units.ts'

const size = (description: string): object => ({ description, oneOf: [{ type: 'number', minimum: 0 }, { type: 'string', pattern: SIZE_PATTERN }] })
const rate = (description: string): object => ({ description, oneOf: [{ type: 'number', minimum: 0 }, { type: 'string', pattern: RATE_PATTERN }] })
const name = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' }
const clock = { type: 'string', pattern: '^([01]\\d|2[0-3]):[0-5]\\d$' }
const clockEnd = { type: 'string', pattern: '^(([01]\\d|2[0-3]):[0-5]\\d|24:00)$' }

export const SCENARIO_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://cairn.invalid/schemas/scenario-v1.json',
  title: 'Cairn capacity-planning scenario, version 1',
  type: 'object',
  additionalProperties: false,
  required: ['start', 'horizon', 'sites'],
  properties: {
    format: { const: 'cairn-scenario' },
    version: { const: 1 },
    name: { type: 'string', maxLength: 200 },
    start: { description: 'YYYY-MM-DD (midnight in the scenario time zone) or an ISO time', type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}(T.*)?$' },
    horizon: { description: 'How long to simulate: 90d, 26w, 18mo, 5y, or a number of days', oneOf: [{ type: 'number', exclusiveMinimum: 0, maximum: 36_525 }, { type: 'string', pattern: SPAN_PATTERN }] },
    step: { description: 'Time between points of the series: 1h … 7d', type: 'string', pattern: SPAN_PATTERN },
    timeZone: { type: 'string', minLength: 1 },
    profile: { description: 'A calibration profile: a file next to the scenario, or the profile itself', oneOf: [{ type: 'string', minLength: 1 }, { $ref: '#/definitions/profile' }] },
    sites: { type: 'array', minItems: 1, maxItems: 5000, items: { $ref: '#/definitions/site' } },
    links: { type: 'array', items: { $ref: '#/definitions/link' } },
    replicas: { description: 'What replicas keep: released (the node: free what the origin released once locks passed), everything (never free), retained (live blocks of kept snapshots only)', type: 'object', additionalProperties: false, properties: { keep: { enum: ['released', 'everything', 'retained'] }, segmentSize: { $ref: '#/definitions/size', description: 'The size replicas seal a segment at (default the node\'s 64 MiB); smaller shows the curve of live blocks' } } }
  },
  definitions: {
    size: size('A size: 500GB, 2TiB, or bytes'),
    rate: rate('A rate: 100Mbit/s, 10MiB/s, or bytes per second'),
    share: { description: 'A share: 2% or a fraction', oneOf: [{ type: 'number', minimum: 0, maximum: 1 }, { type: 'string', pattern: SHARE_PATTERN }] },
    bandwidth: {
      description: 'Bandwidth windows as the node takes them (F12): MiB/s outside windows, and windows in local time',
      type: 'object',
      additionalProperties: false,
      properties: {
        defaultMibps: { type: 'number', minimum: 0 },
        windows: {
          type: 'array',
          maxItems: 32,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['from', 'to', 'mibps'],
            properties: { from: clockEnd, to: clockEnd, mibps: { type: 'number', minimum: 0 }, days: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 6 } } }
          }
        }
      }
    },
    schedule: {
      type: 'object',
      additionalProperties: false,
      required: ['kind', 'time'],
      properties: {
        kind: { enum: ['once', 'daily', 'weekly', 'monthly', 'interval'] },
        startDate: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
        time: clock,
        days: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 0, maximum: 31 } },
        everyMinutes: { type: 'integer', minimum: 1 },
        level: { enum: ['full', 'incremental'] },
        timeZone: { type: 'string', minLength: 1 }
      }
    },
    task: {
      type: 'object',
      additionalProperties: false,
      required: ['schedules'],
      properties: {
        name: name,
        schedules: { type: 'array', minItems: 1, items: { $ref: '#/definitions/schedule' } },
        retention: {
          oneOf: [
            { const: 'forever' },
            { type: 'object', additionalProperties: false, minProperties: 1, properties: { copies: { type: 'integer', minimum: 1 }, days: { type: 'integer', minimum: 0 } } }
          ]
        },
        window: { type: 'object', additionalProperties: false, required: ['from', 'to'], properties: { from: clock, to: clockEnd } },
        bandwidth: { $ref: '#/definitions/bandwidth' },
        compression: { type: 'integer', minimum: -7, maximum: 19 }
      }
    },
    dataset: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'size', 'backup'],
      properties: {
        name: name,
        space: name,
        size: { $ref: '#/definitions/size' },
        files: { type: 'integer', minimum: 0 },
        dirs: { type: 'integer', minimum: 0 },
        growth: { description: 'New data per day: a size, or a share of the data set', oneOf: [{ $ref: '#/definitions/size' }, { type: 'string', pattern: SHARE_PATTERN }] },
        change: { description: 'Data rewritten per day: a share, or a size', oneOf: [{ $ref: '#/definitions/share' }, { type: 'string', pattern: SIZE_PATTERN }] },
        compressibility: { type: 'number', exclusiveMinimum: 0, maximum: 1.1 },
        duplication: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
        sample: { type: 'string', minLength: 1 },
        stored: { $ref: '#/definitions/size' },
        backup: { $ref: '#/definitions/task' }
      }
    },
    policy: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'copies'],
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 64 },
        copies: { type: 'integer', minimum: 1, maximum: 9 },
        roles: { type: 'array', items: { enum: ['head', 'branch', 'dr'] } },
        sites: { type: 'array', items: name },
        spaces: { type: 'array', items: name },
        immutableDays: { $ref: '#/definitions/lockDays' }
      }
    },
    lockDays: { description: 'A lock in whole days after receipt, or forever', oneOf: [{ type: 'integer', minimum: 0, maximum: 36_500 }, { const: 'forever' }] },
    receive: {
      description: 'The site as a replica: its own lock, the floor under what senders ask, for every origin or per origin site',
      type: 'object',
      additionalProperties: false,
      properties: { immutableDays: { $ref: '#/definitions/lockDays' }, perSite: { type: 'object', propertyNames: name, additionalProperties: { $ref: '#/definitions/lockDays' } } }
    },
    archive: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'kind', 'schedule', 'keep'],
      properties: {
        name: name,
        kind: { enum: ['tape', 's3', 'directory'] },
        datasets: { type: 'array', items: name },
        schedule: { $ref: '#/definitions/schedule' },
        keep: { type: 'integer', minimum: 1 },
        cartridge: { $ref: '#/definitions/size' },
        throughput: { $ref: '#/definitions/rate' }
      }
    },
    site: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'role'],
      properties: {
        name: name,
        role: { enum: ['head', 'branch', 'dr'] },
        capacity: { $ref: '#/definitions/size' },
        timeZone: { type: 'string', minLength: 1 },
        replicaStored: { $ref: '#/definitions/size' },
        datasets: { type: 'array', items: { $ref: '#/definitions/dataset' } },
        replication: {
          type: 'object',
          additionalProperties: false,
          required: ['policies'],
          properties: { policies: { type: 'array', items: { $ref: '#/definitions/policy' } }, bandwidth: { $ref: '#/definitions/bandwidth' }, receive: { $ref: '#/definitions/receive' } }
        },
        archives: { type: 'array', items: { $ref: '#/definitions/archive' } }
      }
    },
    link: {
      type: 'object',
      additionalProperties: false,
      required: ['sites', 'bandwidth'],
      properties: {
        sites: { type: 'array', minItems: 2, maxItems: 2, items: name },
        bandwidth: { $ref: '#/definitions/rate' },
        rttMs: { type: 'number', minimum: 0 }
      }
    },
    profile: {
      type: 'object',
      required: ['format', 'version'],
      properties: { format: { const: 'cairn-sim-profile' }, version: { const: 1 } }
    }
  }
} as const

/** What a value of each $ref'd kind looks like, for messages in place of Ajv's pattern text. */
export const KIND_HINTS: Record<string, string> = {
  size: 'should be a size such as 500GB, 1.5TiB or a number of bytes',
  rate: 'should be a rate such as 100Mbit/s, 10MiB/s or a number of bytes per second',
  share: 'should be a share such as 2% or a fraction from 0 to 1'
}
