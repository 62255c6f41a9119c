// One class per condition. `name` is stable: the HTTP API sends `{ name, message }` and the
// console and CLI branch on it, so never rename one. Messages say what the user can do.

/** A sealed chunk or record failed authentication: wrong key, wrong nonce, or altered bytes. */
export class DecryptionError extends Error {
  override readonly name = 'DecryptionError'
  constructor (message = 'Decryption failed: the data was altered or the key or nonce is wrong. Check the key, then fetch the chunk again from a replica.', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The PKCS#11 module (shared library) could not be loaded. */
export class TokenModuleNotFoundError extends Error {
  override readonly name = 'TokenModuleNotFoundError'
  constructor (readonly modulePath: string, options?: ErrorOptions) {
    super(`PKCS#11 module ${modulePath} could not be loaded. Install the token's driver or pass its path with --pkcs11-module or CAIRN_PKCS11_MODULE.`, options)
  }
}

/** No slot holds a token with the requested label. */
export class TokenNotFoundError extends Error {
  override readonly name = 'TokenNotFoundError'
  constructor (readonly tokenLabel: string, options?: ErrorOptions) {
    super(`No token labelled "${tokenLabel}" is present. Insert the USB key, or run "cairn token list" to see the labels that are present.`, options)
  }
}

/** C_Login answered CKR_PIN_INCORRECT. */
export class WrongPinError extends Error {
  override readonly name = 'WrongPinError'
  constructor (readonly tokenLabel: string, options?: ErrorOptions, readonly finalTry = false) {
    super(`The PIN for token "${tokenLabel}" is wrong. ${finalTry ? 'Only one try is left before the token locks.' : 'Enter it again; too many wrong PINs lock the token.'}`, options)
  }
}

/** C_Login answered CKR_PIN_LOCKED: the token refuses the user PIN until the SO unblocks it. */
export class TokenLockedError extends Error {
  override readonly name = 'TokenLockedError'
  constructor (readonly tokenLabel: string, options?: ErrorOptions) {
    super(`Token "${tokenLabel}" is locked after too many wrong PINs. Ask the token's security officer to unblock it (e.g. pkcs11-tool --init-pin with the SO PIN).`, options)
  }
}

/** The token has no key or certificate with the requested label or id. */
export class TokenKeyNotFoundError extends Error {
  override readonly name = 'TokenKeyNotFoundError'
  constructor (readonly tokenLabel: string, readonly what: string, options?: ErrorOptions) {
    super(`Token "${tokenLabel}" has no ${what}. Run "cairn token list" to see the keys on it.`, options)
  }
}

/** Any other PKCS#11 failure; `cause` is pkcs11js's error with the CKR_ code. */
export class TokenOperationError extends Error {
  override readonly name = 'TokenOperationError'
  constructor (readonly operation: string, options?: ErrorOptions) {
    super(`The token refused ${operation}${codeOf(options?.cause)}. Check that the key allows this use and that the token is still inserted.`, options)
  }
}

/** The key on the token (or in a certificate) is neither EC P-256 nor RSA-2048 or larger. */
export class UnsupportedKeyError extends Error {
  override readonly name = 'UnsupportedKeyError'
  constructor (readonly detail: string, options?: ErrorOptions) {
    super(`Unsupported key: ${detail}. Use an EC P-256 or RSA-2048 (or larger) key.`, options)
  }
}

/** An operator certificate is malformed, not yet valid, expired, or not meant for signatures. */
export class CertificateRejectedError extends Error {
  override readonly name = 'CertificateRejectedError'
  constructor (readonly reason: 'unparsable' | 'not-yet-valid' | 'expired' | 'key-usage' | 'key-type', detail: string, options?: ErrorOptions) {
    super(`Certificate rejected (${reason}): ${detail}. Enrol a valid signing certificate from the operator's token.`, options)
  }
}

/** A login response names a challenge this server never issued (or that was purged). */
export class ChallengeUnknownError extends Error {
  override readonly name = 'ChallengeUnknownError'
  constructor (options?: ErrorOptions) {
    super('This login challenge is unknown. Start the login again to get a fresh challenge.', options)
  }
}

/** A login response reuses a challenge that has already been answered (replay). */
export class ChallengeReplayedError extends Error {
  override readonly name = 'ChallengeReplayedError'
  constructor (options?: ErrorOptions) {
    super('This login challenge has already been used. Start the login again to get a fresh challenge.', options)
  }
}

/** The challenge's expiry passed before the response arrived. */
export class ChallengeExpiredError extends Error {
  override readonly name = 'ChallengeExpiredError'
  constructor (options?: ErrorOptions) {
    super('This login challenge has expired. Start the login again and sign within the time limit.', options)
  }
}

/** The response was made for another origin, user or login attempt than the challenge's. */
export class ChallengeMismatchError extends Error {
  override readonly name = 'ChallengeMismatchError'
  constructor (readonly field: 'origin' | 'user' | 'attempt', options?: ErrorOptions) {
    super(`The signed login response does not match the challenge's ${field}. Log in again from the console's own address.`, options)
  }
}

/** The signature does not verify against the operator's enrolled certificate. */
export class SignatureInvalidError extends Error {
  override readonly name = 'SignatureInvalidError'
  constructor (options?: ErrorOptions) {
    super('The signature does not match the enrolled certificate. Use the USB key that was enrolled for this operator, or enrol this one.', options)
  }
}

function codeOf (cause: unknown): string {
  if (cause instanceof Error && /^CKR_/.test(cause.message)) return ` (${cause.message})`
  return ''
}

/** No key slot of the key file opens with the passphrase (or token, or recovery key) given. */
export class WrongPassphraseError extends Error {
  override readonly name = 'WrongPassphraseError'
  constructor (message = 'Wrong passphrase: no key slot of this store opens with it. Check CAIRN_PASSPHRASE or --passphrase-file.', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The key file is missing, unreadable, of an unknown version, or malformed. Nothing was changed. */
export class KeyFileError extends Error {
  override readonly name = 'KeyFileError'
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
  }
}

/** The operation needs the full key, but the store was opened with a write-only key. */
export class WriteOnlyKeyError extends Error {
  override readonly name = 'WriteOnlyKeyError'
  constructor (operation: string, options?: ErrorOptions) {
    super(`${operation} needs the full key; this is a write-only key, which can only back up. Open the store with a full key slot.`, options)
  }
}

/** No token key slot of the key file can be opened by the key pairs on the token given. */
export class TokenSlotNotFoundError extends Error {
  override readonly name = 'TokenSlotNotFoundError'
  constructor (readonly tokenLabel: string, options?: ErrorOptions) {
    super(`No key slot of this store opens with token "${tokenLabel}". Use the token the slot was made for ("cairn key list" shows it), or another slot.`, options)
  }
}

/** A typed recovery key has the wrong length, a character outside its alphabet, or a bad checksum. */
export class RecoveryKeyFormatError extends Error {
  override readonly name = 'RecoveryKeyFormatError'
  constructor (detail: string, options?: ErrorOptions) {
    super(`This is not a valid recovery key (${detail}). Check it against the printed sheet: 8 groups of 5 characters.`, options)
  }
}
