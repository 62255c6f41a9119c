// logs: the node's log list (what happened, by type and level) and its audit trail (who did
// what, in an HMAC chain), in the state store (F23, F25). It never mails or calls anyone: the
// notify folder listens to new entries for that.
export * from './log-book.ts'
export * from './warning-texts.ts'
