// `cairn mesh init|invite|join|status|remove|replicate|scrub|policy|run` (F9–F14): create a
// mesh, admit sites, see members and replication lag, scrub and repair, and run the daemon
// that does the work. Commands that need the running daemon (`cairn serve` with a mesh, or
// `cairn mesh run`) reach it over its control socket (node/control/).
// Failures are thrown as error classes with stable names for main.ts to print.
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { Option, type Command } from 'commander'
import type { MeshStatus, ReplicationPolicy, Role, ScrubResult } from '../../bootstrap/index.ts'
import type { ReplicaFolder } from '../../chunkstore/index.ts'
import { parseLimit } from './bandwidth-option.ts'
import { bytes, count, counted } from './format.ts'
import { eventLines } from './event-lines.ts'
import { callControl, ControlRequestError, DaemonNotRunningError, UnknownControlRequestError } from '../control/index.ts'
import { InvalidOptionError } from '../../chunkstore/index.ts'
import type { ReplicationConfig } from '../mesh/index.ts'
import { unlockOptions, type StoreFlags } from './store-options.ts'
import { ANNOUNCE_HELP, parseAnnounce } from './announce-option.ts'
import { registerMeshRelease, releaseSnapshot } from './mesh-release-command.ts'

// libp2p and its kin take ~0.5 s to load: only the mesh commands that need them load them.
const bootstrap = async (): Promise<typeof import('../../bootstrap/index.ts')> => await import('../../bootstrap/index.ts')
const nodeMesh = async (): Promise<typeof import('../mesh/index.ts')> => await import('../mesh/index.ts')

export interface MeshCommandIo {
  stdout: (text: string) => void
  stderr: (text: string) => void
  untilStopped: () => Promise<void>
}

const defaultIo: MeshCommandIo = {
  stdout: t => { process.stdout.write(t) },
  stderr: t => { process.stderr.write(t) },
  untilStopped: async () => await new Promise(resolve => {
    process.once('SIGINT', () => resolve())
    process.once('SIGTERM', () => resolve())
  })
}

function dataHome (): string {
  return join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'cairn')
}

interface Common { meshDir?: string, json?: boolean }
const meshDir = (o: Common): string => resolve(o.meshDir ?? join(dataHome(), 'mesh'))

function common (cmd: Command): Command {
  cmd.addOption(new Option('--mesh-dir <dir>', 'mesh state folder (keys, member list)').env('CAIRN_MESH'))
  cmd.option('--json', 'print machine-readable JSON on stdout')
  return cmd
}

async function role (r: string): Promise<Role> {
  const { ROLES } = await bootstrap()
  if (!(ROLES as readonly string[]).includes(r)) throw new InvalidOptionError(`--role must be one of ${ROLES.join(', ')}`)
  return r as Role
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v]

function parseTtl (s: string): number {
  const m = /^(\d+)([smhd])$/.exec(s)
  if (m === null) throw new InvalidOptionError(`--ttl ${s}: write a number and s, m, h or d, e.g. 24h`)
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3600_000, d: 86400_000 }[m[2] as 's' | 'm' | 'h' | 'd']
}

