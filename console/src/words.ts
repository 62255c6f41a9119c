// The node's enumerated values (log sources, audit actions, report cells) and its log lines (a code
// and parameters, LogText) in the user's language.
// A value the tables do not know (a client's IP as a log source, a task's name) is shown as it is.
import { i18n } from './i18n.ts'
import { bytes, time } from './format.ts'

const known = (key: string): boolean => i18n.global.te(key) || i18n.global.te(key, 'en')

/** A log or audit line's source: a part of the node (scheduler, mailer …) or the client's IP. */
export function sourceText (source: string): string {
  const key = `logSource.${source}`
  return known(key) ? i18n.global.t(key) : source
}

/** An audit action ("task.create", "job.clean.start") as a person reads it. */
export function auditActionText (action: string): string {
  const job = /^job\.([a-z]+)\.(start|stop)$/.exec(action)
  if (job !== null && known(`jobType.${job[1]}`)) return i18n.global.t(job[2] === 'start' ? 'auditAction.jobStart' : 'auditAction.jobStop', { type: i18n.global.t(`jobType.${job[1]}`) })
  const key = `auditAction.${action.replaceAll('.', '_')}`
  return known(key) ? i18n.global.t(key) : action
}

/** A report cell whose value is a word of the node's: an agent type, a job's status. */
export function reportValueText (column: string, value: string): string {
  if (column === 'type') return value === 'disk-image' ? i18n.global.t('task.disk') : value === 'filesystem' ? i18n.global.t('task.fs') : value
  if (column === 'lastStatus' && known(`job.${value}`) && ['running', 'success', 'warning', 'failed', 'stopped'].includes(value)) return i18n.global.t(`job.${value}`)
  return value
}

/** A parameter of a log line as a person reads it: job types, levels, statuses and roles in words, sizes and times formatted. */
function paramText (name: string, value: string | number): string {
  const word = (section: string): string => known(`${section}.${value}`) ? i18n.global.t(`${section}.${value}`) : String(value)
  if (name === 'type') return word('jobType')
  if (name === 'level') return word('task')
  if (name === 'status') return word('job')
  if (name === 'role') return word('user')
  if (name === 'conflict') return word('restore')
  // The fields a change touched ("name, ownerId"), named as the forms name them.
  if (name === 'fields') return String(value).split(', ').map(f => known(`field.${f}`) ? i18n.global.t(`field.${f}`) : f).join(i18n.global.t('app.listSep'))
  // A file system's error code (EACCES …) as the reason of a per-file warning.
  if (name === 'reason' && /^E[A-Z0-9]+$/.test(String(value))) return word('errno')
  if (/^bytes/.test(name) && typeof value === 'number') return bytes(value)
  if ((name === 'time' || name === 'until') && typeof value === 'string') return time(value)
  return String(value)
}

/** A log or job-log line's message in the user's language when the node gave its code, else as the node wrote it. */
export function logText (line: { message: string, text?: { code: string, params?: Record<string, string | number> } }): string {
  const code = line.text?.code
  if (code === undefined || !known(`logMsg.${code}`)) return line.message
  const raw = line.text?.params ?? {}
  const params = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, paramText(k, v)]))
  // An error inside the line (node/logs saidError): worded from its code like any error of the node.
  const errorCode = raw.errorCode
  if (typeof errorCode === 'string' && known(`apiErr.${errorCode}`)) {
    let errorParams: Record<string, unknown> = {}
    try { errorParams = JSON.parse(String(raw.errorParams ?? '{}')) } catch {}
    params.error = i18n.global.t(`apiErr.${errorCode}`, errorParams).replace(/[.。]$/, '')
  }
  return i18n.global.t(`logMsg.${code}`, params)
}

/** Why a job failed, in the user's language when the node gave the error's code (JobRecord.errorCode), else as the node wrote it. */
export function jobErrorText (job: { error?: string, errorCode?: string, errorParams?: Record<string, unknown> }): string {
  if (job.errorCode !== undefined && known(`apiErr.${job.errorCode}`)) return i18n.global.t(`apiErr.${job.errorCode}`, job.errorParams ?? {})
  return job.error ?? ''
}
