// What the daemons (`cairn serve`, `cairn mesh run`) print while they run: operator lines ("listening
// on …") and the mesh's events. A person who started one in a terminal reads sentences; a service
// manager, a pipe or `--json` gets one JSON object per line ({ time, event, … } or { time, message }).
import { bytes, counted } from './format.ts'
import type { NodeMeshEvent } from '../mesh/index.ts'

export interface EventLines {
  /** True when lines are JSON. */
  readonly json: boolean
  /** An operator line. */
  say: (message: string) => void
  /** A mesh event (bootstrap/mesh-events.ts and the node's own, NodeMeshEvent). */
  event: (e: NodeMeshEvent) => void
}

/** JSON when asked or when `stream` is not a terminal; sentences otherwise. */
export function eventLines (options: { json?: boolean, stream?: NodeJS.WriteStream } = {}): EventLines {
  const stream = options.stream ?? process.stderr
  const json = options.json === true || stream.isTTY !== true
  const write = (line: string): void => { stream.write(line + '\n') }
  const time = (): string => new Date().toISOString()
  if (json) {
    return {
      json,
      say: message => { write(JSON.stringify({ time: time(), message })) },
      event: e => { write(JSON.stringify({ time: time(), ...e })) }
    }
  }
  const clock = (): string => new Date().toTimeString().slice(0, 8)
  return {
    json,
    say: message => { write(`cairn: ${message}`) },
    event: e => { write(`${clock()} ${describeEvent(e)}`) }
  }
}

const short = (id: string): string => id.length > 16 ? `${id.slice(0, 12)}…` : id
const site = (e: { site?: string, peer: string }): string => e.site ?? short(e.peer)

/** An event's name and fields, for the events that have no sentence of their own. */
function fields (e: NodeMeshEvent): string {
  const { event, ...rest } = e
  const text = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ')
  return `${event}${text === '' ? '' : ` ${text}`}`
}

/** One sentence for a mesh event; an event without one prints its name and fields. */
export function describeEvent (e: NodeMeshEvent): string {
  switch (e.event) {
    case 'invitation-created': return `invitation ${e.id} created, valid until ${e.expires}`
    case 'member-joined': return `${site(e)} joined the mesh as ${e.role}`
    case 'member-addresses': return `the member list now tells other sites to dial ${site(e)} at ${e.addrs.join(', ')}`
    case 'membership-adopted': return `member list version ${e.version} adopted${e.removed.length > 0 ? `; removed: ${e.removed.join(', ')}` : ''}`
    case 'replicated':
      return `replicated to ${site(e)}: ${counted(e.blocksSent, 'block')} (${bytes(e.bytesSent)}), ${counted(e.rootsAdded, 'new snapshot')}`
    case 'replication-waiting': return `${site(e)} is not reachable yet (not started, or down); replication to it starts when it connects`
    case 'replication-failed': return `replication to ${site(e)} failed: ${e.error.message}`
    case 'root-received': return `snapshot ${short(e.cid)} received from ${short(e.peer)}`
    case 'peer-banned': return `${short(e.peer)} banned for 10 minutes after ${counted(e.offences, 'offence')}`
    case 'bad-block': return `${short(e.peer)} sent a block that does not match its CID ${short(e.cid)}`
    case 'protocol-error': return `${short(e.peer)} broke the chunk protocol: ${e.reason}`
    case 'refused-peer': return `refused ${short(e.peer)}: not a member`
    case 'gater-denied': return `refused a connection from ${short(e.peer)}: not a member`
    case 'cut-off': return `cut off ${short(e.peer)}: removed from the mesh`
    case 'membership-rejected': return `ignored a member list from ${short(e.peer)}: ${e.reason}`
    case 'membership-exchange-failed': return `could not exchange the member list with ${short(e.peer)}: ${e.reason}`
    case 'policies-applied': return 'replication policies applied'
    case 'release-received': return `release ${short(e.cid)} received from ${short(e.peer)}`
    case 'bad-signature': return `${short(e.peer)} sent a ${e.what} ${short(e.cid)} not signed by its origin`
    case 'quota-refused': return `refused a new snapshot of ${e.site}: its quota here is full (${bytes(e.held)} held + ${bytes(e.adding)} new > ${bytes(e.quota)})`
    case 'admin-release': return `lock on snapshot ${short(e.root)} of ${short(e.origin)} ended by an administrator's release: ${e.subject.replaceAll('\n', ', ')} (certificate ${e.fingerprint.slice(0, 23)}…), reason: ${e.reason}`
    case 'admin-release-refused': return `refused an administrator's release relayed by ${short(e.peer)}: ${e.reason}`
    case 'retention-gc': return e.dropped.length === 0
      ? `retention GC freed nothing: ${counted(e.blockedBy, 'snapshot')} without a manifest hold it back`
      : `retention GC dropped ${counted(e.dropped.length, 'released snapshot')} and freed ${counted(e.blocksFreed, 'block')} (${bytes(e.bytesFreed)})`
    case 'scrub-found': case 'scrub': case 'repair': case 'store-error': case 'space-store-unavailable': case 'member-report-failed': case 'manifests-not-written':
      return fields(e)
  }
}