export function registerMeshCommand (program: Command, io: MeshCommandIo = defaultIo): Command {
  const mesh = program.command('mesh').description('the peer-to-peer mesh: create it, admit sites, replicate, see its state')
  const out = (o: Common, value: unknown, text: string): void => {
    io.stdout(o.json === true ? JSON.stringify(value, null, 2) + '\n' : text + '\n')
  }

  common(mesh.command('init'))
    .description('create a new mesh with this node as its first member (keeps the mesh key here)')
    .requiredOption('--site <name>', 'this site\'s name')
    .option('--role <role>', "this site's role: branch, head or dr", 'head')
    .option('--listen <multiaddr>', 'address to listen on (repeatable)', collect)
    .option('--announce <multiaddr>', ANNOUNCE_HELP, collect)
    .action(async (o: Common & { site: string, role: string, listen?: string[], announce?: string[] }) => {
      const announce = await parseAnnounce(o.announce)
      const state = await (await bootstrap()).initMesh(meshDir(o), { site: o.site, role: await role(o.role), listen: o.listen ?? ['/ip4/0.0.0.0/tcp/4737'], ...(announce !== undefined ? { announce } : {}) })
      out(o, { mesh: state.membership.mesh, dir: state.dir }, `created mesh ${state.membership.mesh} in ${state.dir}\nnext: cairn mesh run, then cairn mesh invite`)
    })

  common(mesh.command('invite'))
    .description('print a one-time invitation for a new site (run where the mesh key is, with the daemon running)')
    .option('--ttl <duration>', 'how long the invitation is valid, e.g. 30m, 24h, 7d', '24h')
    .action(async (o: Common & { ttl: string }) => {
      const r = await callControl(meshDir(o), 'invite', { ttlMs: parseTtl(o.ttl) }) as { invitation: string }
      out(o, r, r.invitation)
    })

  common(mesh.command('join'))
    .description('join a mesh with an invitation from one of its members')
    .argument('<invitation>', 'the cairn-invite-v1.… string')
    .requiredOption('--site <name>', 'this site\'s name')
    .option('--role <role>', "this site's role: branch, head or dr", 'branch')
    .option('--listen <multiaddr>', 'address to listen on (repeatable)', collect)
    .option('--announce <multiaddr>', ANNOUNCE_HELP, collect)
    .action(async (invitation: string, o: Common & { site: string, role: string, listen?: string[], announce?: string[] }) => {
      const listen = o.listen ?? ['/ip4/0.0.0.0/tcp/4737']
      const announce = await parseAnnounce(o.announce)
      const doc = await (await bootstrap()).joinMesh({ dir: meshDir(o), invitation, config: { site: o.site, role: await role(o.role), listen, ...(announce !== undefined ? { announce } : {}) } })
      out(o, { mesh: doc.mesh, version: doc.version, members: doc.members.length }, `joined mesh ${doc.mesh} (${counted(doc.members.length, 'member')}, list version ${doc.version})\nnext: cairn mesh run`)
    })

  common(mesh.command('status'))
    .description('members, links, replication lag and health')
    .action(async (o: Common) => {
      const dir = meshDir(o)
      let status: MeshStatus | undefined
      try {
        status = await callControl(dir, 'status') as MeshStatus
      } catch (err) {
        if (!(err instanceof DaemonNotRunningError) || !(await bootstrap()).hasMeshState(dir)) throw err
      }
      if (status === undefined) {
        const s = await (await bootstrap()).loadMeshState(dir)
        const offline = { running: false, mesh: s.membership.mesh, version: s.membership.version, members: s.membership.members }
        out(o, offline, `mesh ${offline.mesh} (list version ${offline.version}) — daemon not running\n` +
          offline.members.map(m => `  ${m.site.padEnd(16)} ${m.role.padEnd(7)} ${m.peer}`).join('\n'))
        return
      }
      out(o, { running: true, ...status }, formatStatus(status))
    })

  common(mesh.command('remove'))
    .description('remove a member (by site name or peer id); it is cut off at once (needs the mesh key)')
    .argument('<member>')
    .action(async (member: string, o: Common) => {
      const doc = await callControl(meshDir(o), 'remove', { member }) as { version: number }
      out(o, doc, `removed ${member}; member list version ${doc.version}`)
    })

  common(mesh.command('stop'))
    .description('stop the mesh daemon (cairn mesh run) of this mesh folder, as Ctrl-C would, and wait until it has stopped')
    .action(async (o: Common) => {
      // Answered once the daemon has closed its store and its host.
      await callControl(meshDir(o), 'stop')
      out(o, { stopped: true }, 'mesh daemon stopped; its store is closed')
    })

  common(mesh.command('replicate'))
    .description('replicate to every policy target now and wait until done')
    .action(async (o: Common) => {
      const links = await callControl(meshDir(o), 'replicate') as MeshStatus['links']
      out(o, links, links.map(linkLine).join('\n') || 'no replication targets (see cairn mesh policy)')
    })

  common(mesh.command('scrub'))
    .description('read every stored block back against its CID; fetch bad ones again from other sites (F14)')
    .action(async (o: Common) => {
      const r = await callControl(meshDir(o), 'scrub') as ScrubResult
      out(o, r, `checked ${counted(r.blocksChecked, 'block')} (${bytes(r.bytesChecked)}) in ${counted(r.stores, 'store')}: ${count(r.bad)} bad, ${count(r.repaired.length)} repaired from peers` +
        (r.failed.length > 0 ? `, ${r.failed.length} NOT repaired:\n` + r.failed.map(f => `  ${f.cid}: ${f.reason}`).join('\n') : ''))
      if (r.failed.length > 0) process.exitCode = 3
    })

  common(mesh.command('policy'))
    .description('set the replication policy and bandwidth windows (cairn serve applies it at once; cairn mesh run at its next start)')
    .option('--copies <n>', 'copies in the mesh, this site\'s included', '2')
    .option('--role <role>', 'a role that must hold a copy (repeatable)', collect)
    .option('--site <name>', 'allow only these sites (repeatable)', collect)
    .option('--space <name>', 'replicate only this user space of cairn serve (repeatable; default: everything)', collect)
    .option('--name <name>', 'the policy\'s name', 'default')
    .option('--immutable-days <days>', 'each target keeps every snapshot it receives at least this many days, or "forever" (doc/mesh.md "Locks")')
    .option('--limit <window>', 'bandwidth window FROM-TO=MIBPS[@DAY[-DAY]] (repeatable)', collect)
    .option('--default-limit <mibps>', 'MiB/s outside the windows (default unlimited)')
    .action(async (o: Common & { copies: string, role?: string[], site?: string[], space?: string[], name: string, immutableDays?: string, limit?: string[], defaultLimit?: string }) => {
      const immutableDays = o.immutableDays === undefined ? undefined : o.immutableDays === 'forever' ? 'forever' as const : Number(o.immutableDays)
      const policy: ReplicationPolicy = { name: o.name, copies: Number(o.copies), roles: o.role === undefined ? undefined : await Promise.all(o.role.map(role)), sites: o.site, spaces: o.space, ...(immutableDays !== undefined ? { immutableDays } : {}) }
      const cfg: ReplicationConfig = {
        policies: [policy],
        bandwidth: { windows: (o.limit ?? []).map(parseLimit), defaultMibps: o.defaultLimit === undefined ? undefined : Number(o.defaultLimit) }
      }
      const { saveReplicationConfig, InvalidReplicationConfigError } = await nodeMesh()
      try {
        saveReplicationConfig(meshDir(o), cfg)
      } catch (err) {
        if (err instanceof InvalidReplicationConfigError) throw new InvalidOptionError(err.message)
        throw err
      }
      let applied = 'the daemon applies it when it starts'
      try {
        await callControl(meshDir(o), 'configure', { ...cfg })
        applied = 'applied by the running daemon'
      } catch (err) {
        if (err instanceof ControlRequestError && err.remote.code === UnknownControlRequestError.code) applied = 'restart cairn mesh run to apply'
        else if (!(err instanceof DaemonNotRunningError)) throw err
      }
      out(o, cfg, `policy saved: ${policy.copies} copies${policy.roles === undefined ? '' : `, one at each of ${policy.roles.join(', ')}`}${policy.spaces === undefined ? '' : ` of ${policy.spaces.join(', ')}`}${policy.immutableDays === undefined ? '' : `, kept ${policy.immutableDays === 'forever' ? 'forever' : `${policy.immutableDays} days`} at each target`}; ${applied}`)
    })

  common(mesh.command('receive'))
    .description('set how long this node, as a replica, keeps every snapshot it receives, whatever its origin later says (the floor under what senders ask; doc/mesh.md "Locks"); applied at the next start')
    .option('--immutable-days <days>', 'days after receipt, or "forever"')
    .option('--site <site=days>', 'another lock for what this origin site sends (repeatable)', collect)
    .option('--quota <site=bytes>', 'hold at most this many bytes of what this origin site sends; new snapshots past it are refused (repeatable)', collect)
    .action(async (o: Common & { immutableDays?: string, site?: string[], quota?: string[] }) => {
      const days = (v: string): number | 'forever' => v === 'forever' ? 'forever' : Number(v)
      const perSite = Object.fromEntries((o.site ?? []).map(s => { const at = s.lastIndexOf('='); return [s.slice(0, at), days(s.slice(at + 1))] }))
      const { loadReplicationConfig, saveReplicationConfig, InvalidReplicationConfigError } = await nodeMesh()
      const pairs = (list: string[] | undefined): Array<[string, string]> => (list ?? []).map(s => { const at = s.lastIndexOf('='); return [s.slice(0, at), s.slice(at + 1)] })
      const saved = loadReplicationConfig(meshDir(o))
      const quotas = Object.fromEntries(pairs(o.quota).map(([site, n]) => [site, Number(n)]))
      const cfg: ReplicationConfig = {
        ...saved,
        receive: {
          ...saved.receive,
          ...(o.immutableDays !== undefined ? { immutableDays: days(o.immutableDays) } : {}),
          ...(o.site !== undefined ? { perSite } : {}),
          ...(o.quota !== undefined ? { quotas: { ...saved.receive?.quotas, ...quotas } } : {})
        }
      }
      try {
        saveReplicationConfig(meshDir(o), cfg)
      } catch (err) {
        if (err instanceof InvalidReplicationConfigError) throw new InvalidOptionError(err.message)
        throw err
      }
      const r = cfg.receive!
      out(o, cfg, `this node keeps what it receives ${r.immutableDays === 'forever' ? 'forever' : `${String(r.immutableDays ?? 0)} days`} after receipt, at least${Object.keys(r.quotas ?? {}).length > 0 ? `; quotas: ${Object.entries(r.quotas!).map(([s, n]) => `${s} ${bytes(n)}`).join(', ')}` : ''}; applied at its next start`)
    })

  registerMeshRelease(mesh, common, async (snapshot, o) => { await releaseSnapshot(snapshot, { ...o, meshDir: meshDir(o) }, { stdout: io.stdout, env: process.env }) })

  common(mesh.command('run'))
    .description('run the mesh daemon for a store (until SIGINT/SIGTERM); events on stderr: sentences on a terminal, JSON lines with --json or in a pipe')
    .addOption(new Option('--store <dir>', 'store folder').env('CAIRN_STORE'))
    .option('--replicate-every <seconds>', 'replicate at least this often', '30')
    .option('--announce <multiaddr>', `${ANNOUNCE_HELP}; for this run, in place of those given at init or join`, collect)
    .option('--passphrase-file <file>', 'open the site\'s own store with this passphrase, so that cairn backup, restore, snapshots… pointed at it run in this node while it runs')
    .option('--recovery-key-file <file>', 'the same with the store\'s recovery key')
    .option('--token-label <label>', 'the same with a key slot of this USB key (PIN from CAIRN_TOKEN_PIN)')
    .option('--pkcs11-module <path>', 'PKCS#11 module of the token (default: CAIRN_PKCS11_MODULE, then SoftHSM2)')
    .action(async (o: Common & StoreFlags & { store?: string, replicateEvery: string, announce?: string[] }) => {
      const store = resolve(o.store ?? join(dataHome(), 'store'))
      const announce = await parseAnnounce(o.announce)
      // Only when asked: a node serving a replica, or started without a secret, holds no keys.
      const unlock = o.passphraseFile !== undefined || o.recoveryKeyFile !== undefined || o.tokenLabel !== undefined
      const keys = unlock ? await unlockOptions({ ...o, store }) : undefined
      const lines = eventLines({ json: o.json })
      // The ready line: JSON on stdout for service managers and scripts (`{"ready":true,…}`), a sentence on a terminal.
      const readyJson = o.json === true || process.stdout.isTTY !== true
      await (await nodeMesh()).runMeshDaemon({
        store,
        keys: keys?.keys,
        mesh: meshDir(o),
        replicateEveryMs: Number(o.replicateEvery) * 1000,
        announce,
        untilStopped: io.untilStopped,
        ready: info => {
          io.stdout(readyJson
            ? JSON.stringify({ ready: true, ...info }) + '\n'
            : `${STORE_KIND[info.storeKind](info.store)}\nmesh node ${info.peer} ready, listening on ${info.addrs.join(', ')}; Ctrl-C stops it\n`)
        },
        log: lines.event
      })
    })
  return mesh
}

