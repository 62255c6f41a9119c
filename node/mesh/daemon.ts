// `cairn mesh run`: the long-running mesh daemon of a node. It opens the store, runs the mesh
// node over it (start-mesh.ts: the node, its settings, the control socket), says it is ready
// (the CLI prints one JSON "ready" line on stdout for tests and service managers), and stops
// cleanly on SIGINT/SIGTERM or `cairn mesh stop`. `cairn serve` hosts the mesh itself instead
// (hosted-mesh.ts); this serves one store.
import type { MeshEvent } from '../../bootstrap/index.ts'
import { openRepositoryOn, type ReplicaFolder } from '../../chunkstore/index.ts'
import type { SpaceKeys } from '../../crypto/index.ts'
import { holdStore } from '../holder/index.ts'
import { openStore } from './open-store.ts'
import { startMesh, type RunningMesh } from './start-mesh.ts'

export interface MeshDaemonInit {
  store: string
  /**
   * The keys of the site's own store: with them the node runs other commands' operations on
   * the store it holds (node/holder/); without them it tells those commands it cannot.
   */
  keys?: SpaceKeys
  mesh: string
  replicateEveryMs?: number
  dialEveryMs?: number
  /** Addresses other sites dial to reach this node, for this run (NAT, port forwards): `--announce`. Default: the mesh folder's. */
  announce?: string[]
  /** Resolves when the daemon should stop. */
  untilStopped: () => Promise<void>
  /** Once the node listens and the control socket is served; `store` says what the store folder is (a new replica: `created`). */
  ready: (info: { peer: string, addrs: string[], store: string, storeKind: ReplicaFolder }) => void
  /** Each mesh event. */
  log: (event: MeshEvent) => void
}

export async function runMeshDaemon (init: MeshDaemonInit): Promise<void> {
  const store = await openStore(init.store)
  // With the keys, other commands pointed at this store run their operations here (node/holder/).
  const repo = init.keys !== undefined && store.kind === 'store' ? await openRepositoryOn(init.store, store.blocks, { keys: init.keys }) : undefined
  // With the keys, snapshots made before manifests existed get theirs now, so that the
  // replicas holding them can follow this site's retention (doc/mesh.md "Manifest pages").
  if (repo !== undefined && !repo.shared && !repo.writeOnly) await repo.writeMissingManifests()
  const holder = await holdStore({ dir: init.store, kind: 'mesh', repo })
  // `cairn mesh stop` ends the daemon as a signal does (a background job started through npx
  // does not pass signals on to it), and is answered once the store is closed, so the next
  // command may open it.
  let stopRequested!: () => void
  const stopping = new Promise<void>(resolve => { stopRequested = resolve })
  let closed!: () => void
  const done = new Promise<void>(resolve => { closed = resolve })
  let mesh: RunningMesh
  try {
    mesh = await startMesh({ store: store.blocks, log: init.log }, {
      meshDir: init.mesh,
      replicateEveryMs: init.replicateEveryMs,
      dialEveryMs: init.dialEveryMs,
      announce: init.announce,
      control: () => ({ stop: async () => { stopRequested(); await done; return { stopped: true } } })
    })
  } catch (err) {
    await holder.close()
    await store.close()
    throw err
  }
  const { node } = mesh
  init.ready({ peer: node.peerId, addrs: node.host.getMultiaddrs().map(String), store: init.store, storeKind: store.kind })
  try {
    await Promise.race([init.untilStopped(), stopping])
  } finally {
    try {
      await holder.close()
    } finally {
      await mesh.stop({ answerAfter: async () => { try { await store.close() } finally { closed() } } })
    }
  }
}
