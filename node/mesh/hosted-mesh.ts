// The mesh hosted by the node daemon (`cairn serve`): one mesh node (start-mesh.ts) over the
// daemon's stores — every user space's store, read for replication, and the keyless replica
// store `<data>/replica` where blocks from other sites land — with policies per user space,
// the members reported as the console's nodes, and what jobs ask of the mesh (MeshJobs). A
// store is opened by one process only, which is why the mesh runs inside the daemon.
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { peerIdFromString } from '@libp2p/peer-id'
import { decodeInvitation, hasMeshState, MeshStateMissingError, type LinkStatus, type MeshEvent, type MeshNode, type MeshStatus, type ReplicationPolicy } from '../../bootstrap/index.ts'
import { unionBlockStore, type BlockStore, type LimiterClock, type LocalBlockStore } from '../../chunkstore/index.ts'
import { abortable } from '../../crypto/index.ts'
import type { ControlOp } from './control-ops.ts'
import { openStore } from './open-store.ts'
import { saveReplicationConfig, type ReplicationConfig } from './replication-config.ts'
import { startMesh, type RunningMesh } from './start-mesh.ts'
import { InvalidReplicationConfigError } from './errors.ts'
import type { LinkOutcome, MeshJobs, Repositories } from '../jobs/index.ts'
import type { MeshMemberFacts, SpaceRecord } from '../inventory/index.ts'

export const REPLICA_DIR = 'replica'

/** What a node's mesh tells its host: bootstrap's events, and those of the node's own wiring. */
export type NodeMeshEvent =
  | MeshEvent
  | { event: 'space-store-unavailable', space: string, reason: string }
  | { event: 'member-report-failed', peer: string, reason: string }
  | { event: 'manifests-not-written', space: string, reason: string }

export interface HostedMeshComponents {
  repositories: Repositories
  /** Every user space of the node. */
  spaces: () => Promise<SpaceRecord[]>
  /** One event per notable thing (NodeMeshEvent). */
  log: (event: NodeMeshEvent) => void
  /** Told what is known of each other member, at start, when a member identifies itself, and every `memberEveryMs`. */
  onMember?: (member: MeshMemberFacts) => Promise<void>
  /** The certificates (PEM) trusted for administrators' releases at this replica: the node's admins' enrolled USB keys. */
  releaseAdmins?: () => Promise<string[]>
}

/** "cairn/0.1.0 (Linux 6.1.0 x64; host-a)" → its parts; anything else → nothing. */
export function parseUserAgent (agent: string | undefined): { version?: string, os?: string, hostname?: string } {
  const m = /^cairn\/(\S+) \((.*); ([^;()]*)\)$/.exec(agent ?? '')
  return m === null ? {} : { version: m[1], os: m[2], hostname: m[3] }
}

export interface HostedMeshInit {
  dataDir: string
  meshDir: string
  replicateEveryMs?: number
  dialEveryMs?: number
  /** How often members are reported to onMember. Default 10 s. */
  memberEveryMs?: number
  /** Addresses other sites dial to reach this node, for this run (NAT, port forwards): `--announce`. Default: the mesh folder's. */
  announce?: string[]
  /** Sent to peers by identify: "cairn/VERSION (OS; HOSTNAME)". */
  userAgent?: string
  /** Control-socket requests the daemon answers itself (e.g. replicate as a job). */
  control?: Record<string, ControlOp>
  /** The time bandwidth windows are read in (the daemon's clock). Default: the system clock. */
  clock?: LimiterClock
}

