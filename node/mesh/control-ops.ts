// The requests `cairn mesh status|invite|remove|replicate|scrub|…` send over the control
// socket, answered by a mesh node. Both daemons that host a mesh node (`cairn mesh run` and
// `cairn serve`) answer them; the node daemon overrides a few (replicate runs as a job).
import { CID } from 'multiformats/cid'
import type { MeshNode } from '../../bootstrap/index.ts'
import type { ControlHandler } from './control.ts'

export type ControlOp = (args: Record<string, unknown>) => Promise<unknown>

export class UnknownControlRequestError extends Error {
  override name = 'UnknownControlRequestError'
  constructor (op: string) { super(`the daemon does not know the control request "${op}"; are the daemon and this command the same version?`) }
}

/** `cairn mesh stop` sent to a mesh node that runs inside `cairn serve`. */
export class HostedStopRefusedError extends Error {
  override name = 'HostedStopRefusedError'
  constructor () { super('this mesh node runs inside cairn serve; stop the node daemon itself (SIGTERM, Ctrl-C or its service manager)') }
}

const cidList = (v: unknown): CID[] => (Array.isArray(v) ? v : []).map(c => CID.parse(String(c)))

export function meshControl (node: MeshNode, overrides: Record<string, ControlOp> = {}): ControlHandler {
  const ops: Record<string, ControlOp> = {
    status: async () => await node.status(),
    invite: async a => ({ invitation: await node.invite({ ttlMs: typeof a.ttlMs === 'number' ? a.ttlMs : undefined }) }),
    remove: async a => await node.remove(String(a.member)),
    replicate: async () => await node.replicateNow(),
    changed: async () => { node.noteLocalChange(); return {} },
    repair: async a => await node.repair(cidList(a.cids)),
    holders: async a => await node.findSnapshotHolders(CID.parse(String(a.root))),
    scrub: async () => await node.scrub(),
    stop: async () => { throw new HostedStopRefusedError() },
    ...overrides
  }
  return async (op, args) => {
    if (!Object.hasOwn(ops, op)) throw new UnknownControlRequestError(op)
    return await ops[op](args)
  }
}
