import { randomBytes } from 'node:crypto'
import { validateSchedule as validateBandwidth, type BandwidthSchedule } from '../../chunkstore/index.ts'
import type { StateStore } from '../state/index.ts'
import type { Clock } from '../clock/index.ts'
import { said, type LogBook, type LogText } from '../logs/index.ts'
import { AgentNotAuthorisedError, NameTakenError, NotYoursError, type Actor, type AgentType, type Inventory, type NodeRecord } from '../inventory/index.ts'
import type { User } from '../auth/index.ts'
import { ConfirmationRequiredError, TaskInvalidError, TaskRunningError } from './errors.ts'
import { validateSchedule, type Schedule } from './schedule.ts'

export interface Retention {
  /** forever: keep every copy; policy: keep `copies` newest copies and/or copies younger than `days`. */
  mode: 'forever' | 'policy'
  copies?: number
  days?: number
}

export interface TaskOptions {
  /** Dedup on (the default) or off; the scope (global / per task) is the user space's. */
  dedup: boolean
  /** zstd level; 0 = off (the manual's default "no"). */
  compression: number
  /** Always on: the store seals every chunk; the cipher is the user space's. */
  encryption: true
  retention: Retention
  /** Back up files other programs hold open for writing; off: skip them with a warning (manual 2.2.1). */
  exclusiveFiles: boolean
  /** Many-small-files mode: no second walk to count totals (so no ETA), which a tree of small files pays most for. */
  smallFiles: boolean
  /** Backup bandwidth limit (F12): MiB/s read, by time-of-day windows; unlimited when absent. */
  bandwidth?: BandwidthSchedule
}

/** A backup task (F15, manual 2.2.1). */
export interface TaskRecord {
  id: string
  name: string
  nodeId: string
  spaceId: string
  ownerId: string
  agentType: AgentType
  sources: { include: string[], exclude: string[] }
  options: TaskOptions
  mode: 'manual' | 'scheduled'
  schedules: Schedule[]
  createdAt: string
  updatedAt: string
  createdBy: string
}

export type TaskInput = Pick<TaskRecord, 'name' | 'nodeId' | 'spaceId' | 'agentType' | 'sources' | 'mode'> & {
  options?: Partial<TaskOptions>
  schedules?: Array<Omit<Schedule, 'id' | 'enabled' | 'job' | 'timeZone'> & { id?: string, enabled?: boolean, job?: Schedule['job'], timeZone?: string }>
}

export const DEFAULT_OPTIONS: TaskOptions = { dedup: true, compression: 0, encryption: true, retention: { mode: 'forever' }, exclusiveFiles: false, smallFiles: false }

const sees = (u: User, ownerId: string): boolean => u.role !== 'operator' || ownerId === u.id

/**
 * Backup tasks (F15, F16): what to back up from which node into which space, with options and
 * schedules, for the users who may see them (an operator sees their own).
 *
 * Contract:
 * - `create` and `update` check every input (names, sources within the owner's reach, agent
 *   authorised on the node, schedules that can run) and store nothing on a refusal; each change
 *   is audited and then told to `changed` (the scheduler re-reads the task's schedules).
 * - A running task is not edited or removed (TaskRunningError); `remove` needs `confirm` "YES"
 *   and leaves the task's stored copies until they are cleaned.
 */
export interface Tasks {
  list: (u: User) => Promise<TaskRecord[]>
  /** Every task, whoever owns it (the scheduler's view). */
  all: () => Promise<TaskRecord[]>
  get: (u: User, id: string) => Promise<TaskRecord>
  create: (a: Actor, input: TaskInput) => Promise<TaskRecord>
  /** Edits options, sources, mode or schedules; refused while the task runs (manual 2.2.3). */
  update: (a: Actor, id: string, change: Partial<Omit<TaskInput, 'nodeId' | 'spaceId' | 'agentType'>>) => Promise<TaskRecord>
  /** Throws when a source of the task is out of its owner's reach now (roots change after a task is made). */
  checkReach: (t: TaskRecord) => Promise<void>
  remove: (a: Actor, id: string, confirm: string) => Promise<TaskRecord>
}

export interface TasksComponents {
  state: StateStore
  clock: Clock
  logs: LogBook
  inventory: Inventory
  /** Whether a job of the task runs now (the job runner's). */
  isRunning: (taskId: string) => boolean
  /** Told after every change of a task (the scheduler's taskChanged). */
  changed: (taskId: string) => Promise<void>
}