export interface HostedMesh extends MeshJobs {
  readonly node: MeshNode
  readonly meshDir: string
  /** The replica store, held open here; a DR copy of a lost site's space reads it (F13) and never closes it. */
  readonly replica: LocalBlockStore
  /** This node's site name in the mesh. */
  site: () => string
  status: () => Promise<MeshStatus>
  /** A one-time invitation for a new site (needs the mesh key here). */
  invite: (ttlMs: number) => Promise<{ invitation: string, expires: string }>
  /** The policies and bandwidth in force. */
  replication: () => ReplicationConfig
  /** Checks, saves and applies new policies and bandwidth at once. Unknown space names are refused. */
  configure: (cfg: ReplicationConfig) => Promise<ReplicationConfig>
  /** Re-reads which user-space stores exist (a space's store appears with its first backup). */
  refreshStores: () => Promise<void>
  /**
   * True while replication is under way here: a local change not yet handed to the links, or a
   * link run that is moving data (not one waiting for its bandwidth window).
   */
  busy: () => boolean
  /** Stops the control socket and the links (each stops at its next block), then closes the replica. */
  stop: () => Promise<void>
}

const outcome = (l: LinkStatus): LinkOutcome => ({
  site: l.site,
  blocksSent: l.lastResult?.blocksSent ?? 0,
  bytesSent: l.lastResult?.bytesSent ?? 0,
  wireBytes: l.lastResult?.wireBytes ?? 0,
  rootsAdded: l.lastResult?.rootsAdded ?? 0,
  error: l.lastError
})

