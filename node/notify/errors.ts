import { CairnError } from '../../crypto/index.ts'

export class MailNotConfiguredError extends CairnError {
  static override readonly code = 'MAIL_NOT_CONFIGURED'
  override readonly name = 'MailNotConfiguredError'
  constructor () { super('No mail server is set; an admin sets one with PUT /api/settings/smtp') }
}

export class MailFailedError extends CairnError {
  static override readonly code = 'MAIL_FAILED'
  override readonly name = 'MailFailedError'
}

/** A webhook URL that would reach this machine or its link (SSRF), or an IP address in an unusual form. */
export class WebhookTargetRefusedError extends CairnError {
  static override readonly code = 'WEBHOOK_TARGET_REFUSED'
  override readonly name = 'WebhookTargetRefusedError'
  constructor (url: string, why: string) { super(`Webhook target ${url} refused: ${why}`, { params: { url, why } }) }
}

/** A webhook target that did not answer in time; the delivery is retried. */
export class WebhookTimeoutError extends CairnError {
  static override readonly code = 'WEBHOOK_TIMEOUT'
  override readonly name = 'WebhookTimeoutError'
  constructor (ms: number) { super(`no answer within ${ms} ms`, { params: { ms } }) }
}
