// Hardware tokens through PKCS#11 (pkcs11js): load a module, find a token by its label, log in
// with the PIN. What a session can do is in token-session.ts. Calls are synchronous, so one
// module per operation (withTokenSession) is simple and never leaves a login behind.
import type * as Pkcs11js from 'pkcs11js'
import { TokenLockedError, TokenModuleNotFoundError, TokenNotFoundError, TokenOperationError, WrongPinError } from './errors.ts'
import { call, ckr, p11, tokenError } from './pkcs11-binding.ts'
import { createSession, type TokenPublicView, type TokenSession } from './token-session.ts'

export { tokenError } from './pkcs11-binding.ts'
export { classify, ecdsaRawToDer } from './token-session.ts'
export type { TokenKeyType, TokenObject, TokenKeyRef, TokenKeyPair, TokenSession, TokenPublicView } from './token-session.ts'

/** SoftHSM2's module on Debian; real USB keys pass their vendor's module instead. */
export const DEFAULT_PKCS11_MODULE = '/usr/lib/softhsm/libsofthsm2.so'

/** The module path: the explicit option, else `CAIRN_PKCS11_MODULE`, else SoftHSM2's. */
export function resolvePkcs11Module (explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return explicit ?? env.CAIRN_PKCS11_MODULE ?? DEFAULT_PKCS11_MODULE
}

export interface TokenInfo {
  /** Slot id as hex (SoftHSM2 renumbers slots; find tokens by label). */
  slotId: string
  label: string
  manufacturer: string
  model: string
  serialNumber: string
  /** The token has seen wrong PINs since the last good one (CKF_USER_PIN_COUNT_LOW). */
  pinCountLow: boolean
  /** One more wrong PIN locks the token (CKF_USER_PIN_FINAL_TRY). */
  pinFinalTry: boolean
  pinLocked: boolean
}

export interface Pkcs11Module {
  readonly modulePath: string
  /** Initialised tokens in the slots that have one. */
  listTokens: () => TokenInfo[]
  /** Opens a session on the token labelled `tokenLabel` and logs in with `pin`. */
  login: (tokenLabel: string, pin: string) => TokenSession
  /** Opens a session without logging in. */
  openPublic: (tokenLabel: string) => TokenPublicView
  /** Finalises the module (after closing its sessions); safe to call twice. */
  close: () => void
}

export interface Pkcs11ModuleInit {
  /** Path of the PKCS#11 shared library; see `resolvePkcs11Module`. */
  modulePath?: string
}

export function openPkcs11Module (init: Pkcs11ModuleInit = {}): Pkcs11Module {
  const modulePath = resolvePkcs11Module(init.modulePath)
  const { PKCS11 } = p11()
  const lib = new PKCS11()
  try {
    lib.load(modulePath)
  } catch (err) {
    throw new TokenModuleNotFoundError(modulePath, { cause: err })
  }
  let ownsInit = true
  try {
    lib.C_Initialize()
  } catch (err) {
    if (ckr(err) === 'CKR_CRYPTOKI_ALREADY_INITIALIZED') ownsInit = false
    else throw new TokenOperationError('C_Initialize', { cause: err })
  }
  let closed = false
  const sessions = new Set<{ close: () => void }>()

  function slotOf (tokenLabel: string): Pkcs11js.Handle {
    for (const slot of lib.C_GetSlotList(true)) {
      if (lib.C_GetTokenInfo(slot).label.trimEnd() === tokenLabel) return slot
    }
    throw new TokenNotFoundError(tokenLabel)
  }

  function open (tokenLabel: string): Pkcs11js.Handle {
    const { CKF_SERIAL_SESSION } = p11()
    return call(tokenLabel, 'opening a session', () => lib.C_OpenSession(slotOf(tokenLabel), CKF_SERIAL_SESSION))
  }

  function track<T extends { close: () => void }> (s: T): T {
    sessions.add(s)
    const close = s.close
    s.close = () => { sessions.delete(s); close() }
    return s
  }

  return {
    modulePath,
    listTokens () {
      const c = p11()
      const tokens = lib.C_GetSlotList(true).map(slot => ({ slot, info: lib.C_GetTokenInfo(slot) }))
      // Blank tokens (SoftHSM2 always offers one) cannot hold keys; leave them out.
      return tokens.filter(({ info }) => (info.flags & c.CKF_TOKEN_INITIALIZED) !== 0).map(({ slot, info }) => {
        return {
          slotId: slot.toString('hex'),
          label: info.label.trimEnd(),
          manufacturer: info.manufacturerID.trimEnd(),
          model: info.model.trimEnd(),
          serialNumber: info.serialNumber.trimEnd(),
          pinCountLow: (info.flags & c.CKF_USER_PIN_COUNT_LOW) !== 0,
          pinFinalTry: (info.flags & c.CKF_USER_PIN_FINAL_TRY) !== 0,
          pinLocked: (info.flags & c.CKF_USER_PIN_LOCKED) !== 0
        }
      })
    },
    login (tokenLabel, pin) {
      const c = p11()
      const slot = slotOf(tokenLabel)
      if ((lib.C_GetTokenInfo(slot).flags & c.CKF_USER_PIN_LOCKED) !== 0) throw new TokenLockedError(tokenLabel)
      const session = open(tokenLabel)
      try {
        lib.C_Login(session, c.CKU_USER, pin)
      } catch (err) {
        lib.C_CloseSession(session)
        if (ckr(err) === 'CKR_PIN_INCORRECT' && (lib.C_GetTokenInfo(slot).flags & c.CKF_USER_PIN_FINAL_TRY) !== 0) {
          throw new WrongPinError(tokenLabel, { cause: err }, true)
        }
        if (ckr(err) !== 'CKR_USER_ALREADY_LOGGED_IN') throw tokenError(err, tokenLabel, 'the login')
      }
      return track(createSession(lib, session, tokenLabel, true))
    },
    openPublic (tokenLabel) {
      return track(createSession(lib, open(tokenLabel), tokenLabel, false))
    },
    close () {
      if (closed) return
      closed = true
      for (const s of [...sessions]) s.close()
      if (ownsInit) lib.C_Finalize()
      lib.close()
    }
  }
}

/**
 * Opens the module, logs in to the token, runs `fn`, and always logs out and finalises,
 * whether `fn` returns or throws. `fn` is synchronous: the session is closed when it returns.
 */
export function withTokenSession<T> (init: Pkcs11ModuleInit & { tokenLabel: string, pin: string }, fn: (session: TokenSession) => T): T {
  const module = openPkcs11Module(init)
  try {
    const session = module.login(init.tokenLabel, init.pin)
    try {
      return fn(session)
    } finally {
      session.close()
    }
  } finally {
    module.close()
  }
}
