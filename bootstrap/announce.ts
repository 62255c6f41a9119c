// Announce addresses (doc/mesh.md "Addresses"): what a site behind NAT or a port forward tells
// the others to dial instead of the addresses it listens on. They go into the signed member
// list as the member's `addrs`, into invitations and into identify (libp2p's announce). Each
// must name a host and a TCP port another site can reach: no wildcard host, no port 0, and no
// /p2p/ part (the node's own PeerId is added where one is needed).
import { multiaddr } from '@multiformats/multiaddr'
import { InvalidAnnounceAddressError } from './errors.ts'

const HOSTS = new Set(['ip4', 'ip6', 'dns', 'dns4', 'dns6'])

/** The addresses, checked and in their canonical text form; InvalidAnnounceAddressError names the first bad one. */
export function checkAnnounceAddrs (addrs: readonly string[]): string[] {
  return addrs.map(checkOne)
}

function checkOne (text: string): string {
  let components
  try {
    components = multiaddr(text).getComponents()
  } catch (err) {
    throw new InvalidAnnounceAddressError(text, 'is not a multiaddr', { cause: err })
  }
  const [host, tcp, ...rest] = components
  if (host === undefined || !HOSTS.has(host.name)) throw new InvalidAnnounceAddressError(text, 'does not start with /ip4, /ip6, /dns, /dns4 or /dns6')
  if (host.value === '0.0.0.0' || host.value === '::') throw new InvalidAnnounceAddressError(text, 'names the wildcard host, which nobody can dial')
  if (tcp?.name !== 'tcp') throw new InvalidAnnounceAddressError(text, 'has no /tcp/PORT after its host (the mesh runs over TCP)')
  if (Number(tcp.value) === 0) throw new InvalidAnnounceAddressError(text, 'has port 0, which nobody can dial')
  if (rest.length > 0) throw new InvalidAnnounceAddressError(text, `ends in /${rest.map(c => c.value === undefined ? c.name : `${c.name}/${c.value}`).join('/')}; leave it out (the node adds its own /p2p/ id)`)
  return components.map(c => c.value === undefined ? `/${c.name}` : `/${c.name}/${c.value}`).join('')
}
