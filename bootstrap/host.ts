// The libp2p host of a mesh node: TCP, noise, yamux, identify, ping and a private Kademlia
// DHT under /cairn/kad/1.0.0 (so it can never join the public IPFS DHT). Addresses are kept
// as they are (passthrough mapper): sites reach each other over LANs, VPNs and loopback. A site
// behind NAT or a port forward announces the addresses it is reached at (libp2p's announce).
import { noise } from '@chainsafe/libp2p-noise'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper, type KadDHT } from '@libp2p/kad-dht'
import { ping, type Ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p, type Libp2p } from 'libp2p'
import type { ConnectionGater, PrivateKey } from '@libp2p/interface'
import type { Identify } from '@libp2p/identify'

export const KAD_PROTOCOL = '/cairn/kad/1.0.0'

export interface MeshHostInit {
  privateKey: PrivateKey
  /** Multiaddrs to listen on; none for a dial-only host (an invitation's admission peer). */
  listen: string[]
  /**
   * Multiaddrs peers should dial instead of the listening ones (a NAT's public address, a port
   * forward, a proxy): identify and invitations then tell only these. None: the listening ones.
   */
  announce?: string[]
  connectionGater: ConnectionGater
  /** Run the DHT (server mode: answers queries). Off for the short-lived admission host. */
  dht?: boolean
  /** What identify tells peers about this node, e.g. "cairn/0.1.0 (Linux 6.1 x64; host)". */
  userAgent?: string
}

// A type alias, not an interface: libp2p's ServiceMap needs an index signature.
export type MeshServices = {
  identify: Identify
  ping: Ping
  dht?: KadDHT
}

export type MeshHost = Libp2p<MeshServices>

export async function createMeshHost (init: MeshHostInit): Promise<MeshHost> {
  const services: Record<string, any> = { identify: identify(), ping: ping() }
  if (init.dht !== false) {
    services.dht = kadDHT({
      protocol: KAD_PROTOCOL,
      clientMode: false,
      peerInfoMapper: passthroughMapper,
      // A mesh has a handful of sites: answer queries even when the table is nearly empty.
      allowQueryWithZeroPeers: true
    })
  }
  return await createLibp2p({
    privateKey: init.privateKey,
    addresses: { listen: init.listen, ...(init.announce !== undefined && init.announce.length > 0 ? { announce: init.announce } : {}) },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: init.connectionGater,
    ...(init.userAgent !== undefined ? { nodeInfo: { userAgent: init.userAgent } } : {}),
    services
  }) as unknown as MeshHost
}