/** "2 snapshots, 1.20 MiB", with "?" for what is unknown before a first run. */
function behind (snapshots: number | null | undefined, byteCount: number | null | undefined): string {
  return `${snapshots === null || snapshots === undefined ? '? snapshots' : counted(snapshots, 'snapshot')}, ${byteCount === null || byteCount === undefined ? '? bytes' : bytes(byteCount)}`
}

const STORE_KIND: Record<ReplicaFolder, (dir: string) => string> = {
  store: dir => `serving this site's store ${dir}: its snapshots replicate to the policy's targets`,
  replica: dir => `serving the replica ${dir}: the blocks other sites send`,
  created: dir => `created the replica ${dir} for the blocks other sites send (this node cannot read them); this site's own backups go into a store made by "cairn init"`
}

function linkLine (l: MeshStatus['links'][number]): string {
  const r = l.lastResult
  // PeerUnreachableError's code (bootstrap/ is loaded only when a command needs libp2p).
  const state = l.lastError?.code === 'PEER_UNREACHABLE' ? 'not reachable (not started yet, or down); runs when it connects'
    : l.lastError !== undefined ? `error ${l.lastError.name}: ${l.lastError.message}` : l.running ? 'running' : r === undefined ? 'not run yet' : `ok, sent ${counted(r.blocksSent, 'block')} (${bytes(r.bytesSent)})`
  return `  → ${l.site.padEnd(16)} ${l.connected ? 'up  ' : 'down'}  behind: ${behind(l.snapshotsBehind, l.bytesBehind)}  ${state}`
}

