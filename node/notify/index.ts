// notify: e-mail notifications and reports, and signed webhooks, from the log list's entries
// (F23, F24). A failed mail or webhook is logged and retried; it never fails the action that
// caused it.
export * from './mailer.ts'
export * from './webhooks.ts'
export * from './reports.ts'
export * from './notifier.ts'
export * from './errors.ts'
