// The one way a Cairn node runs a mesh node, whichever process hosts it: `cairn serve` over its
// user spaces' stores and its replica (hosted-mesh.ts), `cairn mesh run` over one store
// (daemon.ts). It makes bootstrap's mesh node over the stores it is given, with the replication
// settings of the mesh folder, starts it, and answers the control socket (control-ops.ts, and
// the host's own requests). The stores stay the host's: it opens them before and closes them after.
import { createMeshNode, type MeshEvent, type MeshNode, type MeshNodeComponents } from '../../bootstrap/index.ts'
import type { LimiterClock } from '../../chunkstore/index.ts'
import { serveControl } from '../control/index.ts'
import { meshControl, type ControlOp } from './control-ops.ts'
import { loadReplicationConfig, type ReplicationConfig } from './replication-config.ts'

export interface RunningMeshComponents extends Pick<MeshNodeComponents, 'store' | 'storeFor' | 'stores' | 'replica' | 'releaseAdmins'> {
  log: (event: MeshEvent) => void
}

export interface RunningMeshInit {
  meshDir: string
  replicateEveryMs?: number
  dialEveryMs?: number
  /** Addresses other sites dial to reach this node, for this run (NAT, port forwards): `--announce`. Default: the mesh folder's. */
  announce?: string[]
  /** Sent to peers by identify: "cairn/VERSION (OS; HOSTNAME)". */
  userAgent?: string
  /** Control requests the host answers itself, or answers otherwise than control-ops.ts does. */
  control?: (node: MeshNode) => Record<string, ControlOp>
  /** The time bandwidth windows are read in (the daemon's clock). Default: the system clock. */
  clock?: LimiterClock
}

/**
 * A running mesh node of this Cairn node.
 *
 * Contract: `stop` is called once. By default it closes the control socket (waiting for the
 * requests under way), then stops the node (its links stop at their next block). With
 * `answerAfter`, the node stops first, then `answerAfter` runs (whether the node stopped cleanly
 * or not), and the socket stays open until it has: `cairn mesh stop` is answered once its host
 * has closed the store, so the next command can open it.
 */
export interface RunningMesh {
  readonly node: MeshNode
  /** The replication settings read from the mesh folder at start. */
  readonly replication: ReplicationConfig
  stop: (options?: { answerAfter?: () => Promise<void> }) => Promise<void>
}

export async function startMesh (components: RunningMeshComponents, init: RunningMeshInit): Promise<RunningMesh> {
  const replication = loadReplicationConfig(init.meshDir)
  const node = await createMeshNode(components, {
    dir: init.meshDir,
    policies: replication.policies,
    bandwidth: replication.bandwidth,
    receive: replication.receive,
    replicateEveryMs: init.replicateEveryMs,
    dialEveryMs: init.dialEveryMs,
    userAgent: init.userAgent,
    clock: init.clock,
    announceAddrs: init.announce
  })
  await node.start()
  let control: Awaited<ReturnType<typeof serveControl>>
  try {
    control = await serveControl(init.meshDir, meshControl(node, init.control?.(node)))
  } catch (err) {
    await node.stop()
    throw err
  }
  const closeControl = async (): Promise<void> => { await new Promise<void>(resolve => control.close(() => resolve())) }
  return {
    node,
    replication,
    async stop (options = {}) {
      if (options.answerAfter === undefined) {
        await closeControl()
        await node.stop()
        return
      }
      try {
        await node.stop()
      } finally {
        try {
          await options.answerAfter()
        } finally {
          // Closing waits for open control connections, a stop request's answer among them.
          await closeControl()
        }
      }
    }
  }
}
