// control: the control socket of a running mesh daemon (`cairn mesh run`, or `cairn serve`
// with a mesh) — one JSON request, one JSON answer, over a Unix socket of mode 0600 in the mesh
// folder, so only the node's own user reaches it. It is light (no libp2p): `cairn mesh …`
// commands load it at start. It carries requests; what they do is the mesh's (node/mesh).
export { callControl, serveControl, socketPath, CONTROL_SOCKET } from './control.ts'
export type { ControlHandler } from './control.ts'
export * from './errors.ts'
