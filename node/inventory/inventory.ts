import os from 'node:os'
import type { StateStore } from '../state/index.ts'
import type { Clock } from '../clock/index.ts'
import { said, type LogBook } from '../logs/index.ts'
import type { User } from '../auth/index.ts'
import { InUseError, NameTakenError, NotYoursError } from './errors.ts'
import { createReach, type NodeRoots, type Reach } from './reach.ts'

export const AGENT_TYPES = ['filesystem', 'disk-image'] as const
export type AgentType = typeof AGENT_TYPES[number]
export const CIPHERS = ['xsalsa20-poly1305', 'aes-256-gcm', 'sm4'] as const

/** A node ("client", manual 2.7): a machine whose data Cairn protects. */
export interface NodeRecord {
  id: string
  name: string
  hostname: string
  os: string
  version: string
  ip: string
  agentTypes: AgentType[]
  agentConfig: Record<string, unknown>
  /** The operator it is assigned to. */
  ownerId?: string
  createdAt: string
  lastSeenAt: string
  /** The node this daemon runs on: its jobs run here. */
  local: boolean
  /** For a node that registered itself by joining the mesh: its PeerId, site name and role. */
  mesh?: { peer: string, site: string, role: string }
  /** The folders operators may back up from and restore into (admins set them); none: nothing. */
  roots?: NodeRoots
}

/** A user space (manual 2.8): where one operator's backups (or replicas) are stored. */
export interface SpaceRecord {
  id: string
  name: string
  type: 'backup' | 'replication'
  nodeId: string
  ownerId: string
  capacityBytes: number
  cipher: typeof CIPHERS[number]
  dedupScope: 'global' | 'task'
  usedBytes: number
  createdAt: string
  /**
   * A replication space adopted at a DR site (F13): the id of the store whose escrowed keys it
   * holds (config.json `id`), the site it came from and that site's tasks, when the escrow named them.
   */
  origin?: { store: string, site?: string, tasks: Array<{ id: string, name: string }> }
}

/** This machine's OS as nodes show it, e.g. "Linux 6.1.0-18-amd64 x64". */
export function osName (): string { return `${os.type()} ${os.release()} ${os.arch()}` }

export const ONLINE_WINDOW_MS = 3 * 60_000

export interface Actor { user: User, source: string }

const sees = (u: User, ownerId: string | undefined): boolean => u.role !== 'operator' || ownerId === u.id

/** A member site of the mesh, as the hosted mesh reports it to become a node ("client"). */
export interface MeshMemberFacts {
  peer: string
  site: string
  role: string
  connected: boolean
  /** From the member's identify user agent, when it is a Cairn node's. */
  hostname?: string
  os?: string
  version?: string
  ip?: string
}

/**
 * Nodes ("clients", F21) and user spaces (F22), and who owns what: an operator sees and changes
 * only what is theirs (NotYoursError for the rest, as for what does not exist).
 *
 * Contract:
 * - Names of nodes, and of spaces, are unique whatever their case (NameTakenError); every change
 *   is audited and logged; changes run one at a time (the state store's `exclusive`).
 * - A node with spaces or tasks, this daemon's own node, and a space a task uses are not
 *   removed (InUseError); removing a space removes its record only, never stored data.
 * - `reach` says which folders sources and restore targets may be on each node (reach.ts).
 */
