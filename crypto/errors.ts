// Errors, for every layer: the base class CairnError with its stable code lives here, in the
// lowest layer, so that chunkstore, bootstrap and node extend one base; then crypto's own
// conditions. One class per condition, each with a stable `name` and `code` (never rename or
// renumber one: the HTTP API sends them, the console translates the code, scripts branch on it;
// doc/api.md "Errors" lists every code). Messages say what the user can do.

/** The values an error's message was made from, sent beside it so a console can word it itself. */
export type ErrorParams = Record<string, string | number | boolean>

export interface CairnErrorOptions extends ErrorOptions {
  params?: ErrorParams
}

/**
 * The base of every error Cairn raises on purpose. A subclass names one condition: a stable
 * `name` (the class's), a stable `code` (static, so tables such as the HTTP status of each code
 * read it without an instance; every instance carries it too), a message that says what to do,
 * `params` for the console, and `{ cause }` when it wraps another error. Check an error with
 * `instanceof` or by its code, never by its name or message.
 */
export abstract class CairnError extends Error {
  /** Stable, documented, unique: `UPPER_SNAKE`. Every subclass sets its own. */
  static readonly code: string
  readonly code: string
  readonly params?: ErrorParams

  constructor (message: string, options?: CairnErrorOptions) {
    super(message, options)
    this.code = (new.target as unknown as typeof CairnError).code
    if (options?.params !== undefined) this.params = options.params
  }
}

/** An error as data: what the HTTP API, the control socket and status records carry. */
export interface ErrorRecord {
  name: string
  code: string
  message: string
  params?: ErrorParams
}

/**
 * `err` as an ErrorRecord. An error that is not a CairnError (Node's, a library's) keeps its
 * name and message and has the code of InternalError.
 */
export function errorRecord (err: unknown): ErrorRecord {
  if (err instanceof CairnError) return { name: err.name, code: err.code, message: err.message, ...(err.params !== undefined ? { params: err.params } : {}) }
  const e = err as { name?: unknown, message?: unknown } | undefined
  return { name: typeof e?.name === 'string' ? e.name : 'Error', code: InternalError.code, message: typeof e?.message === 'string' ? e.message : String(err) }
}

/**
 * Something that must never happen happened: a broken invariant (a bug) or a broken
 * environment. The message says which; it is logged in full and never shown to API clients.
 */
export class InternalError extends CairnError {
  static override readonly code = 'INTERNAL'
  override readonly name = 'InternalError'
}

/**
 * An operation was stopped through its AbortSignal (a job stopped, the node shutting down,
 * Ctrl-C): the one abort error of every layer (operation.ts). Nothing is corrupt: what the
 * operation wrote is kept, and running it again goes on from there. `cause` is the signal's reason.
 */
export class OperationAbortedError extends CairnError {
  static override readonly code = 'OPERATION_ABORTED'
  override readonly name = 'OperationAbortedError'
  constructor (what: string, options?: CairnErrorOptions) {
    super(`${what} was stopped; what it had written is kept for the next run and nothing is corrupt.`, { ...options, params: { what } })
  }
}

/** A sealed chunk or record failed authentication: wrong key, wrong nonce, or altered bytes. */
export class DecryptionError extends CairnError {
  static override readonly code = 'DECRYPTION_FAILED'
  override readonly name = 'DecryptionError'
  constructor (message = 'Decryption failed: the data was altered or the key or nonce is wrong. Check the key, then fetch the chunk again from a replica.', options?: CairnErrorOptions) {
    super(message, options)
  }
}

/** The PKCS#11 module (shared library) could not be loaded. */
export class TokenModuleNotFoundError extends CairnError {
  static override readonly code = 'TOKEN_MODULE_NOT_FOUND'
  override readonly name = 'TokenModuleNotFoundError'
  constructor (readonly modulePath: string, options?: CairnErrorOptions) {
    super(`PKCS#11 module ${modulePath} could not be loaded. Install the token's driver or pass its path with --pkcs11-module or CAIRN_PKCS11_MODULE.`, { ...options, params: { modulePath } })
  }
}

