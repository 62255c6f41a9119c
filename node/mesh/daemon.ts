// `cairn mesh run`: the long-running mesh daemon of a node. It opens the store, starts the
// mesh node (bootstrap/), serves the control socket, prints one JSON "ready" line on stdout
// (tests and service managers wait for it), and stops cleanly on SIGINT/SIGTERM.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createMeshNode, validateSchedule, type BandwidthSchedule, type MeshNode, type ReplicationPolicy } from '../../bootstrap/index.ts'
import { CID } from 'multiformats/cid'
import { callControl, serveControl } from './control.ts'
import { openStore } from './open-store.ts'

export const REPLICATION_FILE = 'replication.json'

export interface ReplicationConfig {
  policies: ReplicationPolicy[]
  bandwidth?: BandwidthSchedule
}

export function loadReplicationConfig (meshDir: string): ReplicationConfig {
  const path = join(meshDir, REPLICATION_FILE)
  if (!existsSync(path)) return { policies: [] }
  const cfg = JSON.parse(readFileSync(path, 'utf8')) as ReplicationConfig
  if (cfg.bandwidth !== undefined) validateSchedule(cfg.bandwidth)
  return { policies: cfg.policies ?? [], bandwidth: cfg.bandwidth }
}

export interface DaemonInit {
  store: string
  mesh: string
  replicateEveryMs?: number
  dialEveryMs?: number
  /** Resolves when the daemon should stop. */
  untilStopped: () => Promise<void>
  stdout: (line: string) => void
  stderr: (line: string) => void
}

export async function runMeshDaemon (init: DaemonInit): Promise<void> {
  const store = await openStore(init.store)
  const replication = loadReplicationConfig(init.mesh)
  const node: MeshNode = await createMeshNode({
    store: store.blocks,
    log: (e) => { init.stderr(JSON.stringify({ time: new Date().toISOString(), ...e })) }
  }, {
    dir: init.mesh,
    policies: replication.policies,
    bandwidth: replication.bandwidth,
    replicateEveryMs: init.replicateEveryMs,
    dialEveryMs: init.dialEveryMs
  })
  await node.start()
  const control = await serveControl(init.mesh, async (op, args) => {
    switch (op) {
      case 'status': return await node.status()
      case 'invite': return { invitation: await node.invite({ ttlMs: typeof args.ttlMs === 'number' ? args.ttlMs : undefined }) }
      case 'remove': return await node.remove(String(args.member))
      case 'replicate': return await node.replicateNow()
      case 'changed': node.noteLocalChange(); return {}
      case 'repair': return await node.repair((args.cids as string[] ?? []).map(c => CID.parse(c)))
      case 'holders': return await node.findSnapshotHolders(CID.parse(String(args.root)))
      default: throw new Error(`unknown control request ${op}`)
    }
  })
  init.stdout(JSON.stringify({ ready: true, peer: node.peerId, addrs: node.host.getMultiaddrs().map(String) }))
  try {
    await init.untilStopped()
  } finally {
    await new Promise<void>(resolve => control.close(() => resolve()))
    await node.stop()
    await store.close()
  }
}

export { callControl }
