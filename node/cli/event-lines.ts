// What the daemons (`cairn serve`, `cairn mesh run`) print while they run: operator lines ("listening
// on …") and the mesh's events. A person who started one in a terminal reads sentences; a service
// manager, a pipe or `--json` gets one JSON object per line ({ time, event, … } or { time, message }).
import { bytes, counted } from './format.ts'

export interface EventLines {
  /** True when lines are JSON. */
  readonly json: boolean
  /** An operator line. */
  say: (message: string) => void
  /** A mesh event, as bootstrap/ logs it: `{ event, …fields }`. */
  event: (e: Record<string, unknown>) => void
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

const short = (id: unknown): string => typeof id === 'string' && id.length > 16 ? `${id.slice(0, 12)}…` : String(id)
const site = (e: Record<string, unknown>): string => typeof e.site === 'string' ? e.site : short(e.peer)
const errorText = (err: unknown): string => {
  const x = err as { name?: string, message?: string } | undefined
  return x?.message ?? String(err)
}

/** One sentence for a mesh event; events not listed here print their name and fields. */
export function describeEvent (e: Record<string, unknown>): string {
  switch (e.event) {
    case 'invitation-created': return `invitation ${String(e.id)} created, valid until ${String(e.expires)}`
    case 'member-joined': return `${site(e)} joined the mesh as ${String(e.role)}`
    case 'membership-adopted': {
      const removed = Array.isArray(e.removed) && e.removed.length > 0 ? `; removed: ${e.removed.join(', ')}` : ''
      return `member list version ${String(e.version)} adopted${removed}`
    }
    case 'replicated':
      return `replicated to ${site(e)}: ${counted(Number(e.blocksSent), 'block')} (${bytes(Number(e.bytesSent))}), ${counted(Number(e.rootsAdded), 'new snapshot')}`
    case 'replication-waiting': return `${site(e)} is not reachable yet (not started, or down); replication to it starts when it connects`
    case 'replication-failed': return `replication to ${site(e)} failed: ${errorText(e.error)}`
    case 'root-received': return `snapshot ${short(e.cid)} received from ${short(e.peer)}`
    case 'peer-banned': return `${short(e.peer)} banned for 10 minutes after ${counted(Number(e.offences), 'offence')}`
    case 'bad-block': return `${short(e.peer)} sent a block that does not match its CID ${short(e.cid)}`
    case 'protocol-error': return `${short(e.peer)} broke the chunk protocol: ${String(e.reason)}`
    case 'refused-peer': return `refused ${short(e.peer)}: not a member`
    case 'gater-denied': return `refused a connection from ${short(e.peer)}: not a member`
    case 'cut-off': return `cut off ${short(e.peer)}: removed from the mesh`
    case 'membership-rejected': return `ignored a member list from ${short(e.peer)}: ${String(e.reason)}`
    case 'membership-exchange-failed': return `could not exchange the member list with ${short(e.peer)}: ${String(e.reason)}`
    case 'policies-applied': return 'replication policies applied'
    default: {
      const { event, ...rest } = e
      const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ')
      return `${String(event)}${fields === '' ? '' : ` ${fields}`}`
    }
  }
}
