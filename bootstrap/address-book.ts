// Where the members are (doc/mesh.md "Addresses"): the addresses the member list names, those
// learnt from identify (kept across restarts in <mesh dir>/addresses.json, so a member whose
// port changed is still reached by the members it dials itself), and dialling every member not
// connected, bootstrap addresses first.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { writeFileAtomic } from '../chunkstore/index.ts'
import type { MeshHost } from './host.ts'
import type { Roster } from './roster.ts'

export interface AddressBook {
  /** Teaches the host the listed members' addresses and those saved at the last run. */
  load: () => Promise<void>
  /** Saves what the host knows of each member's addresses (when it changed). */
  save: () => Promise<void>
  /** Dials the bootstrap addresses and every member not connected (5 s each; failures pass). */
  dialMembers: () => Promise<void>
}

export function createAddressBook (components: { host: MeshHost, roster: Roster }, init: { dir: string, self: string, bootstrap: string[], stopped: () => boolean }): AddressBook {
  const { host, roster } = components
  const file = join(init.dir, 'addresses.json')
  let saved = ''
  return {
    async load () {
      for (const m of roster.members) {
        if (m.peer !== init.self && m.addrs.length > 0) await host.peerStore.merge(peerIdFromString(m.peer), { multiaddrs: m.addrs.map(a => multiaddr(a)) }).catch(() => {})
      }
      if (!existsSync(file)) return
      let book: Record<string, string[]> = {}
      try { book = JSON.parse(readFileSync(file, 'utf8')) } catch { return }
      for (const [peer, addrs] of Object.entries(book)) {
        if (!roster.isMember(peer) || !Array.isArray(addrs)) continue
        try { await host.peerStore.merge(peerIdFromString(peer), { multiaddrs: addrs.map(a => multiaddr(a)) }) } catch {}
      }
    },

    async save () {
      const book: Record<string, string[]> = {}
      for (const m of roster.members) {
        if (m.peer === init.self) continue
        try {
          const p = await host.peerStore.get(peerIdFromString(m.peer))
          const addrs = p.addresses.map(a => a.multiaddr.toString())
          if (addrs.length > 0) book[m.peer] = addrs
        } catch {}
      }
      const text = JSON.stringify(book)
      if (text !== saved) { writeFileAtomic(file, text + '\n', 0o644); saved = text }
    },

    async dialMembers () {
      for (const addr of init.bootstrap) {
        const ma = multiaddr(addr)
        const id = ma.getComponents().findLast(c => c.name === 'p2p')?.value
        if (id === undefined || !roster.isMember(id) || host.getConnections(peerIdFromString(id)).length > 0) continue
        try { await host.dial(ma, { signal: AbortSignal.timeout(5000) }) } catch {}
      }
      for (const m of roster.members) {
        if (m.peer === init.self || init.stopped()) continue
        if (host.getConnections(peerIdFromString(m.peer)).length > 0) continue
        try {
          await host.dial(peerIdFromString(m.peer), { signal: AbortSignal.timeout(5000) })
        } catch {}
      }
    }
  }
}
