// How the clients screen and a client's details name a node's agent types and its place in the mesh.
import { api, type NodeRecord } from '../../api.ts'

type MeshPlace = NonNullable<NodeRecord['mesh']>

export const agentNames = (n: NodeRecord, t: (key: string) => string): string =>
  n.agentTypes.map(a => a === 'disk-image' ? t('task.disk') : t('task.fs')).join(', ')

/** This node's own site in its mesh, if it runs one (the local node's record carries none). */
export async function selfPlace (): Promise<MeshPlace | undefined> {
  const m = await api.mesh()
  return m.configured ? { peer: m.self.peer, site: m.self.site, role: m.self.role } : undefined
}

/** The mesh site a node is, from its record (a member that registered itself) or, for this node, from the mesh. */
export const meshPlace = (n: NodeRecord, self: MeshPlace | undefined): MeshPlace | undefined => n.mesh ?? (n.local ? self : undefined)

/** "dr-1 · DR site", or '' for a node outside the mesh. */
export const placeName = (p: MeshPlace | undefined, t: (key: string) => string): string =>
  p === undefined ? '' : `${p.site} · ${t(`meshRole.${p.role}`)}`
