// The member list: which peers belong to the mesh, at which site and in which role, signed
// by the mesh key and versioned. This module is the one place that knows its byte format
// (doc/mesh.md, "Membership"); golden sample in testdata/membership-v1.json.
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { base64url } from 'multiformats/bases/base64'
import { InvalidMembershipError } from './errors.ts'
import type { PrivateKey } from '@libp2p/interface'

export const MEMBERSHIP_FORMAT = 'cairn-membership'
export const MEMBERSHIP_VERSION = 1
const SIGNING_CONTEXT = 'cairn-membership/v1\n'

export type Role = 'branch' | 'head' | 'dr'
export const ROLES: readonly Role[] = ['branch', 'head', 'dr']

export interface Member {
  /** libp2p PeerId (Ed25519) of the member node. */
  peer: string
  /** Human name of the site, unique in the mesh. */
  site: string
  role: Role
  /** Addresses the member said it listens on when it joined; a hint for dialling. */
  addrs: string[]
}

/** An unsigned member list. */
export interface MembershipBody {
  /** Mesh id: the PeerId form of the mesh public key, so the id alone verifies lists. */
  mesh: string
  /** Increases by one with every change; a node only ever adopts a higher version. */
  version: number
  issued: string
  members: Member[]
}

export interface SignedMembership extends MembershipBody {
  /** Ed25519 signature by the mesh key over `signingBytes(body)`, base64url. */
  sig: string
}

/** The exact bytes the mesh key signs: a context line, then canonical JSON (fixed key order, members sorted by peer). */
export function signingBytes (body: MembershipBody): Uint8Array {
  return new TextEncoder().encode(SIGNING_CONTEXT + JSON.stringify(canonicalBody(body)))
}

function canonicalBody (body: MembershipBody): object {
  return {
    format: MEMBERSHIP_FORMAT,
    v: MEMBERSHIP_VERSION,
    mesh: body.mesh,
    version: body.version,
    issued: body.issued,
    members: [...body.members]
      .sort((a, b) => a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0)
      .map(m => ({ peer: m.peer, site: m.site, role: m.role, addrs: [...m.addrs] }))
  }
}

export async function signMembership (meshKey: PrivateKey, body: MembershipBody): Promise<SignedMembership> {
  const mesh = peerIdFromPrivateKey(meshKey).toString()
  if (mesh !== body.mesh) throw new InvalidMembershipError(`the list names mesh ${body.mesh} but the key is mesh ${mesh}`)
  validateBody(body)
  const sig = await meshKey.sign(signingBytes(body))
  return { ...(canonicalBody(body) as any), sig: base64url.baseEncode(sig) }
}

/** The file/wire form: canonical JSON with the signature last. */
export function encodeMembership (doc: SignedMembership): string {
  return JSON.stringify({ ...canonicalBody(doc), sig: doc.sig })
}

/**
 * Parses and verifies a member list. Throws InvalidMembershipError unless it is well formed
 * and signed by the key of mesh `expectedMesh` (when given, else by the mesh it names).
 */
export async function decodeMembership (text: string | unknown, expectedMesh?: string): Promise<SignedMembership> {
  let raw: any
  try {
    raw = typeof text === 'string' ? JSON.parse(text) : text
  } catch (err) {
    throw new InvalidMembershipError('the member list is not JSON', { cause: err })
  }
  if (raw === null || typeof raw !== 'object') throw new InvalidMembershipError('the member list is not an object')
  if (raw.format !== MEMBERSHIP_FORMAT || raw.v !== MEMBERSHIP_VERSION) {
    throw new InvalidMembershipError(`unknown member list format ${String(raw.format)} v${String(raw.v)}`)
  }
  const body: MembershipBody = { mesh: raw.mesh, version: raw.version, issued: raw.issued, members: raw.members }
  validateBody(body)
  if (expectedMesh !== undefined && body.mesh !== expectedMesh) {
    throw new InvalidMembershipError(`the list is for mesh ${body.mesh}, not ${expectedMesh}`)
  }
  if (typeof raw.sig !== 'string') throw new InvalidMembershipError('the member list is not signed')
  let ok = false
  try {
    const meshId = peerIdFromString(body.mesh)
    if (meshId.type !== 'Ed25519' || meshId.publicKey === undefined) throw new InvalidMembershipError('the mesh id is not an Ed25519 key')
    const pub = publicKeyFromRaw(meshId.publicKey.raw)
    ok = await pub.verify(signingBytes(body), base64url.baseDecode(raw.sig))
  } catch (err) {
    throw new InvalidMembershipError('the signature or mesh id does not decode', { cause: err })
  }
  if (!ok) throw new InvalidMembershipError('the signature does not match the mesh key')
  return { ...(canonicalBody(body) as any), sig: raw.sig }
}

function validateBody (body: MembershipBody): void {
  if (typeof body.mesh !== 'string' || body.mesh === '') throw new InvalidMembershipError('the mesh id is missing')
  if (!Number.isSafeInteger(body.version) || body.version < 1) throw new InvalidMembershipError('the version is not a positive integer')
  if (typeof body.issued !== 'string' || Number.isNaN(Date.parse(body.issued))) throw new InvalidMembershipError('the issue time is not a date')
  if (!Array.isArray(body.members)) throw new InvalidMembershipError('the members are not a list')
  const peers = new Set<string>()
  const sites = new Set<string>()
  for (const m of body.members) {
    if (m === null || typeof m !== 'object') throw new InvalidMembershipError('a member entry is not an object')
    if (typeof m.peer !== 'string') throw new InvalidMembershipError('a member has no peer id')
    try { peerIdFromString(m.peer) } catch (err) { throw new InvalidMembershipError(`member peer id ${m.peer} does not parse`, { cause: err }) }
    if (typeof m.site !== 'string' || !/^[\w.-]{1,64}$/.test(m.site)) throw new InvalidMembershipError(`member site name ${String(m.site)} is not 1–64 letters, digits, . _ -`)
    if (!ROLES.includes(m.role)) throw new InvalidMembershipError(`member role ${String(m.role)} is not one of ${ROLES.join(', ')}`)
    if (!Array.isArray(m.addrs) || m.addrs.some(a => typeof a !== 'string')) throw new InvalidMembershipError('member addresses are not a list of strings')
    if (peers.has(m.peer)) throw new InvalidMembershipError(`peer ${m.peer} is listed twice`)
    if (sites.has(m.site)) throw new InvalidMembershipError(`site ${m.site} is listed twice`)
    peers.add(m.peer)
    sites.add(m.site)
  }
}

/** The next version of a list with one member added (or replaced, by peer id). */
export function withMember (body: MembershipBody, member: Member, now = new Date()): MembershipBody {
  return { ...body, version: body.version + 1, issued: now.toISOString(), members: [...body.members.filter(m => m.peer !== member.peer), member] }
}

/** The next version of a list without the member of that peer id or site name. */
export function withoutMember (body: MembershipBody, peerOrSite: string, now = new Date()): MembershipBody {
  return { ...body, version: body.version + 1, issued: now.toISOString(), members: body.members.filter(m => m.peer !== peerOrSite && m.site !== peerOrSite) }
}