export async function startHostedMesh (components: HostedMeshComponents, init: HostedMeshInit): Promise<HostedMesh> {
  if (!hasMeshState(init.meshDir)) throw new MeshStateMissingError(init.meshDir)
  const replica = await openStore(join(init.dataDir, REPLICA_DIR))
  /** Space name → its stores (one, or one per task for task-scoped dedup). */
  let spaceStores = new Map<string, BlockStore[]>()
  /** Local changes (finished backups) being handed to the links. */
  let changes = 0

  const allStores = (): BlockStore[] => [replica.blocks, ...[...spaceStores.values()].flat()]
  // A policy without spaces covers everything here, the replica included: that is the cascade.
  const storesOf = (policies: ReplicationPolicy[]): BlockStore[] => policies.some(p => p.spaces === undefined)
    ? allStores()
    : [...new Set(policies.flatMap(p => p.spaces ?? []).flatMap(name => spaceStores.get(name) ?? []))]

  /** Stores whose snapshots all have manifests (checked once per run: new backups write theirs). */
  const manifested = new Set<string>()
  async function refreshStores (): Promise<void> {
    const next = new Map<string, BlockStore[]>()
    for (const space of await components.spaces()) {
      // A replication space is a DR copy read from the replica itself, which is served already.
      if (space.type === 'replication') continue
      try {
        const repos = await components.repositories.all(space)
        // Snapshots made before manifests existed get theirs before they are sent (doc/mesh.md "Manifest pages").
        for (const r of repos) {
          if (manifested.has(r.dir)) continue
          manifested.add(r.dir)
          // A store that cannot (a write-only key, a damaged tree) still replicates: its old snapshots go without manifests.
          await r.writeMissingManifests().catch((err: Error) => { components.log({ event: 'manifests-not-written', space: space.name, reason: err.message }) })
        }
        next.set(space.name, repos.map(r => r.blocks))
      } catch (err) {
        components.log({ event: 'space-store-unavailable', space: space.name, reason: (err as Error).message })
      }
    }
    spaceStores = next
  }

  let running: RunningMesh
  try {
    await refreshStores()
    running = await startMesh({
      store: unionBlockStore({ stores: allStores, write: replica.blocks }),
      storeFor: policies => unionBlockStore({ stores: () => storesOf(policies) }),
      stores: allStores,
      replica: replica.blocks,
      log: components.log,
      ...(components.releaseAdmins !== undefined ? { releaseAdmins: components.releaseAdmins } : {})
    }, {
      meshDir: init.meshDir,
      replicateEveryMs: init.replicateEveryMs,
      dialEveryMs: init.dialEveryMs,
      userAgent: init.userAgent,
      announce: init.announce,
      control: node => ({
        changed: async () => { hosted.noteLocalChange(); return {} },
        scrub: async () => { await refreshStores(); return await node.scrub() },
        configure: async a => await hosted.configure({ policies: a.policies as ReplicationPolicy[], bandwidth: a.bandwidth as ReplicationConfig['bandwidth'] }),
        ...init.control
      }),
      clock: init.clock
    })
  } catch (err) {
    await replica.close()
    throw err
  }
  const { node } = running
  let config = running.replication

  const hosted: HostedMesh = {
    node,
    meshDir: init.meshDir,
    replica: replica.blocks,
    site: () => node.roster.member(node.peerId)?.site ?? '',
    status: async () => await node.status(),
    replication: () => config,
    refreshStores,

    async invite (ttlMs) {
      const invitation = await node.invite({ ttlMs })
      return { invitation, expires: decodeInvitation(invitation).expires }
    },

    async configure (next) {
      const known = new Set((await components.spaces()).map(s => s.name))
      for (const p of next.policies) {
        const unknown = (p.spaces ?? []).find(n => !known.has(n))
        if (unknown !== undefined) throw new InvalidReplicationConfigError(`policy "${p.name}": there is no user space named "${unknown}"`)
      }
      saveReplicationConfig(init.meshDir, next)
      config = next
      await refreshStores()
      node.configure(next)
      return config
    },

    noteLocalChange () {
      changes++
      void refreshStores().then(() => { node.noteLocalChange() }, () => {}).finally(() => { changes-- })
    },

    busy: () => changes > 0 || node.retentionGcRunning() || node.linkRuns().some(l => l.running && !l.waitingForBandwidth),

    async replicate ({ signal, onProgress }) {
      await refreshStores()
      const since = new Date().toISOString()
      const tally = setInterval(() => {
        let blocksSent = 0
        let bytesSent = 0
        for (const l of node.linkRuns()) {
          const p = l.progress ?? (l.lastRunAt !== undefined && l.lastRunAt >= since ? l.lastResult : undefined)
          blocksSent += p?.blocksSent ?? 0
          bytesSent += p?.bytesSent ?? 0
        }
        onProgress?.({ type: 'mesh:replicate', detail: { blocksSent, bytesSent } })
      }, 500)
      try {
        // A stopped job leaves the runs to finish (or to stop with the node): they are idempotent.
        return (await abortable(node.replicateNow(), signal, 'Replication')).map(outcome)
      } finally {
        clearInterval(tally)
      }
    },

    async repair (store, cids, options) {
      return await node.repair(cids.map(c => CID.parse(c)), { signal: options?.signal, into: store })
    },

    async stop () {
      clearInterval(memberTimer)
      node.host.removeEventListener('peer:identify', onIdentify)
      await running.stop()
      await replica.close()
    }
  }

  // Members become the console's nodes ("clients", manual 1.3): a site that joins the mesh
  // registers itself; its identify user agent gives OS, version and host name.
  async function reportMember (peer: string): Promise<void> {
    const m = node.roster.member(peer)
    if (m === undefined || peer === node.peerId || components.onMember === undefined) return
    const facts = await node.peerFacts(peer)
    const connected = node.host.getConnections(peerIdFromString(peer)).length > 0
    await components.onMember({ peer, site: m.site, role: m.role, connected, ip: facts.ip, ...parseUserAgent(facts.agent) })
  }
  async function reportMembers (): Promise<void> {
    for (const m of node.roster.members) await reportMember(m.peer).catch((err: Error) => { components.log({ event: 'member-report-failed', peer: m.peer, reason: err.message }) })
  }
  const onIdentify = (evt: CustomEvent<{ peerId: { toString: () => string } }>): void => { void reportMember(evt.detail.peerId.toString()).catch(() => {}) }
  node.host.addEventListener('peer:identify', onIdentify)
  const memberTimer = setInterval(() => { void reportMembers() }, init.memberEveryMs ?? 10_000)
  memberTimer.unref()
  void reportMembers()

  return hosted
}
