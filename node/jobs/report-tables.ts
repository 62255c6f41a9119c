// The report tables of the manual (2.9.3): clients and backup tasks with what their jobs did,
// as each user may see them. The API sends them as JSON, CSV or a spreadsheet, and the
// notifier mails them (node/notify's ReportSource).
import type { StateStore } from '../state/index.ts'
import type { User } from '../auth/index.ts'
import type { Inventory } from '../inventory/index.ts'
import type { ReportSource } from '../notify/index.ts'
import type { Tasks, TaskRecord } from './tasks.ts'
import type { JobRunner } from './job-runner.ts'

/** Client and task report tables (manual 2.9.3) as a user may see them. */
export function reportSource (c: { state: StateStore, inventory: Inventory, tasks: Tasks, runner: JobRunner }): ReportSource {
  return async (kind, user) => {
    const jobs = (await c.runner.list()).filter(j => user.role !== 'operator' || j.ownerId === user.id)
    const users = new Map((await c.state.list<User>('users')).map(u => [u.id, u.name]))
    if (kind === 'clients') {
      const tasks = await c.tasks.list(user)
      return {
        title: 'Client report',
        columns: [{ key: 'client', header: 'Client' }, { key: 'ip', header: 'IP' }, { key: 'user', header: 'Username' }, { key: 'os', header: 'OS' }, { key: 'tasks', header: 'Tasks' }, { key: 'bytes', header: 'Backup data size (bytes)' }, { key: 'lastSeen', header: 'Last seen' }],
        rows: (await c.inventory.listNodes(user)).map(n => {
          const ids = new Set(tasks.filter((t: TaskRecord) => t.nodeId === n.id).map(t => t.id))
          const bytes = jobs.filter(j => j.type === 'backup' && j.taskId !== undefined && ids.has(j.taskId) && (j.status === 'success' || j.status === 'warning')).reduce((s, j) => s + Number(j.result?.bytesRead ?? 0), 0)
          return { client: n.name, ip: n.ip, user: n.ownerId !== undefined ? users.get(n.ownerId) ?? '' : '', os: n.os, tasks: ids.size, bytes, lastSeen: n.lastSeenAt }
        })
      }
    }
    return {
      title: 'Task report',
      columns: [{ key: 'task', header: 'Task name' }, { key: 'type', header: 'Type' }, { key: 'space', header: 'User space' }, { key: 'runs', header: 'Runs' }, { key: 'ok', header: 'Succeeded' }, { key: 'failed', header: 'Failed' }, { key: 'bytes', header: 'Backup data size (bytes)' }, { key: 'last', header: 'Last run' }, { key: 'lastStatus', header: 'Last status' }],
      rows: await Promise.all((await c.tasks.list(user)).map(async t => {
        const mine = jobs.filter(j => j.taskId === t.id && j.type === 'backup')
        const space = await c.state.get<{ name: string }>('spaces', t.spaceId)
        return {
          task: t.name, type: t.agentType, space: space?.name ?? '', runs: mine.length,
          ok: mine.filter(j => j.status === 'success' || j.status === 'warning').length, failed: mine.filter(j => j.status === 'failed').length,
          bytes: mine.reduce((s, j) => s + Number(j.result?.bytesRead ?? 0), 0), last: mine[0]?.startedAt ?? '', lastStatus: mine[0]?.status ?? ''
        }
      }))
    }
  }
}
