// The connection gater: a connection survives the noise handshake only if the remote
// PeerId is admissible (a current member, or the admission peer of a live invitation).
// Noise authenticates the PeerId, so a peer cannot claim a member's id without its key.
import { peerIdFromString } from '@libp2p/peer-id'
import type { ConnectionGater, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface GaterComponents {
  /** Asked on every dial and every secured connection; must be cheap. */
  isAdmissible: (peer: string) => boolean
  /** Called when a peer is turned away, for the log and the penalty count. */
  onDenied?: (peer: string, direction: 'inbound' | 'outbound') => void
}

export function createMeshGater (components: GaterComponents): ConnectionGater {
  const deny = (peer: PeerId, direction: 'inbound' | 'outbound'): boolean => {
    const ok = components.isAdmissible(peer.toString())
    if (!ok) components.onDenied?.(peer.toString(), direction)
    return !ok
  }
  return {
    denyDialPeer: (peer) => deny(peer, 'outbound'),
    denyDialMultiaddr: (ma: Multiaddr) => {
      const id = ma.getComponents().findLast(c => c.name === 'p2p')?.value
      if (id === undefined) return false
      try { return deny(peerIdFromString(id), 'outbound') } catch { return true }
    },
    denyInboundEncryptedConnection: (peer) => deny(peer, 'inbound'),
    denyOutboundEncryptedConnection: (peer) => deny(peer, 'outbound'),
    denyInboundUpgradedConnection: (peer) => deny(peer, 'inbound'),
    denyOutboundUpgradedConnection: (peer) => deny(peer, 'outbound'),
    denyInboundRelayReservation: () => true,
    denyOutboundRelayedConnection: () => true,
    denyInboundRelayedConnection: () => true,
    // Keeps non-members' addresses out of the peer store, so the DHT never hands them out.
    filterMultiaddrForPeer: (peer) => components.isAdmissible(peer.toString())
  }
}
