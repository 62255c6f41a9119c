// Lock records (doc/mesh.md "Lock records"): a replica's own signed copy, in its segments, of
// each root's lock, so that `cairn repair index` at a replica brings its locks back exactly as
// they were. The index (`'l'`) stays the working copy; a record is written each time a root's
// lock is fixed, lengthened or ended by an administrator. Signed by the replica's node key: no
// other member can make one it accepts, so a peer that PUTs a forged or altered record (it can
// PUT any block) cannot shorten a lock through a repair. An older record of the same root
// replayed is harmless: a repair takes the longest lock and any administrator's release.
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { base64url } from 'multiformats/bases/base64'
import type { PrivateKey } from '@libp2p/interface'
import type { RootRetention } from '../chunkstore/index.ts'

const CONTEXT = 'cairn-lock/v1\n'

export interface LockRecord {
  format: 'cairn-lock'
  v: 1
  mesh: string
  /** PeerId of the replica that fixed the lock (whose node key signs the record). */
  replica: string
  root: string
  head: string
  origin: string
  received: string
  lockedUntil: string
  adminRelease?: string
}

const body = (r: Omit<LockRecord, 'format' | 'v'>): LockRecord => ({
  format: 'cairn-lock', v: 1, mesh: r.mesh, replica: r.replica, root: r.root, head: r.head, origin: r.origin, received: r.received, lockedUntil: r.lockedUntil,
  ...(r.adminRelease !== undefined ? { adminRelease: r.adminRelease } : {})
})
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

/** The record of `root`'s lock at this replica, signed by its node key `key`. */
export async function signLockRecord (key: PrivateKey, mesh: string, root: string, r: RootRetention): Promise<Uint8Array> {
  const b = body({ mesh, replica: peerIdFromPrivateKey(key).toString(), root, head: r.head, origin: r.origin, received: r.received, lockedUntil: r.lockedUntil, adminRelease: r.adminRelease })
  const json = JSON.stringify(b)
  const sig = base64url.baseEncode(await key.sign(utf8(CONTEXT + json)))
  return utf8(`${json.slice(0, -1)},"sig":"${sig}"}`)
}

/** A lock record of `replica` in `mesh`, or undefined for any block that is not one (another kind, another signer, altered). */
export async function readLockRecord (bytes: Uint8Array, mesh: string, replica: string): Promise<LockRecord | undefined> {
  let raw: any
  try { raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) } catch { return undefined }
  if (raw?.format !== 'cairn-lock' || raw.v !== 1 || raw.mesh !== mesh || raw.replica !== replica || typeof raw.sig !== 'string') return undefined
  for (const f of ['root', 'head', 'origin', 'received', 'lockedUntil']) if (typeof raw[f] !== 'string') return undefined
  const b = body(raw)
  const json = JSON.stringify(b)
  if (new TextDecoder().decode(bytes) !== `${json.slice(0, -1)},"sig":"${String(raw.sig)}"}`) return undefined
  try {
    const id = peerIdFromString(replica)
    if (id.type !== 'Ed25519' || id.publicKey === undefined) return undefined
    return await publicKeyFromRaw(id.publicKey.raw).verify(utf8(CONTEXT + json), base64url.baseDecode(raw.sig)) ? b : undefined
  } catch {
    return undefined
  }
}
