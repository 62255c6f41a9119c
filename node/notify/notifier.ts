import { Cron } from 'croner'
import type { StateStore } from '../state/index.ts'
import type { Clock } from '../clock/index.ts'
import type { User } from '../auth/index.ts'
import { said, saidError, type LogBook, type LogEntry } from '../logs/index.ts'
import type { Mailer } from './mailer.ts'
import { toCsv, toXlsx, type ReportSource } from './reports.ts'

const REPORT_CRON = { day: '0 8 * * *', week: '0 8 * * 1', month: '0 8 1 * *', year: '0 8 1 1 *' } as const

/**
 * E-mail notifications (F23, manual 2.9.2): each user picks log types and levels, mailed at once
 * or as a daily digest; and report mails (F24, manual 2.9.3) every day, week, month or year.
 *
 * Contract:
 * - Mails only between `start` and `stop`; a user gets only the entries their role may see.
 * - A failed mail is logged (a warning in the log list) and never fails the action that was
 *   logged: `onLog` returns at once and never throws.
 * - `stop` cancels the timers and resolves once every mail queued so far was sent or failed.
 */
export interface Notifier {
  /** A new entry of the log list (LogBook.onEntry). */
  onLog: (e: LogEntry) => void
  /** Re-reads every user's digest and report settings and sets their timers. */
  reschedule: () => void
  sendReportsNow: (userId: string) => Promise<void>
  sendDigestNow: (userId: string) => Promise<void>
  start: () => void
  /** Resolves when every mail queued so far was sent or failed. */
  idle: () => Promise<void>
  stop: () => Promise<void>
}

export interface NotifierComponents {
  state: StateStore
  clock: Clock
  logs: LogBook
  mailer: Mailer
  reports: ReportSource
}

const visible = (u: User, e: LogEntry): boolean => u.role !== 'operator' || e.ownerId === u.id

const formatEntry = (e: LogEntry): string => `${e.time}  ${e.level.toUpperCase()}  ${e.type}  ${e.user}@${e.source}  ${e.message}`

export function createNotifier (components: NotifierComponents): Notifier {
  const { state, clock, logs, mailer, reports } = components
  const timers = new Map<string, () => void>()
  let running = false
  const pending = new Set<Promise<void>>()

  const track = (p: Promise<void>): void => {
    const q = p.catch(async (err) => {
      await logs.write({ type: 'system', level: 'warning', user: 'system', source: 'mailer', message: (err as Error).message, text: said('MAIL_FAILED', saidError(err)) }).catch(() => {})
    })
    pending.add(q)
    void q.finally(() => pending.delete(q))
  }

  const wants = (u: User, e: LogEntry): boolean => {
    const n = u.notifications
    return n !== undefined && n.enabled && u.enabled && u.email !== undefined && n.types.includes(e.type) && n.levels.includes(e.level) && visible(u, e)
  }

  async function sendDigest (userId: string): Promise<void> {
    const u = await state.get<User>('users', userId)
    if (u?.notifications === undefined || u.email === undefined) return
    const since = u.notifications.lastDigestAt ?? new Date(clock.now().getTime() - 24 * 3600_000).toISOString()
    const entries = (await logs.query({ from: since })).filter(e => e.time > since && wants(u, e)).reverse()
    if (entries.length > 0) {
      await mailer.send({ to: u.email, subject: `[Cairn] Daily log digest: ${entries.length} entries`, text: entries.map(formatEntry).join('\n') + '\n' })
    }
    await state.exclusive(async () => {
      const fresh = await state.get<User>('users', userId)
      if (fresh?.notifications !== undefined) { fresh.notifications.lastDigestAt = clock.now().toISOString(); await state.put('users', userId, fresh) }
    })
  }

  async function sendReports (userId: string): Promise<void> {
    const u = await state.get<User>('users', userId)
    if (u?.reports === undefined || u.email === undefined) return
    const attachments = []
    const day = clock.now().toISOString().slice(0, 10)
    for (const kind of u.reports.types) {
      const table = await reports(kind, u)
      attachments.push({ filename: `${day}_${kind}.csv`, content: Buffer.from(toCsv(table)) }, { filename: `${day}_${kind}.xlsx`, content: await toXlsx(table) })
    }
    await mailer.send({ to: u.email, subject: `[Cairn] ${u.reports.cycle} report ${day}`, text: `Attached: ${u.reports.types.join(' and ')} report.\n`, attachments })
    await state.exclusive(async () => {
      const fresh = await state.get<User>('users', userId)
      if (fresh?.reports !== undefined) { fresh.reports.lastSentAt = clock.now().toISOString(); await state.put('users', userId, fresh) }
    })
  }

  function every (key: string, pattern: string, timeZone: string, fn: () => Promise<void>): void {
    const c = new Cron(pattern, { timezone: timeZone, paused: true })
    const next = c.nextRun(clock.now())
    c.stop()
    if (next === null) return
    timers.set(key, clock.at(next, () => {
      timers.delete(key)
      track(fn())
      if (running) every(key, pattern, timeZone, fn)
    }))
  }

  const notifier: Notifier = {
    onLog (e) {
      if (!running) return
      track((async () => {
        for (const u of await state.list<User>('users')) {
          if (u.notifications?.mode === 'immediate' && wants(u, e)) {
            await mailer.send({ to: u.email!, subject: `[Cairn] ${e.level}: ${e.message.slice(0, 120)}`, text: formatEntry(e) + '\n' })
          }
        }
      })())
    },

    reschedule () {
      for (const c of timers.values()) c()
      timers.clear()
      if (!running) return
      track((async () => {
        for (const u of await state.list<User>('users')) {
          const n = u.notifications
          if (n?.enabled === true && n.mode === 'digest') {
            const [h, m] = n.digestTime.split(':').map(Number)
            every(`digest:${u.id}`, `${m} ${h} * * *`, n.timeZone, async () => { await sendDigest(u.id) })
          }
          if (u.reports?.enabled === true) every(`report:${u.id}`, REPORT_CRON[u.reports.cycle], 'UTC', async () => { await sendReports(u.id) })
        }
      })())
    },

    sendReportsNow: sendReports,
    sendDigestNow: sendDigest,

    start () { running = true; notifier.reschedule() },
    async idle () { while (pending.size > 0) await Promise.allSettled([...pending]) },
    async stop () {
      running = false
      for (const c of timers.values()) c()
      timers.clear()
      await notifier.idle()
    }
  }
  return notifier
}