function policyLine (p: MeshStatus['policies'][number]): string {
  const scope = [p.roles !== undefined ? `roles ${p.roles.join(',')}` : '', p.sites !== undefined ? `sites ${p.sites.join(',')}` : '', p.spaces !== undefined ? `spaces ${p.spaces.join(',')}` : 'all spaces'].filter(x => x !== '').join('; ')
  return `  ${p.name.padEnd(16)} ${p.health.padEnd(9)} ${counted(p.copies, 'copy', 'copies')} (${scope}) → ${p.targets.join(', ') || 'no target'}  behind: ${behind(p.snapshotsBehind, p.bytesBehind)}`
}

function formatStatus (s: MeshStatus): string {
  const lines = [
    `mesh ${s.mesh} (list version ${s.version})`,
    `this node: ${s.self.site} (${s.self.role}) ${s.self.peer}${s.self.holdsMeshKey ? ' — holds the mesh key' : ''}`,
    ...s.self.addrs.map(a => `  listening ${a}`),
    'members:',
    ...s.members.map(m => `  ${m.site.padEnd(16)} ${m.role.padEnd(7)} ${m.self ? 'self' : m.connected ? 'up  ' : 'down'}  ${m.peer}`),
    'policies:',
    ...(s.policies.length === 0 ? ['  none (see cairn mesh policy)'] : s.policies.map(policyLine)),
    'replication:',
    ...(s.links.length === 0 ? ['  no targets (see cairn mesh policy)'] : s.links.map(linkLine)),
    'snapshots held here, by the site that backed them up:',
    ...(s.held.length === 0 ? ['  none yet'] : s.held.map(h => `  ${h.site.padEnd(16)} ${counted(h.snapshots, 'snapshot')}${h.self ? ' (this site\'s own backups)' : h.lastReceived !== undefined ? `, newest received ${h.lastReceived.replace('T', ' ').slice(0, 19)} UTC` : ''}`))
  ]
  if (s.retention.space.length > 0) {
    lines.push('space here per origin site (held, releasable now, next release):',
      ...s.retention.space.map(o => `  ${o.site.padEnd(16)} ${counted(o.snapshots, 'snapshot')}, ${bytes(o.held)} held, ${bytes(o.releasableNow)} releasable now${o.nextRelease === undefined ? '' : `, ${bytes(o.nextRelease.bytes)} more at ${o.nextRelease.at.replace('T', ' ').slice(0, 16)} UTC`}`),
      'locks (snapshots other sites sent with manifests):',
      ...s.retention.locks.map(l => `  ${l.site.padEnd(16)} ${l.root.slice(-12)}  received ${l.received.replace('T', ' ').slice(0, 16)}  ${l.lockedUntil === 'forever' ? 'locked forever' : `locked until ${l.lockedUntil.replace('T', ' ').slice(0, 16)}`}  ${l.droppable ? 'released, releasable now' : l.released ? 'released by its origin, still locked' : 'kept'}`))
  }
  const banned = Object.entries(s.penalties).filter(([, r]) => r.banned)
  if (banned.length > 0) lines.push('banned peers:', ...banned.map(([p, r]) => `  ${p} (${counted(r.offences, 'offence')}, last: ${r.last ?? '?'})`))
  return lines.join('\n')
}
