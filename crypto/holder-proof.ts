import { createHmac, timingSafeEqual } from 'node:crypto'
import type { SpaceKeys } from './keyring.ts'

/**
 * Proofs that a client of a store's holder (the process that has the store open) and the
 * holder itself know the store's keys, without either sending a key (doc/design.md, "One
 * store, many clients"). Each side proves with an HMAC over both sides' fresh nonces, so a
 * recorded exchange proves nothing on a later connection.
 *
 * Two access levels, each with its own proof key, derived from key material only that level
 * holds: `write` from the chunk-id key (full and write-only key sets both have it), `full`
 * from the record secret key (only a full key set has it).
 */
export type HolderAccess = 'write' | 'full'

const LABEL = 'cairn/holder/v1'

/** The proof keys a key set can make: `write` always, `full` with a full key set. */
export function holderProofKeys (keys: SpaceKeys): Partial<Record<HolderAccess, Uint8Array>> {
  const write = createHmac('sha256', keys.idKey).update(`${LABEL}:write`).digest()
  if (keys.recordSecretKey === undefined) return { write }
  return { write, full: createHmac('sha256', keys.recordSecretKey).update(`${LABEL}:full`).digest() }
}

/** Who proves: the client to the holder, or the holder back to the client. */
export type HolderRole = 'client' | 'holder'

/** HMAC-SHA256(key, label ‖ role ‖ access ‖ store id ‖ holder nonce ‖ client nonce). */
export function holderProof (key: Uint8Array, role: HolderRole, access: HolderAccess, storeId: string, holderNonce: Uint8Array, clientNonce: Uint8Array): Buffer {
  return createHmac('sha256', key)
    .update(`${LABEL}:${role}:${access}:${storeId}:`).update(holderNonce).update(clientNonce)
    .digest()
}

/** Does `proof` match (compared in constant time)? */
export function holderProofMatches (key: Uint8Array, proof: Uint8Array, role: HolderRole, access: HolderAccess, storeId: string, holderNonce: Uint8Array, clientNonce: Uint8Array): boolean {
  const want = holderProof(key, role, access, storeId, holderNonce, clientNonce)
  return proof.length === want.length && timingSafeEqual(want, proof)
}
