import type { Socket } from 'node:net'
import type { ErrorRecord, HolderAccess } from '../../crypto/index.ts'
import { HolderProtocolError } from './errors.ts'

/**
 * The holder protocol's messages, one JSON object per line (doc/design.md, "One store, many
 * clients": the exchange, message by message). Version 1.
 */
export const HOLDER_PROTOCOL = 1
/** No line is longer (a backup's arguments with many paths fit; a stream of data does not travel here). */
export const MAX_LINE = 1 << 20

/** What holds the store: the CLI of another command, `cairn mesh run`, or `cairn serve`. */
export type HolderKind = 'cli' | 'mesh' | 'serve'

export interface HolderInfo {
  pid: number
  kind: HolderKind
  /** The keys the holder has: it can verify (and serve) up to this access; 'none' serves nothing. */
  keys: HolderAccess | 'none'
  /** It opened the store read-only: it serves only operations that change nothing. */
  readOnly: boolean
}

export type HolderMessage =
  | { t: 'hello', v: number, store: string, nonce: string, holder: HolderInfo }
  | { t: 'auth', nonce: string, proofs: Partial<Record<HolderAccess, string>> }
  | { t: 'welcome', access: HolderAccess, proof: string }
  | { t: 'run', op: string, args: Record<string, unknown> }
  | { t: 'progress', data: unknown }
  | { t: 'items', data: unknown[] }
  | { t: 'result', data: unknown }
  /** An ErrorRecord (crypto/errors.ts): the client tells errors apart by `code`. */
  | ({ t: 'error' } & ErrorRecord)
  | { t: 'cancel' }

export function send (sock: Socket, m: HolderMessage): void {
  if (!sock.destroyed && sock.writable) sock.write(JSON.stringify(m) + '\n')
}

/**
 * Reads `sock` line by line and hands each parsed message to `onMessage`. A line that is
 * too long or not JSON ends the connection with `onBad`.
 */
export function readMessages (sock: Socket, onMessage: (m: HolderMessage) => void, onBad: (err: Error) => void): void {
  let buf = ''
  sock.setEncoding('utf8')
  sock.on('data', (d: string) => {
    buf += d
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      let m: HolderMessage
      const bad = (cause?: unknown): void => onBad(new HolderProtocolError('The other end sent a line that is not a holder message.', { cause }))
      try {
        m = JSON.parse(line)
      } catch (cause) {
        bad(cause)
        return
      }
      if (typeof m !== 'object' || m === null || typeof (m as { t?: unknown }).t !== 'string') { bad(); return }
      onMessage(m)
    }
    if (buf.length > MAX_LINE) onBad(new HolderProtocolError('The other end sent a line longer than the protocol allows.'))
  })
}

export const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64')
export const unb64 = (s: unknown): Buffer => Buffer.from(typeof s === 'string' ? s : '', 'base64')
