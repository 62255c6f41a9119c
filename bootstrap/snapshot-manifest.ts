// Manifest heads and releases (doc/mesh.md "Retention at replicas"; doc/design.md "Manifest
// page, manifest head, release"): plain blocks signed by a site's node key. A head names a
// snapshot's manifest pages (chunkstore/manifest.ts) and its origin; a release says the origin
// no longer keeps the snapshot. Only the origin's key makes either, so no other member can
// make a replica drop (or re-attribute) a site's snapshot.
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { base64url } from 'multiformats/bases/base64'
import { CID } from 'multiformats/cid'
import { InvalidRetentionRecordError, UntrustedReleaseCertificateError } from './errors.ts'
import { verify as verifySignature, X509Certificate } from 'node:crypto'
import { checkOperatorCertificate } from '../crypto/index.ts'
import type { PrivateKey } from '@libp2p/interface'

const HEAD_CONTEXT = 'cairn-manifest/v1\n'
const RELEASE_CONTEXT = 'cairn-release/v1\n'
/** Pages one head names at most (4096 entries each: about 16 million blocks). */
export const MAX_PAGES = 4096

export interface ManifestHead {
  format: 'cairn-manifest'
  v: 1
  mesh: string
  origin: string
  /** The snapshot id: its record block's CID. */
  root: string
  pages: string[]
  blocks: number
  bytes: number
}

export interface Release {
  format: 'cairn-release'
  v: 1
  mesh: string
  origin: string
  root: string
  issued: string
  by: 'origin'
}

const headBody = (h: ManifestHead): ManifestHead => ({ format: 'cairn-manifest', v: 1, mesh: h.mesh, origin: h.origin, root: h.root, pages: [...h.pages], blocks: h.blocks, bytes: h.bytes })
const releaseBody = (r: Release): Release => ({ format: 'cairn-release', v: 1, mesh: r.mesh, origin: r.origin, root: r.root, issued: r.issued, by: 'origin' })
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

async function signed (key: PrivateKey, context: string, body: object): Promise<Uint8Array> {
  const json = JSON.stringify(body)
  const sig = base64url.baseEncode(await key.sign(utf8(context + json)))
  return utf8(`${json.slice(0, -1)},"sig":"${sig}"}`)
}

/** The head of a snapshot's manifest, signed by `originKey` (the site's node key). The same inputs always give the same bytes. */
export async function signManifestHead (originKey: PrivateKey, head: Omit<ManifestHead, 'format' | 'v' | 'origin'>): Promise<Uint8Array> {
  return await signed(originKey, HEAD_CONTEXT, headBody({ ...head, format: 'cairn-manifest', v: 1, origin: peerIdFromPrivateKey(originKey).toString() }))
}

/** A release of snapshot `root` by its origin, signed by the origin's node key. */
export async function signRelease (originKey: PrivateKey, release: Omit<Release, 'format' | 'v' | 'origin' | 'by'>): Promise<Uint8Array> {
  return await signed(originKey, RELEASE_CONTEXT, releaseBody({ ...release, format: 'cairn-release', v: 1, origin: peerIdFromPrivateKey(originKey).toString(), by: 'origin' }))
}

function parse (what: 'manifest' | 'release', bytes: Uint8Array): Record<string, unknown> & { sig: string } {
  let raw: any
  try { raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) } catch (err) { throw new InvalidRetentionRecordError(what, 'not JSON', { cause: err }) }
  if (raw === null || typeof raw !== 'object' || typeof raw.sig !== 'string') throw new InvalidRetentionRecordError(what, 'it is not signed')
  return raw
}

async function verifyBy (what: 'manifest' | 'release', origin: unknown, context: string, body: object, sig: string): Promise<void> {
  let ok = false
  try {
    const id = peerIdFromString(String(origin))
    // Only Ed25519 node keys sign; any other PeerId leaves `ok` false.
    if (id.type === 'Ed25519' && id.publicKey !== undefined) ok = await publicKeyFromRaw(id.publicKey.raw).verify(utf8(context + JSON.stringify(body)), base64url.baseDecode(sig))
  } catch (err) {
    throw new InvalidRetentionRecordError(what, 'its origin or signature does not decode', { cause: err })
  }
  if (!ok) throw new InvalidRetentionRecordError(what, 'the signature is not the origin\'s')
}

const isCid = (s: unknown): boolean => { try { CID.parse(String(s)); return typeof s === 'string' } catch { return false } }
const isCount = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 0

/** Checks a head's format, mesh and signature (by the key of the origin it names); returns it. */
export async function verifyManifestHead (bytes: Uint8Array, mesh: string): Promise<ManifestHead> {
  const raw = parse('manifest', bytes)
  const h = raw as unknown as ManifestHead
  if (raw.format !== 'cairn-manifest' || raw.v !== 1) throw new InvalidRetentionRecordError('manifest', 'not a cairn-manifest v1')
  if (raw.mesh !== mesh) throw new InvalidRetentionRecordError('manifest', 'it is another mesh\'s')
  if (!isCid(raw.root) || !Array.isArray(raw.pages) || raw.pages.length === 0 || raw.pages.length > MAX_PAGES || !raw.pages.every(isCid) || !isCount(raw.blocks) || !isCount(raw.bytes)) {
    throw new InvalidRetentionRecordError('manifest', 'a field is missing or malformed')
  }
  const body = headBody(h)
  // Exactly the canonical bytes: no extra field, no other order.
  if (new TextDecoder().decode(bytes) !== `${JSON.stringify(body).slice(0, -1)},"sig":"${raw.sig}"}`) throw new InvalidRetentionRecordError('manifest', 'not in canonical form')
  await verifyBy('manifest', raw.origin, HEAD_CONTEXT, body, raw.sig)
  return body
}

