// The harness's figures, and the table docs/reliability.md shows.

export const KILL_OPS = ['backup', 'prune', 'forget', 'replication receive', 'restore'] as const
export type KillOp = typeof KILL_OPS[number]

export const FAULT_KINDS = ['data block', 'tree node', 'snapshot record', 'index .ldb', 'index .log', 'index MANIFEST', 'index CURRENT'] as const
export type FaultKind = typeof FAULT_KINDS[number]

export const DISK_OPS = ['backup', 'prune', 'replication receive'] as const
export type DiskOp = typeof DISK_OPS[number]

export interface KillFigures {
  kills: number
  /** `check --read-data` afterwards found nothing wrong. */
  checksPassed: number
  /** The newest snapshot restored byte for byte. */
  restoresIdentical: number
  /** Snapshots that existed, were not to be removed, and were gone afterwards. */
  snapshotsLost: number
  /** Files that came out of a restore with wrong bytes and no error (after the kill, or a killed restore's leftovers under a final name). */
  silentlyWrong: number
}

export interface FaultFigures {
  injected: number
  /** Named by `check --read-data` (exit 1 and the block, snapshot or index file in its output). */
  detected: number
  repairedFromSegments: number
  repairedFromPeer: number
  /** Data that existed only in the damaged bytes (no other copy anywhere): left out by `repair snapshots`. */
  lostNoCopy: number
  /** Data that existed elsewhere (the segments, a peer) and was still lost: must be 0. */
  lostWithCopy: number
  silentlyWrong: number
  /** A read-only command (snapshots, ls, check, restore) changed a byte of the store: must be 0. */
  readOnlyChanged: number
}

export interface DiskFigures { runs: number, namedDiskFull: number, storeReadable: number, workedAfterFreeing: number }

export interface CopyFigures { copies: number, openedDirectly: number, neededRepairIndex: number, checkedClean: number, restoredIdentical: number }

export interface Tally {
  seed: number
  kills: Record<KillOp, KillFigures>
  faults: Record<FaultKind, FaultFigures>
  disk: Record<DiskOp, DiskFigures>
  copy: CopyFigures
  /** What went wrong, one line each (empty when every figure is as it must be). */
  problems: string[]
}

export function newTally (seed: number): Tally {
  const kills = Object.fromEntries(KILL_OPS.map(o => [o, { kills: 0, checksPassed: 0, restoresIdentical: 0, snapshotsLost: 0, silentlyWrong: 0 }])) as Record<KillOp, KillFigures>
  const faults = Object.fromEntries(FAULT_KINDS.map(k => [k, { injected: 0, detected: 0, repairedFromSegments: 0, repairedFromPeer: 0, lostNoCopy: 0, lostWithCopy: 0, silentlyWrong: 0, readOnlyChanged: 0 }])) as Record<FaultKind, FaultFigures>
  const disk = Object.fromEntries(DISK_OPS.map(o => [o, { runs: 0, namedDiskFull: 0, storeReadable: 0, workedAfterFreeing: 0 }])) as Record<DiskOp, DiskFigures>
  return { seed, kills, faults, disk, copy: { copies: 0, openedDirectly: 0, neededRepairIndex: 0, checkedClean: 0, restoredIdentical: 0 }, problems: [] }
}

/** The figures that must be zero, or equal to what was done, for the run to pass. */
export function failures (t: Tally): string[] {
  const out = [...t.problems]
  for (const o of KILL_OPS) {
    const k = t.kills[o]
    if (k.snapshotsLost > 0) out.push(`${o}: ${k.snapshotsLost} intact snapshots lost`)
    if (k.silentlyWrong > 0) out.push(`${o}: ${k.silentlyWrong} files silently wrong`)
    if (k.checksPassed !== k.kills) out.push(`${o}: check failed after ${k.kills - k.checksPassed} kills`)
    if (k.restoresIdentical !== k.kills) out.push(`${o}: ${k.kills - k.restoresIdentical} restores differed`)
  }
  for (const kind of FAULT_KINDS) {
    const f = t.faults[kind]
    if (f.detected !== f.injected) out.push(`${kind}: ${f.injected - f.detected} faults not detected`)
    if (f.lostWithCopy > 0) out.push(`${kind}: ${f.lostWithCopy} lost although a copy existed`)
    if (f.silentlyWrong > 0) out.push(`${kind}: ${f.silentlyWrong} silently wrong`)
    if (f.readOnlyChanged > 0) out.push(`${kind}: a read-only command changed the store ${f.readOnlyChanged} times`)
  }
  for (const o of DISK_OPS) {
    const d = t.disk[o]
    if (d.namedDiskFull !== d.runs || d.workedAfterFreeing !== d.runs || d.storeReadable !== d.runs) out.push(`full disk during ${o}: ${JSON.stringify(d)}`)
  }
  const c = t.copy
  if (c.checkedClean !== c.copies || c.restoredIdentical !== c.copies) out.push(`copies during a backup: ${JSON.stringify(c)}`)
  return out
}

export function markdownTables (t: Tally): string {
  const lines: string[] = []
  lines.push('| kill -9 during | kills | `check --read-data` passed | newest snapshot restored identical | intact snapshots lost | files silently wrong |')
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: |')
  for (const o of KILL_OPS) { const k = t.kills[o]; lines.push(`| ${o} | ${k.kills} | ${k.checksPassed} | ${k.restoresIdentical} | ${k.snapshotsLost} | ${k.silentlyWrong} |`) }
  const total = KILL_OPS.reduce((n, o) => n + t.kills[o].kills, 0)
  lines.push(`| **all** | **${total}** | ${KILL_OPS.reduce((n, o) => n + t.kills[o].checksPassed, 0)} | ${KILL_OPS.reduce((n, o) => n + t.kills[o].restoresIdentical, 0)} | ${KILL_OPS.reduce((n, o) => n + t.kills[o].snapshotsLost, 0)} | ${KILL_OPS.reduce((n, o) => n + t.kills[o].silentlyWrong, 0)} |`)
  lines.push('')
  lines.push('| bit flipped in | injected | detected and named | repaired from the segments | repaired from a peer | lost, no copy anywhere | lost though a copy existed | silently wrong | read-only command changed the store |')
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const k of FAULT_KINDS) { const f = t.faults[k]; lines.push(`| ${k} | ${f.injected} | ${f.detected} | ${f.repairedFromSegments} | ${f.repairedFromPeer} | ${f.lostNoCopy} | ${f.lostWithCopy} | ${f.silentlyWrong} | ${f.readOnlyChanged} |`) }
  lines.push('')
  lines.push('| disk full during | runs | error names the full disk | store still readable | works once space is freed |')
  lines.push('| --- | ---: | ---: | ---: | ---: |')
  for (const o of DISK_OPS) { const d = t.disk[o]; lines.push(`| ${o} | ${d.runs} | ${d.namedDiskFull} | ${d.storeReadable} | ${d.workedAfterFreeing} |`) }
  lines.push('')
  const c = t.copy
  lines.push('| store copied during a backup | copies | opened as they were | needed `repair index` first | `check --read-data` clean | newest snapshot restored identical |')
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: |')
  lines.push(`| \`cp -a\` at a random moment | ${c.copies} | ${c.openedDirectly} | ${c.neededRepairIndex} | ${c.checkedClean} | ${c.restoredIdentical} |`)
  return lines.join('\n')
}
