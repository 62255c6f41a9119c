// Replication over a WAN for `npm run bench -- --wan` (issue 21): two node processes that reach
// each other only through user-space WAN links (node/testing/wan-link.ts: a delay of RTT/2 and
// a rate cap per direction; this kernel has no netem), each announcing its link's address. The
// figure is the replication's throughput as a fraction of the link's rate: the target is 80 %
// at 150 ms and 200 Mbit/s, which a protocol with one block (or a small window) in flight per
// round trip cannot reach. A measurement, never a test.
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { homedir } from 'node:os'
import { parseArgs } from 'node:util'
import { makeRandomStore, startWanSites } from '../testing/index.ts'
import { measureRawStream } from './replication.ts'
import { PhaseFailedError, UsageError } from './errors.ts'

const MIB = 1024 * 1024

export interface WanBenchOptions {
  workDir: string
  rttMs: number
  mbit: number
  /** Size of the store replicated (random blocks). */
  totalMiB: number
  blockKiB: number
}

export interface WanBenchResult {
  rttMs: number
  mbit: number
  bytes: number
  blocks: number
  seconds: number
  mibps: number
  /** Payload throughput over the link's rate (bytes per second both ways are rate/8). */
  fractionOfLink: number
  /** Bytes the two links carried, both directions (payload, framing, noise, yamux, TCP payload of the other protocols). */
  linkBytes: number
  /** The most bytes one direction of a link held at once. */
  linkPeakHeldBytes: number
  /** A raw libp2p stream (TCP, noise, yamux; no Cairn protocol) through the same kind of link, right after: what the machine and the link allow. */
  rawMiBps: number
}

export async function measureWanReplication (o: WanBenchOptions): Promise<WanBenchResult> {
  rmSync(o.workDir, { recursive: true, force: true })
  mkdirSync(o.workDir, { recursive: true })
  const store = join(o.workDir, 'a-store')
  await makeRandomStore(store, o.totalMiB, o.blockKiB)
  const sites = await startWanSites({ base: o.workDir, sourceStore: store, rttMs: o.rttMs, bitsPerSecond: o.mbit * 1e6 })
  try {
    const [link] = await sites.a.node.control('replicate')
    if (link?.lastError !== undefined) throw new PhaseFailedError(`replication failed: ${String(link.lastError.message)}`)
    // The runs that moved the data (the first starts when B connects), timed inside the sender.
    const runs = sites.a.node.log().split('\n').filter(l => l.includes('"event":"replicated"')).map(l => JSON.parse(l))
    const seconds = runs.reduce((n, e) => n + e.durationMs, 0) / 1000
    const bytes = runs.reduce((n, e) => n + e.bytesSent, 0)
    const blocks = runs.reduce((n, e) => n + e.blocksSent, 0)
    const la = sites.a.link.stats()
    const lb = sites.b.link.stats()
    await sites.stop()
    const raw = await measureRawStream(Math.min(256, Math.round(bytes / MIB)), { rttMs: o.rttMs, bitsPerSecond: o.mbit * 1e6 })
    return {
      rawMiBps: raw.mibps,
      rttMs: o.rttMs, mbit: o.mbit, bytes, blocks, seconds,
      mibps: bytes / MIB / seconds,
      fractionOfLink: bytes / seconds / (o.mbit * 1e6 / 8),
      linkBytes: la.forwardBytes + la.backBytes + lb.forwardBytes + lb.backBytes,
      linkPeakHeldBytes: Math.max(la.peakHeldBytes, lb.peakHeldBytes)
    }
  } finally {
    await sites.stop()
    rmSync(o.workDir, { recursive: true, force: true })
  }
}

export function wanLine (r: WanBenchResult): string {
  return `replication over a ${r.rttMs} ms / ${r.mbit} Mbit/s link: ${r.mibps.toFixed(1)} MiB/s (${(r.bytes / MIB).toFixed(0)} MiB, ${r.blocks} blocks, ${r.seconds.toFixed(1)} s), ` +
    `${(100 * r.fractionOfLink).toFixed(0)} % of the link (target >= 80 %)${r.fractionOfLink >= 0.8 ? '' : '  MISS'}; ` +
    `a raw libp2p stream through the same link ${r.rawMiBps.toFixed(1)} MiB/s (${(100 * r.rawMiBps * MIB / (r.mbit * 1e6 / 8)).toFixed(0)} %; replication/raw ${(r.mibps / r.rawMiBps).toFixed(2)}); ` +
    `the links carried ${(r.linkBytes / MIB).toFixed(0)} MiB, held at most ${(r.linkPeakHeldBytes / MIB).toFixed(1)} MiB one way`
}

export const WAN_USAGE = `  --wan            only replication over a WAN link (user-space delay and rate cap), then stop:
                   --rtt MS (150), --mbit N (200), --mib N (512), --block-kib N (512), --repeat N (1), --json`

/** `npm run bench -- --wan [...]`: prints one line per run, or JSON. Exit code 1 when a run fails. */
export async function wanMain (argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      wan: { type: 'boolean' },
      rtt: { type: 'string', default: '150' },
      mbit: { type: 'string', default: '200' },
      mib: { type: 'string', default: '512' },
      'block-kib': { type: 'string', default: '512' },
      repeat: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false }
    },
    strict: true
  })
  const num = (name: string, v: string, min: number): number => {
    const n = Number(v)
    if (!Number.isFinite(n) || n < min) throw new UsageError(`--${name} takes a number of at least ${min}, not "${v}"`)
    return n
  }
  const opts = {
    rttMs: num('rtt', values.rtt, 0),
    mbit: num('mbit', values.mbit, 1),
    totalMiB: num('mib', values.mib, 1),
    blockKiB: num('block-kib', values['block-kib'], 1)
  }
  const repeat = num('repeat', values.repeat, 1)
  const workDir = join(process.env.CAIRN_BENCH_DIR ?? join(homedir(), '.cache', 'cairn-bench'), 'wan')
  const results: WanBenchResult[] = []
  for (let i = 0; i < repeat; i++) {
    const r = await measureWanReplication({ ...opts, workDir })
    results.push(r)
    if (!values.json) console.log(`run ${i + 1}: ${wanLine(r)}`)
  }
  if (values.json) console.log(JSON.stringify({ date: new Date().toISOString(), wan: results }, null, 2))
  return 0
}