/** No slot holds a token with the requested label. */
export class TokenNotFoundError extends CairnError {
  static override readonly code = 'TOKEN_NOT_FOUND'
  override readonly name = 'TokenNotFoundError'
  constructor (readonly tokenLabel: string, options?: CairnErrorOptions) {
    super(`No token labelled "${tokenLabel}" is present. Insert the USB key, or run "cairn token list" to see the labels that are present.`, { ...options, params: { tokenLabel } })
  }
}

/** C_Login answered CKR_PIN_INCORRECT. */
export class WrongPinError extends CairnError {
  static override readonly code = 'WRONG_PIN'
  override readonly name = 'WrongPinError'
  constructor (readonly tokenLabel: string, options?: CairnErrorOptions, readonly finalTry = false) {
    super(`The PIN for token "${tokenLabel}" is wrong. ${finalTry ? 'Only one try is left before the token locks.' : 'Enter it again; too many wrong PINs lock the token.'}`, { ...options, params: { tokenLabel, finalTry } })
  }
}

/** C_Login answered CKR_PIN_LOCKED: the token refuses the user PIN until the SO unblocks it. */
export class TokenLockedError extends CairnError {
  static override readonly code = 'TOKEN_LOCKED'
  override readonly name = 'TokenLockedError'
  constructor (readonly tokenLabel: string, options?: CairnErrorOptions) {
    super(`Token "${tokenLabel}" is locked after too many wrong PINs. Ask the token's security officer to unblock it (e.g. pkcs11-tool --init-pin with the SO PIN).`, { ...options, params: { tokenLabel } })
  }
}

/** The token has no key or certificate with the requested label or id. */
export class TokenKeyNotFoundError extends CairnError {
  static override readonly code = 'TOKEN_KEY_NOT_FOUND'
  override readonly name = 'TokenKeyNotFoundError'
  constructor (readonly tokenLabel: string, readonly what: string, options?: CairnErrorOptions) {
    super(`Token "${tokenLabel}" has no ${what}. Run "cairn token list" to see the keys on it.`, { ...options, params: { tokenLabel, what } })
  }
}

/** Any other PKCS#11 failure; `cause` is pkcs11js's error with the CKR_ code. */
export class TokenOperationError extends CairnError {
  static override readonly code = 'TOKEN_OPERATION_FAILED'
  override readonly name = 'TokenOperationError'
  constructor (readonly operation: string, options?: CairnErrorOptions) {
    super(`The token refused ${operation}${codeOf(options?.cause)}. Check that the key allows this use and that the token is still inserted.`, { ...options, params: { operation } })
  }
}

/** The key on the token (or in a certificate) is neither EC P-256 nor RSA-2048 or larger. */
export class UnsupportedKeyError extends CairnError {
  static override readonly code = 'UNSUPPORTED_KEY'
  override readonly name = 'UnsupportedKeyError'
  constructor (readonly detail: string, options?: CairnErrorOptions) {
    super(`Unsupported key: ${detail}. Use an EC P-256 or RSA-2048 (or larger) key.`, { ...options, params: { detail } })
  }
}

/** An operator certificate is malformed, not yet valid, expired, or not meant for signatures. */
export class CertificateRejectedError extends CairnError {
  static override readonly code = 'CERTIFICATE_REJECTED'
  override readonly name = 'CertificateRejectedError'
  constructor (readonly reason: 'unparsable' | 'not-yet-valid' | 'expired' | 'key-usage' | 'key-type', detail: string, options?: CairnErrorOptions) {
    super(`Certificate rejected (${reason}): ${detail}. Enrol a valid signing certificate from the operator's token.`, { ...options, params: { reason, detail } })
  }
}

/** A login response names a challenge this server never issued (or that was purged). */
export class ChallengeUnknownError extends CairnError {
  static override readonly code = 'CHALLENGE_UNKNOWN'
  override readonly name = 'ChallengeUnknownError'
  constructor (options?: CairnErrorOptions) {
    super('This login challenge is unknown. Start the login again to get a fresh challenge.', options)
  }
}