export function createTasks (components: TasksComponents): Tasks {
  const { state, clock, logs, inventory } = components

  const withIds = (list: TaskInput['schedules']): Schedule[] => (list ?? []).map(s => {
    const full: Schedule = { ...s, enabled: s.enabled ?? true, job: s.job ?? 'backup', timeZone: s.timeZone ?? 'UTC', id: s.id ?? randomBytes(6).toString('hex') }
    validateSchedule(full)
    return full
  })

  const checkOptions = (o: TaskOptions): void => {
    if (o.bandwidth !== undefined) {
      try { validateBandwidth(o.bandwidth) } catch (err) { throw new TaskInvalidError(`Bandwidth limit: ${(err as Error).message}`) }
    }
    if (o.retention.mode === 'policy' && o.retention.copies === undefined && o.retention.days === undefined) {
      throw new TaskInvalidError('A retention policy needs copies and/or days')
    }
  }

  /** The sources normalised, each within what the task's owner may reach on its node (inventory's reach). */
  const checkSources = async (nodeId: string, ownerId: string, sources: TaskRecord['sources']): Promise<TaskRecord['sources']> => {
    const node = await state.require<NodeRecord>('nodes', nodeId)
    const owner = await state.get<User>('users', ownerId)
    return { include: sources.include.map(p => inventory.reach.source(node, owner?.role ?? 'operator', p)), exclude: sources.exclude }
  }

  const log = async (a: Actor, t: TaskRecord, level: 'info' | 'warning', message: string, text: LogText): Promise<void> => {
    await logs.write({ type: 'task', level, user: a.user.name, source: a.source, ownerId: t.ownerId, message, text })
  }

  const tasks: Tasks = {
    async list (u) { return (await state.list<TaskRecord>('tasks')).filter(t => sees(u, t.ownerId)) },
    async all () { return await state.list<TaskRecord>('tasks') },

    async get (u, id) {
      const t = await state.get<TaskRecord>('tasks', id)
      if (t === undefined || !sees(u, t.ownerId)) throw new NotYoursError('task', id)
      return t
    },

    async create (a, input) {
      const node = await inventory.node(a.user, input.nodeId)
      const space = await inventory.space(a.user, input.spaceId)
      if (space.type !== 'backup') throw new TaskInvalidError(`User space ${space.name} is a replication space; back up into a backup space`)
      if (!node.agentTypes.includes(input.agentType)) throw new AgentNotAuthorisedError(node.name, input.agentType)
      if (input.sources.include.length === 0) throw new TaskInvalidError('Choose at least one source path')
      const sources = await checkSources(node.id, space.ownerId, input.sources)
      const options: TaskOptions = { ...DEFAULT_OPTIONS, ...input.options, encryption: true }
      checkOptions(options)
      const schedules = withIds(input.schedules)
      if (input.mode === 'scheduled' && schedules.length === 0) throw new TaskInvalidError('A scheduled task needs at least one schedule')
      const task = await state.exclusive(async () => {
        if ((await state.list<TaskRecord>('tasks')).some(t => t.name.toLowerCase() === input.name.toLowerCase())) throw new NameTakenError('task', input.name)
        const t = clock.now().toISOString()
        const task: TaskRecord = {
          id: state.nextId('t'), name: input.name, nodeId: node.id, spaceId: space.id, ownerId: space.ownerId, agentType: input.agentType,
          sources, options, mode: input.mode, schedules, createdAt: t, updatedAt: t, createdBy: a.user.name
        }
        await state.put('tasks', task.id, task)
        await logs.audit({ user: a.user.name, source: a.source, action: 'task.create', target: task.id, detail: { ...input, sources } })
        return task
      })
      await log(a, task, 'info', `User [${a.user.name}] succeeded in creating backup task [${task.name}]`, said('TASK_CREATED', { user: a.user.name, name: task.name }))
      await components.changed(task.id)
      return task
    },

    async update (a, id, change) {
      const current = await tasks.get(a.user, id)
      const sources = change.sources === undefined ? undefined : await checkSources(current.nodeId, current.ownerId, change.sources)
      const task = await state.exclusive(async () => {
        const t = await tasks.get(a.user, id)
        if (components.isRunning(id)) throw new TaskRunningError(t.name, 'edit it')
        if (change.name !== undefined && change.name.toLowerCase() !== t.name.toLowerCase() &&
          (await state.list<TaskRecord>('tasks')).some(x => x.name.toLowerCase() === change.name!.toLowerCase())) throw new NameTakenError('task', change.name)
        const next: TaskRecord = {
          ...t,
          ...(change.name !== undefined ? { name: change.name } : {}),
          ...(sources !== undefined ? { sources } : {}),
          ...(change.mode !== undefined ? { mode: change.mode } : {}),
          ...(change.options !== undefined ? { options: { ...t.options, ...change.options, encryption: true } } : {}),
          ...(change.schedules !== undefined ? { schedules: withIds(change.schedules) } : {}),
          updatedAt: clock.now().toISOString()
        }
        checkOptions(next.options)
        if (next.sources.include.length === 0) throw new TaskInvalidError('Choose at least one source path')
        if (next.mode === 'scheduled' && next.schedules.length === 0) throw new TaskInvalidError('A scheduled task needs at least one schedule')
        await state.put('tasks', id, next)
        await logs.audit({ user: a.user.name, source: a.source, action: 'task.update', target: id, detail: change })
        return next
      })
      await log(a, task, 'info', `User [${a.user.name}] edited backup task [${task.name}]`, said('TASK_CHANGED', { user: a.user.name, name: task.name }))
      await components.changed(id)
      return task
    },

    async checkReach (t) { await checkSources(t.nodeId, t.ownerId, t.sources) },

    async remove (a, id, confirm) {
      if (confirm !== 'YES') throw new ConfirmationRequiredError()
      const task = await state.exclusive(async () => {
        const t = await tasks.get(a.user, id)
        if (components.isRunning(id)) throw new TaskRunningError(t.name, 'delete it')
        await state.del('tasks', id)
        await logs.audit({ user: a.user.name, source: a.source, action: 'task.delete', target: id, detail: { name: t.name } })
        return t
      })
      await log(a, task, 'warning', `User [${a.user.name}] deleted backup task [${task.name}]`, said('TASK_DELETED', { user: a.user.name, name: task.name }))
      await components.changed(id)
      return task
    }
  }
  return tasks
}