export interface Inventory {
  readonly reach: Reach
  /** This daemon's node always; another while it was seen in the last ONLINE_WINDOW_MS. */
  online: (n: NodeRecord) => boolean
  /** Registers (or refreshes) the node the daemon runs on. */
  registerLocal: () => Promise<NodeRecord>
  /**
   * A mesh member reported by the hosted mesh (manual 1.3: a client registers with the console
   * host). New members become nodes with no agent authorised and no operator, for an admin to
   * authorise (2.7.1.1); known ones get their facts refreshed and, while connected, last seen.
   */
  recordMeshMember: (m: MeshMemberFacts) => Promise<NodeRecord>
  localNode: () => Promise<NodeRecord | undefined>
  listNodes: (u: User) => Promise<NodeRecord[]>
  node: (u: User, id: string) => Promise<NodeRecord>
  registerNode: (a: Actor, input: { name: string, hostname: string, os: string, version: string, ip: string, agentTypes?: AgentType[], ownerId?: string }) => Promise<NodeRecord>
  updateNode: (a: Actor, id: string, change: { name?: string, agentTypes?: AgentType[], agentConfig?: Record<string, unknown>, ownerId?: string | null, roots?: NodeRoots }) => Promise<NodeRecord>
  heartbeat: (id: string, facts: { ip?: string, version?: string, os?: string }) => Promise<NodeRecord>
  removeNode: (a: Actor, id: string) => Promise<void>
  listSpaces: (u: User) => Promise<SpaceRecord[]>
  space: (u: User, id: string) => Promise<SpaceRecord>
  createSpace: (a: Actor, input: Omit<SpaceRecord, 'id' | 'createdAt' | 'usedBytes'>) => Promise<SpaceRecord>
  updateSpace: (a: Actor, id: string, change: { name?: string, capacityBytes?: number }) => Promise<SpaceRecord>
  /** Records the bytes a space's stores take on disk (after a job changed them). */
  setSpaceUsage: (id: string, usedBytes: number) => Promise<void>
  removeSpace: (a: Actor, id: string) => Promise<SpaceRecord>
}

export interface InventoryComponents {
  state: StateStore
  clock: Clock
  logs: LogBook
}

export interface InventoryInit {
  /** This daemon's version, recorded on its own node. */
  version: string
  /** Folders no one may back up, browse or restore into: the daemon's own data. */
  protectedPaths?: string[]
}

