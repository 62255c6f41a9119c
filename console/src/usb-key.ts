// The USB keys the local signing helper sees (F27, issue 19): every key with a certificate on
// the tokens plugged in, and the one a login wants (by the enrolled certificate's fingerprint),
// so the operator types only the PIN.
import { signingHelper, type HelperToken } from './api.ts'

export interface UsbKey {
  tokenLabel: string
  /** Manufacturer, model and serial number, for telling two keys apart. */
  token: string
  keyLabel: string
  /** CKA_ID (hex): how the helper is told which key signs. */
  keyId: string
  fingerprint256?: string
  pinLocked: boolean
  /** Wrong PINs were entered; `pinFinalTry`: one more locks the key. */
  pinCountLow: boolean
  pinFinalTry: boolean
}

/** The keys with a certificate on these tokens: what can be enrolled and log in. */
export function keysOf (tokens: HelperToken[]): UsbKey[] {
  return tokens.flatMap(t => t.objects.filter(o => o.kind === 'certificate').map(o => ({
    tokenLabel: t.label,
    token: [t.manufacturer, t.model, t.serialNumber].map(s => s.trim()).filter(Boolean).join(' · '),
    keyLabel: o.label,
    keyId: o.id,
    ...(o.fingerprint256 !== undefined ? { fingerprint256: o.fingerprint256 } : {}),
    pinLocked: t.pinLocked,
    pinCountLow: t.pinCountLow,
    pinFinalTry: t.pinFinalTry
  }))).sort((a, b) => a.tokenLabel.localeCompare(b.tokenLabel) || a.keyLabel.localeCompare(b.keyLabel))
}

/** Asks the helper which keys are plugged in. */
export async function findKeys (): Promise<UsbKey[]> {
  return keysOf(await signingHelper.tokens())
}

/** The helper's address, kept in this browser (the default is the helper's default port). */
export function setHelperUrl (url: string): void {
  const u = url.trim()
  if (u === '') localStorage.removeItem('cairn.signingHelper')
  else localStorage.setItem('cairn.signingHelper', u.replace(/\/+$/, ''))
}