/** Checks a release's format, mesh and signature (by the key of the origin it names); returns it. */
export async function verifyRelease (bytes: Uint8Array, mesh: string): Promise<Release> {
  const raw = parse('release', bytes)
  if (raw.format !== 'cairn-release' || raw.v !== 1) throw new InvalidRetentionRecordError('release', 'not a cairn-release v1')
  if (raw.mesh !== mesh) throw new InvalidRetentionRecordError('release', 'it is another mesh\'s')
  if (raw.by !== 'origin') throw new InvalidRetentionRecordError('release', `releases by "${String(raw.by)}" are not accepted here`)
  if (!isCid(raw.root) || typeof raw.issued !== 'string' || Number.isNaN(Date.parse(raw.issued))) throw new InvalidRetentionRecordError('release', 'a field is missing or malformed')
  const body = releaseBody(raw as unknown as Release)
  if (new TextDecoder().decode(bytes) !== `${JSON.stringify(body).slice(0, -1)},"sig":"${raw.sig}"}`) throw new InvalidRetentionRecordError('release', 'not in canonical form')
  await verifyBy('release', raw.origin, RELEASE_CONTEXT, body, raw.sig)
  return body
}

/**
 * An administrator's release (doc/mesh.md "Releases"): ends a snapshot's lock at the replica
 * that checks it. Signed by the key on the administrator's USB token (ECDSA P-256 or RSA
 * PKCS#1 v1.5, SHA-256, DER), whose certificate it carries; checked against the certificates
 * that replica trusts. Never forwarded.
 */
export interface AdminRelease {
  format: 'cairn-release'
  v: 1
  mesh: string
  root: string
  issued: string
  by: 'admin'
  reason: string
  /** The administrator's certificate, base64 DER. */
  cert: string
}

const adminBody = (r: AdminRelease): AdminRelease => ({ format: 'cairn-release', v: 1, mesh: r.mesh, root: r.root, issued: r.issued, by: 'admin', reason: r.reason, cert: r.cert })

/** The bytes an administrator's token signs for `release`. */
export function adminReleaseMessage (release: Omit<AdminRelease, 'format' | 'v' | 'by'>): Uint8Array {
  return utf8(RELEASE_CONTEXT + JSON.stringify(adminBody({ ...release, format: 'cairn-release', v: 1, by: 'admin' })))
}

/** The release block: the body with the token's signature (DER, base64url) last. */
export function adminReleaseBlock (release: Omit<AdminRelease, 'format' | 'v' | 'by'>, signature: Uint8Array): Uint8Array {
  const json = JSON.stringify(adminBody({ ...release, format: 'cairn-release', v: 1, by: 'admin' }))
  return utf8(`${json.slice(0, -1)},"sig":"${base64url.baseEncode(signature)}"}`)
}

/** The snapshot an administrator's release names, read without checking anything else (the sender's side: the replica checks). */
export function adminReleaseRoot (bytes: Uint8Array): string {
  const raw = parse('release', bytes)
  if (raw.format !== 'cairn-release' || raw.v !== 1 || raw.by !== 'admin' || !isCid(raw.root)) throw new InvalidRetentionRecordError('release', 'not an administrator\'s cairn-release v1')
  return raw.root as string
}

/**
 * Checks an administrator's release: format, mesh, a certificate among `trusted` (PEM, as
 * enrolled), valid for operator login (F27) when issued and now, and its key's signature.
 */
export function verifyAdminRelease (bytes: Uint8Array, mesh: string, trusted: string[], now: Date): AdminRelease & { subject: string, fingerprint: string } {
  const raw = parse('release', bytes)
  if (raw.format !== 'cairn-release' || raw.v !== 1 || raw.by !== 'admin') throw new InvalidRetentionRecordError('release', 'not an administrator\'s cairn-release v1')
  if (raw.mesh !== mesh) throw new InvalidRetentionRecordError('release', 'it is another mesh\'s')
  if (!isCid(raw.root) || typeof raw.issued !== 'string' || Number.isNaN(Date.parse(raw.issued)) || typeof raw.reason !== 'string' || raw.reason.trim() === '' || typeof raw.cert !== 'string') {
    throw new InvalidRetentionRecordError('release', 'a field is missing or malformed (an administrator\'s release needs a reason)')
  }
  const body = adminBody(raw as unknown as AdminRelease)
  if (new TextDecoder().decode(bytes) !== `${JSON.stringify(body).slice(0, -1)},"sig":"${raw.sig}"}`) throw new InvalidRetentionRecordError('release', 'not in canonical form')
  let cert: X509Certificate
  try { cert = new X509Certificate(Buffer.from(body.cert, 'base64')) } catch (err) { throw new InvalidRetentionRecordError('release', 'its certificate does not parse', { cause: err }) }
  if (!trusted.some(pem => { try { return new X509Certificate(pem).fingerprint256 === cert.fingerprint256 } catch { return false } })) {
    throw new UntrustedReleaseCertificateError(cert.fingerprint256)
  }
  try {
    checkOperatorCertificate(cert.raw, { now: new Date(body.issued) })
    checkOperatorCertificate(cert.raw, { now })
  } catch (err) {
    throw new InvalidRetentionRecordError('release', `its certificate is not valid: ${(err as Error).message}`, { cause: err })
  }
  let ok = false
  try { ok = verifySignature('sha256', utf8(RELEASE_CONTEXT + JSON.stringify(body)), cert.publicKey, base64url.baseDecode(raw.sig)) } catch {}
  if (!ok) throw new InvalidRetentionRecordError('release', 'the signature is not the certificate\'s key\'s')
  return { ...body, subject: cert.subject, fingerprint: cert.fingerprint256 }
}
