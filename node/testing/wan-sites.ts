// Two mesh sites as real node processes (`cairn mesh run` through the bin) that reach each
// other only over WAN links (wan-link.ts): each site listens on a port of 127.0.0.1 and
// announces (`--announce`) the port of the link in front of it, so every connection between
// them — the join, the dials either way, replication — crosses a link. Site A holds the mesh
// key and replicates its store to site B (`--copies 2`). For the WAN test and `npm run bench -- --wan`.
import { freePort } from '../../bootstrap/testing/index.ts'
import { join } from 'node:path'
import { cliOk, startNode, until, type NodeProcess } from './processes.ts'
import { startWanLink, type WanLink } from './wan-link.ts'

export interface WanSitesInit {
  /** Scratch folder for both sites' mesh state (and B's store). */
  base: string
  /** Site A's store folder, with what it should replicate. */
  sourceStore: string
  rttMs: number
  /** Each link's rate per direction; absent: no cap. */
  bitsPerSecond?: number
}

export interface WanSite {
  node: NodeProcess
  mesh: string
  store: string
  /** The link in front of this site, whose address it announces. */
  link: WanLink
}

export interface WanSites {
  a: WanSite
  b: WanSite
  /** Stops both nodes (B first), then both links; again, nothing. */
  stop: () => Promise<void>
}

export async function startWanSites (init: WanSitesInit): Promise<WanSites> {
  const links: WanLink[] = []
  const nodes: NodeProcess[] = []
  // Idempotent: what it stopped is forgotten.
  const stop = async (): Promise<void> => {
    for (const n of nodes.splice(0).reverse()) await n.stop()
    for (const l of links.splice(0)) await l.close()
  }
  try {
    const site = async (name: string): Promise<{ listen: string, link: WanLink, mesh: string }> => {
      const port = await freePort()
      const link = await startWanLink({ target: { host: '127.0.0.1', port }, rttMs: init.rttMs, bitsPerSecond: init.bitsPerSecond })
      links.push(link)
      return { listen: `/ip4/127.0.0.1/tcp/${port}`, link, mesh: join(init.base, name, 'mesh') }
    }
    const a = await site('wan-a')
    await cliOk(['init', '--mesh-dir', a.mesh, '--site', 'wan-a', '--role', 'head', '--listen', a.listen, '--announce', a.link.multiaddr])
    await cliOk(['policy', '--mesh-dir', a.mesh, '--copies', '2'])
    const A = await startNode({ meshDir: a.mesh, store: init.sourceStore })
    nodes.push(A)
    const b = await site('wan-b')
    const bStore = join(init.base, 'wan-b', 'store')
    await cliOk(['join', (await A.control('invite', { ttlMs: 600_000 })).invitation, '--mesh-dir', b.mesh, '--site', 'wan-b', '--role', 'dr', '--listen', b.listen, '--announce', b.link.multiaddr])
    const B = await startNode({ meshDir: b.mesh, store: bStore })
    nodes.push(B)
    await until('the sites see each other across the links', async () => (await A.control('status')).members.every((m: { connected: boolean }) => m.connected), 600)
    return {
      a: { node: A, mesh: a.mesh, store: init.sourceStore, link: a.link },
      b: { node: B, mesh: b.mesh, store: bStore, link: b.link },
      stop
    }
  } catch (err) {
    await stop()
    throw err
  }
}
