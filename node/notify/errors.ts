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
