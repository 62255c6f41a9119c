import { createRequire } from 'node:module'
import type * as Pkcs11js from 'pkcs11js'
import { TokenLockedError, TokenNotFoundError, TokenOperationError, WrongPinError } from './errors.ts'

// The pkcs11js native binding and the mapping of its CKR_ failures to our error classes.

export type P11 = typeof Pkcs11js
let loaded: P11 | undefined
/** pkcs11js, loaded on first use so that importing crypto/ never requires the native addon. */
export function p11 (): P11 {
  loaded ??= createRequire(import.meta.url)('pkcs11js') as P11
  return loaded
}

/** A CK_ULONG attribute in host byte order (little-endian on the platforms Node ships for). */
export function ulong (value: Buffer | undefined): number {
  if (value === undefined || value.length === 0) return -1
  return value.length === 8 ? Number(value.readBigUInt64LE()) : value.readUIntLE(0, Math.min(value.length, 6))
}

export function ckr (err: unknown): string | undefined {
  return err instanceof Error && /^CKR_\w+$/.test(err.message) ? err.message : undefined
}

/** Maps a pkcs11js failure to one of our error classes; ours pass through unchanged. */
export function tokenError (err: unknown, tokenLabel: string, operation: string): Error {
  switch (ckr(err)) {
    case 'CKR_PIN_INCORRECT': return new WrongPinError(tokenLabel, { cause: err })
    case 'CKR_PIN_LOCKED': return new TokenLockedError(tokenLabel, { cause: err })
    case 'CKR_TOKEN_NOT_PRESENT':
    case 'CKR_DEVICE_REMOVED': return new TokenNotFoundError(tokenLabel, { cause: err })
  }
  if (err instanceof Error && !('nativeStack' in err)) return err
  return new TokenOperationError(operation, { cause: err })
}

/** Runs one PKCS#11 step, turning its failure into our error for `tokenLabel`. */
export function call<T> (tokenLabel: string, operation: string, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    throw tokenError(err, tokenLabel, operation)
  }
}
