// mesh: the mesh a node runs over its stores — `cairn mesh run` over one store (daemon.ts), or
// hosted by `cairn serve` over every user space's store and the replica (hosted-mesh.ts) — with
// its replication settings and the requests its control socket answers. It wires bootstrap's
// mesh node to the node's stores and jobs; the mesh protocols themselves are bootstrap's. It
// loads libp2p: the CLI and the daemon import it only when they run a mesh.
export { startHostedMesh, parseUserAgent, REPLICA_DIR } from './hosted-mesh.ts'
export type { HostedMesh, HostedMeshComponents, HostedMeshInit, NodeMeshEvent } from './hosted-mesh.ts'
export { runMeshDaemon } from './daemon.ts'
export type { MeshDaemonInit } from './daemon.ts'
export { meshControl } from './control-ops.ts'
export type { ControlOp } from './control-ops.ts'
export { openStore } from './open-store.ts'
export type { OpenedStore } from './open-store.ts'
export { loadReplicationConfig, saveReplicationConfig, validateReplicationConfig, REPLICATION_FILE, MAX_COPIES } from './replication-config.ts'
export type { ReplicationConfig } from './replication-config.ts'
export * from './errors.ts'