/** A login response reuses a challenge that has already been answered (replay). */
export class ChallengeReplayedError extends CairnError {
  static override readonly code = 'CHALLENGE_REPLAYED'
  override readonly name = 'ChallengeReplayedError'
  constructor (options?: CairnErrorOptions) {
    super('This login challenge has already been used. Start the login again to get a fresh challenge.', options)
  }
}

/** The challenge's expiry passed before the response arrived. */
export class ChallengeExpiredError extends CairnError {
  static override readonly code = 'CHALLENGE_EXPIRED'
  override readonly name = 'ChallengeExpiredError'
  constructor (options?: CairnErrorOptions) {
    super('This login challenge has expired. Start the login again and sign within the time limit.', options)
  }
}

/** The response was made for another origin, user or login attempt than the challenge's. */
export class ChallengeMismatchError extends CairnError {
  static override readonly code = 'CHALLENGE_MISMATCH'
  override readonly name = 'ChallengeMismatchError'
  constructor (readonly field: 'origin' | 'user' | 'attempt', options?: CairnErrorOptions) {
    super(`The signed login response does not match the challenge's ${field}. Log in again from the console's own address.`, { ...options, params: { field } })
  }
}

/** The signature does not verify against the operator's enrolled certificate. */
export class SignatureInvalidError extends CairnError {
  static override readonly code = 'SIGNATURE_INVALID'
  override readonly name = 'SignatureInvalidError'
  constructor (options?: CairnErrorOptions) {
    super('The signature does not match the enrolled certificate. Use the USB key that was enrolled for this operator, or enrol this one.', options)
  }
}

function codeOf (cause: unknown): string {
  if (cause instanceof Error && /^CKR_/.test(cause.message)) return ` (${cause.message})`
  return ''
}

/** No key slot of the key file opens with the passphrase (or token, or recovery key) given. */
export class WrongPassphraseError extends CairnError {
  static override readonly code = 'WRONG_PASSPHRASE'
  override readonly name = 'WrongPassphraseError'
  constructor (message = 'Wrong passphrase: no key slot of this store opens with it. Check CAIRN_PASSPHRASE or --passphrase-file.', options?: CairnErrorOptions) {
    super(message, options)
  }
}

/** The key file is missing, unreadable, of an unknown version, or malformed. Nothing was changed. */
export class KeyFileError extends CairnError {
  static override readonly code = 'KEY_FILE_INVALID'
  override readonly name = 'KeyFileError'
  constructor (message: string, options?: CairnErrorOptions) {
    super(message, options)
  }
}

/** The operation needs the full key, but the store was opened with a write-only key. */
export class WriteOnlyKeyError extends CairnError {
  static override readonly code = 'WRITE_ONLY_KEY'
  override readonly name = 'WriteOnlyKeyError'
  constructor (operation: string, options?: CairnErrorOptions) {
    super(`${operation} needs the full key; this is a write-only key, which can only back up. Open the store with a full key slot.`, { ...options, params: { operation } })
  }
}

/** No token key slot of the key file can be opened by the key pairs on the token given. */
export class TokenSlotNotFoundError extends CairnError {
  static override readonly code = 'TOKEN_SLOT_NOT_FOUND'
  override readonly name = 'TokenSlotNotFoundError'
  constructor (readonly tokenLabel: string, options?: CairnErrorOptions) {
    super(`No key slot of this store opens with token "${tokenLabel}". Use the token the slot was made for ("cairn key list" shows it), or another slot.`, { ...options, params: { tokenLabel } })
  }
}

/** A typed recovery key has the wrong length, a character outside its alphabet, or a bad checksum. */
export class RecoveryKeyFormatError extends CairnError {
  static override readonly code = 'RECOVERY_KEY_MALFORMED'
  override readonly name = 'RecoveryKeyFormatError'
  constructor (detail: string, options?: CairnErrorOptions) {
    super(`This is not a valid recovery key (${detail}). Check it against the printed sheet: 8 groups of 5 characters.`, { ...options, params: { detail } })
  }
}
