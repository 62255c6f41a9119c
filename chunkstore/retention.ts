// The rules of forget and prune as pure functions (F18, F19): which snapshots a retention
// policy removes, and which value-log segments a prune rewrites or drops. The repository applies
// them to a store; the capacity-planning simulation (sim/) applies the same functions to its
// model of a store, so that both follow one rule.
import { InvalidOptionError } from './errors.ts'
import type { ForgetPolicy } from './types.ts'

/** What retention needs of a snapshot: its task and when it was made (ISO time). */
export interface RetainedSnapshot {
  task: string
  time: string
  /** `Date.parse(time)`, when the caller keeps it (the simulation asks after every backup). */
  timeMs?: number
}

/** Throws InvalidOptionError unless the policy says what to keep, with sensible numbers. */
export function checkForgetPolicy (policy: ForgetPolicy): void {
  if (policy.keepLast === undefined && policy.keepDays === undefined) throw new InvalidOptionError('Say what to keep: --keep-last N and/or --keep-days D.')
  if ((policy.keepLast !== undefined && !(policy.keepLast >= 1)) || (policy.keepDays !== undefined && !(policy.keepDays >= 0))) {
    throw new InvalidOptionError('--keep-last must be at least 1 and --keep-days at least 0.')
  }
}

/**
 * The snapshots `policy` removes from `snapshots` (oldest first, as a store lists them), at
 * `now`: per task, a snapshot stays if it is among the `keepLast` newest or at most `keepDays`
 * old; the newest snapshot of a task always stays (the last restorable copy). Only tasks named
 * by `policy.task` are looked at, when it is given.
 */
export function snapshotsToForget<S extends RetainedSnapshot> (snapshots: readonly S[], policy: ForgetPolicy, now: Date): S[] {
  const at = now.getTime()
  const byTask = new Map<string, S[]>()
  let last: S[] | undefined
  for (const s of snapshots) {
    if (policy.task !== undefined && s.task !== policy.task) continue
    // Runs of one task's snapshots (a store of one task is one run) need no lookup.
    let list = last !== undefined && last[0].task === s.task ? last : byTask.get(s.task)
    if (list === undefined) byTask.set(s.task, list = [])
    list.push(s)
    last = list
  }
  const removed: S[] = []
  for (const list of byTask.values()) {
    for (let i = 0; i < list.length; i++) {
      const s = list[list.length - 1 - i]
      if (i === 0) continue // the last restorable snapshot of a task is never removed
      if (policy.keepLast !== undefined && i < policy.keepLast) continue
      if (policy.keepDays !== undefined && at - (s.timeMs ?? Date.parse(s.time)) <= policy.keepDays * 86_400_000) continue
      removed.push(s)
    }
  }
  return removed
}

/** Live and dead bytes of one value-log segment, as prune's mark phase counts them. */
export interface SegmentUse {
  live: number
  dead: number
}

/** A sealed segment with more than this share of dead bytes is rewritten by prune. */
export const REWRITE_DEAD_SHARE = 0.1

/**
 * The segments a prune rewrites (some dead bytes, more than REWRITE_DEAD_SHARE of them, some
 * live: the live blocks move to the log's tail) and those it drops (nothing live). The segment
 * being appended to (`current`) is left alone.
 */
export function segmentsToReclaim<K> (segments: Iterable<readonly [K, SegmentUse]>, current: K | undefined): { rewrite: K[], drop: K[] } {
  const rewrite: K[] = []
  const drop: K[] = []
  for (const [seg, s] of segments) {
    if (seg === current) continue
    if (s.live === 0) drop.push(seg)
    else if (s.dead > 0 && s.dead / (s.live + s.dead) > REWRITE_DEAD_SHARE) rewrite.push(seg)
  }
  return { rewrite, drop }
}
