// `cairn mesh run`: the long-running mesh daemon of a node. It opens the store, starts the
// mesh node (bootstrap/), serves the control socket, says it is ready (the CLI prints one JSON
// "ready" line on stdout for tests and service managers), and stops cleanly on SIGINT/SIGTERM.
// `cairn serve` hosts the mesh itself instead (hosted-mesh.ts); this serves one store.
import { createMeshNode, type MeshNode } from '../../bootstrap/index.ts'
import { openRepositoryOn, type ReplicaFolder } from '../../chunkstore/index.ts'
import type { SpaceKeys } from '../../crypto/index.ts'
import { holdStore } from '../holder/index.ts'
import { callControl, serveControl } from './control.ts'
import { meshControl } from './control-ops.ts'
import { openStore } from './open-store.ts'
import { loadReplicationConfig } from './replication-config.ts'

export { REPLICATION_FILE, loadReplicationConfig } from './replication-config.ts'
export type { ReplicationConfig } from './replication-config.ts'

export interface DaemonInit {
  store: string
  /**
   * The keys of the site's own store: with them the node runs other commands' operations on
   * the store it holds (node/holder/); without them it tells those commands it cannot.
   */
  keys?: SpaceKeys
  mesh: string
  replicateEveryMs?: number
  dialEveryMs?: number
  /** Resolves when the daemon should stop. */
  untilStopped: () => Promise<void>
  /** Once the node listens and the control socket is served; `store` says what the store folder is (a new replica: `created`). */
  ready: (info: { peer: string, addrs: string[], store: string, storeKind: ReplicaFolder }) => void
  /** Each mesh event (bootstrap's log records). */
  log: (event: Record<string, unknown>) => void
}

export async function runMeshDaemon (init: DaemonInit): Promise<void> {
  const store = await openStore(init.store)
  const repo = init.keys !== undefined && store.kind === 'store' ? await openRepositoryOn(init.store, store.blocks, { keys: init.keys }) : undefined
  const holder = await holdStore({ dir: init.store, kind: 'mesh', repo })
  const replication = loadReplicationConfig(init.mesh)
  const node: MeshNode = await createMeshNode({
    store: store.blocks,
    log: init.log
  }, {
    dir: init.mesh,
    policies: replication.policies,
    bandwidth: replication.bandwidth,
    replicateEveryMs: init.replicateEveryMs,
    dialEveryMs: init.dialEveryMs
  })
  await node.start()
  // `cairn mesh stop` ends the daemon as a signal does (a background job started through npx
  // does not pass signals on to it), and is answered once the store is closed, so the next
  // command may open it.
  let stopRequested!: () => void
  const stopping = new Promise<void>(resolve => { stopRequested = resolve })
  let closed!: () => void
  const done = new Promise<void>(resolve => { closed = resolve })
  const control = await serveControl(init.mesh, meshControl(node, { stop: async () => { stopRequested(); await done; return { stopped: true } } }))
  init.ready({ peer: node.peerId, addrs: node.host.getMultiaddrs().map(String), store: init.store, storeKind: store.kind })
  try {
    await Promise.race([init.untilStopped(), stopping])
  } finally {
    try {
      await holder.close()
      await node.stop()
      await store.close()
    } finally {
      closed()
      // Closing waits for open control connections, the stop request's answer among them.
      await new Promise<void>(resolve => control.close(() => resolve()))
    }
  }
}

export { callControl }
