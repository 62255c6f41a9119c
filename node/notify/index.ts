// notify: the log list and audit trail, e-mail notifications and reports, signed webhooks and
// Prometheus metrics (F23, F24). A failed mail or webhook is logged and retried; it never fails
// the action that caused it.
export * from './log-book.ts'
export * from './metrics.ts'
export * from './mailer.ts'
export * from './webhooks.ts'
export * from './reports.ts'
export * from './notifier.ts'
export * from './errors.ts'
