// Invitations: one pasteable string that admits one new site. It carries the mesh id, the
// inviter's addresses and a one-time admission key (an Ed25519 seed). The joiner dials with
// that key as its PeerId, so the gater can admit it by PeerId alone and the noise handshake
// proves possession of the secret; it then asks to be added under its own PeerId.
// Format (doc/mesh.md, "Invitations"): `cairn-invite-v1.` + base64url(canonical JSON).
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { base64url } from 'multiformats/bases/base64'
import { randomBytes } from 'node:crypto'
import { InvalidInvitationError, InvitationExpiredError } from './errors.ts'
import type { Ed25519PrivateKey } from '@libp2p/interface'

export const INVITATION_PREFIX = 'cairn-invite-v1.'

export interface Invitation {
  mesh: string
  /** Random id naming this invitation in the inviter's records. */
  id: string
  /** 32-byte Ed25519 seed of the one-time admission key, base64url. */
  secret: string
  expires: string
  /** Multiaddrs of the inviter, each ending in /p2p/<peer id>. */
  addrs: string[]
}

/** What the inviter keeps: enough to admit the admission peer, never the secret itself. */
export interface InvitationRecord {
  id: string
  /** PeerId of the admission key. */
  peer: string
  expires: string
  used: boolean
}

export async function createInvitation (opts: { mesh: string, addrs: string[], ttlMs: number, now?: Date }): Promise<{ invitation: Invitation, record: InvitationRecord }> {
  const now = opts.now ?? new Date()
  const seed = randomBytes(32)
  const key = await generateKeyPairFromSeed('Ed25519', seed)
  const invitation: Invitation = {
    mesh: opts.mesh,
    id: base64url.baseEncode(randomBytes(12)),
    secret: base64url.baseEncode(seed),
    expires: new Date(now.getTime() + opts.ttlMs).toISOString(),
    addrs: opts.addrs
  }
  return { invitation, record: { id: invitation.id, peer: peerIdFromPrivateKey(key).toString(), expires: invitation.expires, used: false } }
}

export function encodeInvitation (inv: Invitation): string {
  const json = JSON.stringify({ mesh: inv.mesh, id: inv.id, secret: inv.secret, expires: inv.expires, addrs: inv.addrs })
  return INVITATION_PREFIX + base64url.baseEncode(new TextEncoder().encode(json))
}

export function decodeInvitation (text: string, now = new Date()): Invitation {
  const s = text.trim()
  if (!s.startsWith(INVITATION_PREFIX)) throw new InvalidInvitationError(`an invitation starts with ${INVITATION_PREFIX}`)
  let raw: any
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64url.baseDecode(s.slice(INVITATION_PREFIX.length))))
  } catch (err) {
    throw new InvalidInvitationError('the invitation is damaged (it does not decode); paste it whole, on one line', { cause: err })
  }
  if (raw === null || typeof raw !== 'object' || typeof raw.mesh !== 'string' || typeof raw.id !== 'string' ||
    typeof raw.secret !== 'string' || typeof raw.expires !== 'string' || !Array.isArray(raw.addrs) ||
    raw.addrs.some((a: unknown) => typeof a !== 'string')) {
    throw new InvalidInvitationError('the invitation lacks a field')
  }
  let secret: Uint8Array
  try {
    peerIdFromString(raw.mesh)
    secret = base64url.baseDecode(raw.secret)
  } catch (err) {
    throw new InvalidInvitationError('the invitation is damaged', { cause: err })
  }
  if (secret.length !== 32) throw new InvalidInvitationError('the invitation is damaged')
  const expires = Date.parse(raw.expires)
  if (Number.isNaN(expires)) throw new InvalidInvitationError('the expiry is not a date')
  if (expires <= now.getTime()) throw new InvitationExpiredError(raw.expires)
  return { mesh: raw.mesh, id: raw.id, secret: raw.secret, expires: raw.expires, addrs: raw.addrs }
}

export async function admissionKey (inv: Invitation): Promise<Ed25519PrivateKey> {
  return await generateKeyPairFromSeed('Ed25519', base64url.baseDecode(inv.secret))
}

/** The text a joiner signs with its own key: binds its PeerId, site and role to one invitation. */
export function joinSigningBytes (req: { mesh: string, invitation: string, peer: string, site: string, role: string }): Uint8Array {
  return new TextEncoder().encode(`cairn-join/v1\n${req.mesh}\n${req.invitation}\n${req.peer}\n${req.site}\n${req.role}`)
}
