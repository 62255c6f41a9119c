// A node's mesh state on disk: its own key, the member list, invitations it issued and,
// on the member that created the mesh, the mesh key. Files are replaced atomically
// (write, fsync, rename) so a crash leaves the old or the new version, never half of one.
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { writeFileAtomic } from '../chunkstore/index.ts'
import { join } from 'node:path'
import { MeshKeyMissingError, MeshStateExistsError, MeshStateMissingError } from './errors.ts'
import { decodeMembership, encodeMembership, signMembership, type Role, type SignedMembership } from './membership.ts'
import type { InvitationRecord } from './invitation.ts'
import { checkAnnounceAddrs } from './announce.ts'
import type { PrivateKey } from '@libp2p/interface'

export interface MeshConfig {
  site: string
  role: Role
  /** Multiaddrs to listen on. */
  listen: string[]
  /**
   * Multiaddrs other sites dial to reach this one, when not the listening ones (NAT, a port
   * forward): recorded in the member list and told by identify (announce.ts).
   */
  announce?: string[]
  /** Multiaddrs (with /p2p/) of members to dial first; the invitation's addresses after a join. */
  bootstrap?: string[]
}

export interface MeshState {
  dir: string
  peerKey: PrivateKey
  meshKey?: PrivateKey
  config: MeshConfig
  membership: SignedMembership
}

const FILES = { peerKey: 'peer.key', meshKey: 'mesh.key', membership: 'membership.json', invitations: 'invitations.json', config: 'config.json' }

export function hasMeshState (dir: string): boolean {
  return existsSync(join(dir, FILES.membership))
}

/** Creates a node key for `dir` (or returns the existing one): a joiner needs it before it has a member list. */
export async function loadOrCreatePeerKey (dir: string): Promise<PrivateKey> {
  mkdirSync(dir, { recursive: true })
  const path = join(dir, FILES.peerKey)
  if (existsSync(path)) return privateKeyFromProtobuf(readFileSync(path))
  const key = await generateKeyPair('Ed25519')
  writeFileAtomic(path, privateKeyToProtobuf(key))
  return key
}

/** `cairn mesh init`: a new mesh key and a member list with this node as its only member. */
export async function initMesh (dir: string, config: MeshConfig, addrs: string[] = memberAddrs(config)): Promise<MeshState> {
  if (hasMeshState(dir)) throw new MeshStateExistsError(dir)
  if (config.announce !== undefined) config = { ...config, announce: checkAnnounceAddrs(config.announce) }
  const peerKey = await loadOrCreatePeerKey(dir)
  const meshKey = await generateKeyPair('Ed25519')
  writeFileAtomic(join(dir, FILES.meshKey), privateKeyToProtobuf(meshKey))
  const membership = await signMembership(meshKey, {
    mesh: peerIdFromPrivateKey(meshKey).toString(),
    version: 1,
    issued: new Date().toISOString(),
    members: [{ peer: peerIdFromPrivateKey(peerKey).toString(), site: config.site, role: config.role, addrs }]
  })
  saveConfig(dir, config)
  saveMembership(dir, membership)
  return { dir, peerKey, meshKey, config, membership }
}

export async function loadMeshState (dir: string): Promise<MeshState> {
  if (!hasMeshState(dir)) throw new MeshStateMissingError(dir)
  const peerKey = privateKeyFromProtobuf(readFileSync(join(dir, FILES.peerKey)))
  const meshKeyPath = join(dir, FILES.meshKey)
  const meshKey = existsSync(meshKeyPath) ? privateKeyFromProtobuf(readFileSync(meshKeyPath)) : undefined
  const config = JSON.parse(readFileSync(join(dir, FILES.config), 'utf8')) as MeshConfig
  const membership = await decodeMembership(readFileSync(join(dir, FILES.membership), 'utf8'))
  return { dir, peerKey, meshKey, config, membership }
}

export function saveConfig (dir: string, config: MeshConfig): void {
  mkdirSync(dir, { recursive: true })
  writeFileAtomic(join(dir, FILES.config), JSON.stringify(config, null, 2) + '\n', 0o644)
}

export function saveMembership (dir: string, doc: SignedMembership): void {
  writeFileAtomic(join(dir, FILES.membership), encodeMembership(doc) + '\n', 0o644)
}

export function loadInvitations (dir: string): InvitationRecord[] {
  const path = join(dir, FILES.invitations)
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) as InvitationRecord[] : []
}

export function saveInvitations (dir: string, records: InvitationRecord[]): void {
  writeFileAtomic(join(dir, FILES.invitations), JSON.stringify(records, null, 2) + '\n')
}

export function requireMeshKey (state: MeshState): PrivateKey {
  if (state.meshKey === undefined) throw new MeshKeyMissingError(state.dir)
  return state.meshKey
}

/** What the member list records for this node: its announce addresses, else the listening ones others can dial. */
export function memberAddrs (config: MeshConfig): string[] {
  return config.announce !== undefined && config.announce.length > 0 ? checkAnnounceAddrs(config.announce) : dialable(config.listen)
}

/** Listen addresses others can dial as they are (no wildcard host, no port 0): the member list's hints. */
export function dialable (listen: string[]): string[] {
  return listen.filter(a => !/\/tcp\/0(\/|$)/.test(a) && !a.startsWith('/ip4/0.0.0.0/') && !a.startsWith('/ip6/::/'))
}
