// Admission of a new site: the protocol /cairn/join/1.0.0 on the inviting member and the
// joiner's side of it. The joiner dials with the invitation's one-time key as its PeerId
// (the gater admits that id while the invitation is live), sends its real PeerId, site and
// role signed with its real key, and receives the new signed member list.
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { base64url } from 'multiformats/bases/base64'
import { exchangeJson, FrameReader, jsonFrame, parseJsonFrame, sendWithBackpressure } from './frame.ts'
import { InvalidInvitationError, InvitationUsedError, MeshStateExistsError, NotAMemberError, ProtocolError } from './errors.ts'
import { admissionKey, decodeInvitation, joinSigningBytes, type Invitation } from './invitation.ts'
import { createMeshGater } from './gater.ts'
import { createMeshHost } from './host.ts'
import { decodeMembership, ROLES, type Member, type Role, type SignedMembership } from './membership.ts'
import { memberAddrs, hasMeshState, loadOrCreatePeerKey, saveConfig, saveMembership, type MeshConfig } from './mesh-state.ts'
import { errorRecord } from '../crypto/index.ts'
import type { Connection, Stream } from '@libp2p/interface'

export const JOIN_PROTOCOL = '/cairn/join/1.0.0'

export interface JoinRequest {
  mesh: string
  invitation: string
  peer: string
  site: string
  role: Role
  addrs: string[]
  /** Signature by the joiner's own key over joinSigningBytes(...), base64url. */
  sig: string
}

export interface JoinHandlerComponents {
  /** Consumes the invitation whose admission peer is `admissionPeer`, or throws. Returns its id. */
  consumeInvitation: (admissionPeer: string) => Promise<string>
  /** Adds the member under the mesh key and returns the signed list that includes it. */
  admit: (member: Member) => Promise<SignedMembership>
  mesh: string
}

export async function handleJoinStream (stream: Stream, connection: Connection, c: JoinHandlerComponents): Promise<void> {
  const reader = new FrameReader(stream, { maxFrame: 64 * 1024, maxBuffered: 64 * 1024 })
  const answer = async (v: unknown): Promise<void> => {
    await sendWithBackpressure(stream, jsonFrame(v))
    await stream.close().catch(() => {})
  }
  try {
    const body = await reader.next()
    if (body === undefined) throw new ProtocolError('no join request')
    const req = parseJsonFrame(body) as JoinRequest
    if (req === null || typeof req !== 'object' || typeof req.peer !== 'string' || typeof req.site !== 'string' ||
      !ROLES.includes(req.role) || !Array.isArray(req.addrs) || typeof req.sig !== 'string' || typeof req.invitation !== 'string') {
      throw new ProtocolError('the join request lacks a field')
    }
    if (req.mesh !== c.mesh) throw new InvalidInvitationError(`the invitation is for mesh ${req.mesh}, this is ${c.mesh}`)
    const joiner = peerIdFromString(req.peer)
    if (joiner.publicKey === undefined || !await joiner.publicKey.verify(joinSigningBytes(req), base64url.baseDecode(req.sig))) {
      throw new ProtocolError('the join request is not signed by the key of the peer it names')
    }
    const id = await c.consumeInvitation(connection.remotePeer.toString())
    if (id !== req.invitation) throw new InvalidInvitationError('the request names another invitation than the key it was made with')
    const membership = await c.admit({ peer: req.peer, site: req.site, role: req.role, addrs: req.addrs.filter(a => typeof a === 'string').slice(0, 16) })
    await answer({ ok: true, membership })
  } catch (err) {
    await answer({ ok: false, error: errorRecord(err) }).catch(() => {})
  }
}

export interface JoinInit {
  dir: string
  invitation: string
  config: MeshConfig
  /** Addresses to record for this node in the member list (a hint for dialling). Default: memberAddrs(config). */
  addrs?: string[]
  signal?: AbortSignal
}

/** `cairn mesh join`: uses the invitation once and writes this node's mesh state. */
export async function joinMesh (init: JoinInit): Promise<SignedMembership> {
  if (hasMeshState(init.dir)) throw new MeshStateExistsError(init.dir)
  const inv: Invitation = decodeInvitation(init.invitation)
  // Checked before anything is written: a bad announce address leaves no half-made state.
  const addrs = init.addrs ?? memberAddrs(init.config)
  const peerKey = await loadOrCreatePeerKey(init.dir)
  const self = peerIdFromPrivateKey(peerKey).toString()
  const inviters = new Set(inv.addrs.map(a => multiaddr(a).getComponents().findLast(c => c.name === 'p2p')?.value).filter(x => x !== undefined))
  const host = await createMeshHost({
    privateKey: await admissionKey(inv), listen: [], dht: false,
    connectionGater: createMeshGater({ isAdmissible: p => inviters.has(p) })
  })
  try {
    const unsigned = { mesh: inv.mesh, invitation: inv.id, peer: self, site: init.config.site, role: init.config.role }
    const req: JoinRequest = { ...unsigned, addrs, sig: base64url.baseEncode(await peerKey.sign(joinSigningBytes(unsigned))) }
    let lastError: unknown
    for (const addr of inv.addrs) {
      let reply: any
      try {
        const stream = await host.dialProtocol(multiaddr(addr), JOIN_PROTOCOL, { signal: init.signal })
        reply = await exchangeJson(stream, req)
      } catch (err) {
        lastError = err
        continue
      }
      if (reply?.ok !== true) {
        const e = reply?.error ?? {}
        if (e.code === InvitationUsedError.code) throw new InvitationUsedError()
        throw new InvalidInvitationError(`the inviting member refused: ${String(e.name)}: ${String(e.message)}`)
      }
      const membership = await decodeMembership(reply.membership, inv.mesh)
      if (membership.members.find(m => m.peer === self) === undefined) throw new NotAMemberError(self)
      saveConfig(init.dir, { ...init.config, bootstrap: [...(init.config.bootstrap ?? []), ...inv.addrs] })
      saveMembership(init.dir, membership)
      return membership
    }
    // A used or expired invitation's key is refused at the handshake, which looks the same as an unreachable member.
    throw new InvalidInvitationError('the inviting member could not be reached or refused the connection (the invitation may be used or expired)', { cause: lastError })
  } finally {
    await host.stop()
  }
}

