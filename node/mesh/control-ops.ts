// The requests `cairn mesh status|invite|remove|replicate|scrub|gc|…` send over the control
// socket, answered by a mesh node. Both daemons that host a mesh node (`cairn mesh run` and
// `cairn serve`) answer them; the node daemon overrides a few (replicate runs as a job).
import { CID } from 'multiformats/cid'
import type { MeshNode } from '../../bootstrap/index.ts'
import { UnknownControlRequestError, type ControlHandler } from '../control/index.ts'
import { HostedStopRefusedError } from './errors.ts'

export type ControlOp = (args: Record<string, unknown>) => Promise<unknown>

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
    gc: async () => await node.retentionGc(),
    locks: async () => await node.locks(),
    // An administrator's release, signed on the token by `cairn mesh release`: applied here and handed to every member.
    'admin-release': async a => await node.adminRelease(Buffer.from(String(a.release), 'base64')),
    stop: async () => { throw new HostedStopRefusedError() },
    ...overrides
  }
  return async (op, args) => {
    if (!Object.hasOwn(ops, op)) throw new UnknownControlRequestError(op)
    return await ops[op](args)
  }
}
