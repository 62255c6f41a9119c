// `cairn mesh release <snapshot>` (issue 18): an administrator ends the lock of a snapshot that
// replicas keep for another site before the lock passes, with the USB key (doc/mesh.md
// "Releases"). The release is signed here on the token (the F27 operator key), then handed to
// the running mesh node of this folder (`cairn serve` or `cairn mesh run`, over its control
// socket), which applies it to its own replica and sends it to every connected member
// (ADMIN_RELEASE): each replica checks it against the administrators it trusts and ends its
// lock, or refuses it and changes nothing.
import { readFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import { CID } from 'multiformats/cid'
import type { Command } from 'commander'
import type { AdminReleaseDelivery, MeshStatus } from '../../bootstrap/index.ts'
import { checkOperatorCertificate, resolvePkcs11Module, withTokenSession, type TokenKeyRef } from '../../crypto/index.ts'
import { InvalidOptionError } from '../../chunkstore/index.ts'
import { callControl } from '../control/index.ts'
import { AdminReleaseNotAppliedError } from './errors.ts'
import { promptPin } from './token-command.ts'

export interface MeshReleaseOptions {
  meshDir: string
  json?: boolean
  tokenLabel: string
  keyLabel?: string
  keyId?: string
  pkcs11Module?: string
  pinFile?: string
  reason: string
}

const OUTCOME_TEXT: Record<AdminReleaseDelivery['outcome'], string> = {
  applied: 'lock ended; its next GC frees the snapshot',
  'not-locked': 'keeps no lock for this snapshot',
  untrusted: 'refused: it does not trust this certificate for releases (enrol it there for a user with role admin, or list it in its mesh folder\'s release-admins.pem)',
  invalid: 'refused: the signature or the certificate does not check there',
  unreachable: 'not connected now; run the command again once it is',
  failed: 'not delivered'
}

/** Signs the release on the token, hands it to the mesh node, prints where it applied; throws AdminReleaseNotAppliedError when nowhere. */
export async function releaseSnapshot (snapshot: string, o: MeshReleaseOptions, io: { stdout: (t: string) => void, env: NodeJS.ProcessEnv }): Promise<void> {
  let root: CID
  try { root = CID.parse(snapshot) } catch { throw new InvalidOptionError(`"${snapshot}" is not a snapshot id (the CID "cairn mesh status" and "cairn snapshots" print)`) }
  if (o.reason.trim() === '') throw new InvalidOptionError('--reason says why the lock ends early; the replicas\' audit trails record it')
  if (o.keyLabel === undefined && o.keyId === undefined) throw new InvalidOptionError('Pass --key-label or --key-id to choose the key on the token.')
  const ref: TokenKeyRef = { label: o.keyLabel, id: o.keyId }
  // The mesh id comes from the running node: a release reaches replicas only through it.
  const status = await callControl(o.meshDir, 'status') as MeshStatus
  const pin = o.pinFile !== undefined ? readFileSync(o.pinFile, 'utf8').replace(/\r?\n$/, '') : io.env.CAIRN_TOKEN_PIN !== undefined && io.env.CAIRN_TOKEN_PIN !== '' ? io.env.CAIRN_TOKEN_PIN : await promptPin(`PIN for token ${o.tokenLabel}: `)
  const { adminReleaseBlock, adminReleaseMessage } = await import('../../bootstrap/index.ts')
  const block = withTokenSession({ modulePath: resolvePkcs11Module(o.pkcs11Module, io.env), tokenLabel: o.tokenLabel, pin }, session => {
    const pem = session.findCertificate(ref)
    // Only a certificate fit for operator login (F27) can sign a release a replica accepts.
    checkOperatorCertificate(pem)
    const body = { mesh: status.mesh, root: root.toString(), issued: new Date().toISOString(), reason: o.reason, cert: new X509Certificate(pem).raw.toString('base64') }
    return adminReleaseBlock(body, session.sign(ref, adminReleaseMessage(body)))
  })
  const deliveries = await callControl(o.meshDir, 'admin-release', { release: Buffer.from(block).toString('base64') }) as AdminReleaseDelivery[]
  const applied = deliveries.filter(d => d.outcome === 'applied').map(d => d.site)
  io.stdout(o.json === true
    ? JSON.stringify({ snapshot: root.toString(), applied, deliveries }, null, 2) + '\n'
    : `administrator's release of snapshot ${root.toString()}:\n` + deliveries.map(d => `  ${d.site.padEnd(16)} ${OUTCOME_TEXT[d.outcome]}${d.outcome === 'failed' && d.detail !== undefined ? `: ${d.detail}` : ''}`).join('\n') + '\n')
  if (applied.length === 0) throw new AdminReleaseNotAppliedError(root.toString(), deliveries.map(d => d.outcome))
}

export function registerMeshRelease (mesh: Command, common: (cmd: Command) => Command, run: (snapshot: string, o: Omit<MeshReleaseOptions, 'meshDir'> & { meshDir?: string }) => Promise<void>): void {
  common(mesh.command('release'))
    .description("end a snapshot's lock at the replicas early with an administrator's USB key (signed on the token, checked by each replica against the administrators it trusts, recorded in its audit trail)")
    .argument('<snapshot>', 'the snapshot id (CID) whose lock ends')
    .requiredOption('--reason <text>', 'why the lock ends early (kept in the replicas\' audit trails)')
    .requiredOption('--token-label <label>', 'the administrator\'s token (USB key) label')
    .option('--key-label <label>', 'the key and certificate label on the token')
    .option('--key-id <hex>', 'the key and certificate id (CKA_ID, hex)')
    .option('--pin-file <file>', 'read the PIN from this file (default: CAIRN_TOKEN_PIN, then a prompt)')
    .option('--pkcs11-module <path>', 'PKCS#11 module (default: CAIRN_PKCS11_MODULE, then SoftHSM2)')
    .action(run)
}