export function createInventory (components: InventoryComponents, init: InventoryInit): Inventory {
  const { state, clock, logs } = components
  const reach = createReach({ protectedPaths: init.protectedPaths ?? [] })
  const now = (): string => clock.now().toISOString()
  const audit = async (a: Actor, action: string, target: string, detail?: unknown): Promise<void> => {
    await logs.audit({ user: a.user.name, source: a.source, action, target, detail })
  }

  const inv: Inventory = {
    reach,

    online (n) { return n.local || clock.now().getTime() - Date.parse(n.lastSeenAt) < ONLINE_WINDOW_MS },

    async registerLocal () {
      return await state.exclusive(async () => {
        const existing = (await state.list<NodeRecord>('nodes')).find(n => n.local)
        const facts = { hostname: os.hostname(), os: osName(), version: init.version, ip: localIp(), lastSeenAt: now() }
        const node: NodeRecord = existing !== undefined
          ? { ...existing, ...facts }
          : { id: state.nextId('n'), name: os.hostname(), agentTypes: ['filesystem'], agentConfig: {}, createdAt: now(), local: true, ...facts }
        await state.put('nodes', node.id, node)
        return node
      })
    },

    async recordMeshMember (m) {
      return await state.exclusive(async () => {
        const all = await state.list<NodeRecord>('nodes')
        const existing = all.find(n => n.mesh?.peer === m.peer)
        const facts = {
          hostname: m.hostname ?? existing?.hostname ?? m.site,
          os: m.os ?? existing?.os ?? '',
          version: m.version ?? existing?.version ?? '',
          ip: m.ip ?? existing?.ip ?? '',
          mesh: { peer: m.peer, site: m.site, role: m.role }
        }
        if (existing !== undefined) {
          const seen = m.connected ? now() : existing.lastSeenAt
          const next: NodeRecord = { ...existing, ...facts, lastSeenAt: seen }
          const changed = JSON.stringify({ ...existing, lastSeenAt: '' }) !== JSON.stringify({ ...next, lastSeenAt: '' })
          // Last seen is kept to the minute's precision that "online" needs; facts at once.
          if (changed || Date.parse(seen) - Date.parse(existing.lastSeenAt) >= 30_000) await state.put('nodes', existing.id, next)
          return next
        }
        const taken = new Set(all.map(n => n.name.toLowerCase()))
        let name = m.site
        for (let i = 2; taken.has(name.toLowerCase()); i++) name = `${m.site}-${i}`
        const node: NodeRecord = { id: state.nextId('n'), name, agentTypes: [], agentConfig: {}, createdAt: now(), lastSeenAt: now(), local: false, ...facts }
        await state.put('nodes', node.id, node)
        await logs.audit({ user: 'system', source: 'mesh', action: 'node.register', target: node.id, detail: { site: m.site, role: m.role, peer: m.peer } })
        await logs.write({ type: 'node', level: 'info', user: 'system', source: 'mesh', message: `Node [${node.name}] (${node.ip || 'address unknown'}) joined through the mesh as a ${m.role} site; authorise its agents to use it`, text: said('NODE_JOINED_MESH', { name: node.name, ip: node.ip || '—', siteRole: m.role }) })
        return node
      })
    },

    async localNode () { return (await state.list<NodeRecord>('nodes')).find(n => n.local) },

    async listNodes (u) { return (await state.list<NodeRecord>('nodes')).filter(n => sees(u, n.ownerId)) },

    async node (u, id) {
      const n = await state.get<NodeRecord>('nodes', id)
      if (n === undefined || !sees(u, n.ownerId)) throw new NotYoursError('node', id)
      return n
    },

    async registerNode (a, input) {
      return await state.exclusive(async () => {
        if ((await state.list<NodeRecord>('nodes')).some(n => n.name.toLowerCase() === input.name.toLowerCase())) throw new NameTakenError('node', input.name)
        if (input.ownerId !== undefined) await state.require<User>('users', input.ownerId)
        const node: NodeRecord = { id: state.nextId('n'), agentTypes: [], agentConfig: {}, createdAt: now(), lastSeenAt: now(), local: false, ...input }
        await state.put('nodes', node.id, node)
        await audit(a, 'node.register', node.id, input)
        await logs.write({ type: 'node', level: 'info', user: a.user.name, source: a.source, ownerId: node.ownerId, message: `Node [${node.name}] (${node.ip}) registered`, text: said('NODE_REGISTERED', { name: node.name, ip: node.ip }) })
        return node
      })
    },

    async updateNode (a, id, change) {
      const roots = change.roots === undefined ? undefined : reach.checkRoots(change.roots)
      return await state.exclusive(async () => {
        const n = await inv.node(a.user, id)
        if (change.name !== undefined && change.name.toLowerCase() !== n.name.toLowerCase() &&
          (await state.list<NodeRecord>('nodes')).some(x => x.name.toLowerCase() === change.name!.toLowerCase())) throw new NameTakenError('node', change.name)
        if (change.ownerId != null) await state.require<User>('users', change.ownerId)
        const next: NodeRecord = {
          ...n,
          ...(change.name !== undefined ? { name: change.name } : {}),
          ...(change.agentTypes !== undefined ? { agentTypes: change.agentTypes } : {}),
          ...(change.agentConfig !== undefined ? { agentConfig: change.agentConfig } : {}),
          ...(change.ownerId !== undefined ? { ownerId: change.ownerId ?? undefined } : {}),
          ...(roots !== undefined ? { roots } : {})
        }
        await state.put('nodes', id, next)
        await audit(a, 'node.update', id, roots !== undefined ? { ...change, roots } : change)
        await logs.write({ type: 'node', level: 'info', user: a.user.name, source: a.source, ownerId: next.ownerId, message: `Node [${next.name}] changed: ${Object.keys(change).join(', ')}`, text: said('NODE_CHANGED', { name: next.name, fields: Object.keys(change).join(', ') }) })
        return next
      })
    },

    async heartbeat (id, facts) {
      return await state.exclusive(async () => {
        const n = await state.require<NodeRecord>('nodes', id)
        const next = { ...n, ...facts, lastSeenAt: now() }
        await state.put('nodes', id, next)
        return next
      })
    },

    async removeNode (a, id) {
      await state.exclusive(async () => {
        const n = await inv.node(a.user, id)
        const users = (await state.list<SpaceRecord>('spaces')).filter(s => s.nodeId === id).map(s => `space ${s.name}`)
        const tasks = (await state.list<{ nodeId: string, name: string }>('tasks')).filter(t => t.nodeId === id).map(t => `task ${t.name}`)
        if (n.local) throw new InUseError('node', 'this daemon (it is the local node)')
        if (users.length + tasks.length > 0) throw new InUseError('node', [...users, ...tasks].join(', '))
        await state.del('nodes', id)
        await audit(a, 'node.remove', id)
      })
    },

    async listSpaces (u) { return (await state.list<SpaceRecord>('spaces')).filter(s => sees(u, s.ownerId)) },

    async space (u, id) {
      const s = await state.get<SpaceRecord>('spaces', id)
      if (s === undefined || !sees(u, s.ownerId)) throw new NotYoursError('user space', id)
      return s
    },

    async createSpace (a, input) {
      return await state.exclusive(async () => {
        if ((await state.list<SpaceRecord>('spaces')).some(s => s.name.toLowerCase() === input.name.toLowerCase())) throw new NameTakenError('user space', input.name)
        await state.require<NodeRecord>('nodes', input.nodeId)
        await state.require<User>('users', input.ownerId)
        const space: SpaceRecord = { id: state.nextId('s'), createdAt: now(), usedBytes: 0, ...input }
        await state.put('spaces', space.id, space)
        await audit(a, 'space.create', space.id, input)
        await logs.write({ type: 'storage', level: 'info', user: a.user.name, source: a.source, ownerId: space.ownerId, message: `User space [${space.name}] created`, text: said('SPACE_CREATED', { name: space.name }) })
        return space
      })
    },

    async updateSpace (a, id, change) {
      return await state.exclusive(async () => {
        const s = await inv.space(a.user, id)
        if (change.name !== undefined && change.name.toLowerCase() !== s.name.toLowerCase() &&
          (await state.list<SpaceRecord>('spaces')).some(x => x.name.toLowerCase() === change.name!.toLowerCase())) throw new NameTakenError('user space', change.name)
        const next = { ...s, ...change }
        await state.put('spaces', id, next)
        await audit(a, 'space.update', id, change)
        await logs.write({ type: 'storage', level: 'info', user: a.user.name, source: a.source, ownerId: s.ownerId, message: `User space [${next.name}] changed: ${Object.keys(change).join(', ')}`, text: said('SPACE_CHANGED', { name: next.name, fields: Object.keys(change).join(', ') }) })
        return next
      })
    },

    async setSpaceUsage (id, usedBytes) {
      await state.exclusive(async () => {
        const s = await state.get<SpaceRecord>('spaces', id)
        if (s !== undefined) await state.put('spaces', id, { ...s, usedBytes })
      })
    },

    async removeSpace (a, id) {
      return await state.exclusive(async () => {
        const s = await inv.space(a.user, id)
        const tasks = (await state.list<{ spaceId: string, name: string }>('tasks')).filter(t => t.spaceId === id)
        if (tasks.length > 0) throw new InUseError('user space', tasks.map(t => `task ${t.name}`).join(', '))
        await state.del('spaces', id)
        await audit(a, 'space.remove', id)
        await logs.write({ type: 'storage', level: 'warning', user: a.user.name, source: a.source, ownerId: s.ownerId, message: `User space [${s.name}] removed`, text: said('SPACE_REMOVED', { name: s.name }) })
        return s
      })
    }
  }
  return inv
}

function localIp (): string {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const i of list ?? []) if (i.family === 'IPv4' && !i.internal) return i.address
  }
  return '127.0.0.1'
}
