// Where an administrator's release (doc/mesh.md "Releases") meets a replica: the certificates a
// `cairn mesh run` node trusts for releases (a PEM file in its mesh folder; `cairn serve` trusts
// its admins' enrolled USB keys instead), and what each answer to ADMIN_RELEASE means to the
// administrator who sent it.
import { existsSync, readFileSync } from 'node:fs'
import { Status } from './chunk-wire.ts'
import { InvalidRetentionRecordError, SnapshotNotLockedError, UntrustedReleaseCertificateError } from './errors.ts'
import type { AdminReleaseDelivery } from './mesh-node.ts'

/** In a mesh folder: the certificates whose keys may sign administrators' releases at this node (`cairn mesh run`). */
export const RELEASE_ADMINS_FILE = 'release-admins.pem'

/** The PEM certificates in `file`, in order; none when there is no file. */
export function readPemFile (file: string): string[] {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
}

/** A replica's ACK status to ADMIN_RELEASE, as the administrator reads it. */
export const ADMIN_OUTCOME: Partial<Record<number, AdminReleaseDelivery['outcome']>> = {
  [Status.OK]: 'applied',
  [Status.NOT_FOUND]: 'not-locked',
  [Status.REFUSED]: 'untrusted',
  [Status.BAD_SIGNATURE]: 'invalid'
}

/** The outcome an error of this replica's own check means; undefined for any other error. */
export function adminOutcome (err: unknown): AdminReleaseDelivery['outcome'] | undefined {
  if (err instanceof SnapshotNotLockedError) return 'not-locked'
  if (err instanceof UntrustedReleaseCertificateError) return 'untrusted'
  if (err instanceof InvalidRetentionRecordError) return 'invalid'
  return undefined
}
