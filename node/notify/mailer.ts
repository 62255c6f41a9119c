import nodemailer from 'nodemailer'
import type { StateStore } from '../state/index.ts'
import type { Metrics } from '../metrics/index.ts'
import { MailFailedError, MailNotConfiguredError } from './errors.ts'

export interface SmtpSettings {
  host: string
  port: number
  /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. */
  secure: boolean
  user?: string
  password?: string
  from: string
  /** Accept a self-signed server certificate (lab setups only). */
  allowSelfSigned?: boolean
}

export interface Mail { to: string, subject: string, text: string, attachments?: Array<{ filename: string, content: Buffer }> }

export interface Mailer {
  settings: () => Promise<SmtpSettings | undefined>
  configure: (s: SmtpSettings) => Promise<void>
  send: (mail: Mail) => Promise<void>
}

/** Sends mail through the SMTP server an admin set (nodemailer); one message at a time. */
export function createMailer (components: { state: StateStore, metrics: Metrics }): Mailer {
  const { state, metrics } = components
  let chain: Promise<unknown> = Promise.resolve()
  return {
    async settings () { return await state.get<SmtpSettings>('settings', 'smtp') },
    async configure (s) { await state.put('settings', 'smtp', s) },
    async send (mail) {
      const s = await state.get<SmtpSettings>('settings', 'smtp')
      if (s === undefined) throw new MailNotConfiguredError()
      const run = chain.then(async () => {
        const transport = nodemailer.createTransport({
          host: s.host, port: s.port, secure: s.secure,
          ...(s.user !== undefined ? { auth: { user: s.user, pass: s.password ?? '' } } : {}),
          tls: { rejectUnauthorized: s.allowSelfSigned !== true },
          connectionTimeout: 10_000, socketTimeout: 20_000
        })
        try {
          await transport.sendMail({ from: s.from, to: mail.to, subject: mail.subject, text: mail.text, attachments: mail.attachments })
          metrics.mailSent(true)
        } catch (err) {
          metrics.mailSent(false)
          throw new MailFailedError(`Mail to ${mail.to} failed: ${(err as Error).message}`, { cause: err })
        } finally {
          transport.close()
        }
      })
      chain = run.catch(() => {})
      await run
    }
  }
}
