import { CairnError } from '../state/index.ts'

export class MailNotConfiguredError extends CairnError {
  override readonly name = 'MailNotConfiguredError'
  override readonly kind = 'conflict'
  constructor () { super('No mail server is set; an admin sets one with PUT /api/settings/smtp') }
}

export class MailFailedError extends CairnError {
  override readonly name = 'MailFailedError'
  override readonly kind = 'unavailable'
}

/** A webhook URL that would reach this machine or its link (SSRF), or an IP address in an unusual form. */
export class WebhookTargetRefusedError extends CairnError {
  override readonly name = 'WebhookTargetRefusedError'
  override readonly kind = 'invalid'
  constructor (url: string, why: string) { super(`Webhook target ${url} refused: ${why}`) }
}
