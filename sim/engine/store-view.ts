// A site's store as the rest of the simulation sees it. Stores whose data sets, tasks and time
// zones are the same (a chain's branches made from one template) make the same backups at the
// same moments and keep and free the same blocks: one StoreModel does the work for all of them
// and each site's view copies what it shows — bytes written and stored, blocks, snapshots kept —
// when its own backup ends, so that between two twins' ends at one instant each shows its own
// state. A thousand-branch mesh has a few dozen distinct stores (issue 17, speed).
import { InternalError } from '../../crypto/index.ts'
import type { DatasetModel } from '../scenario.ts'
import type { BackupOutcome, SnapshotModel, StoreModel } from './store-model.ts'

/** The model behind a set of twin views, and the backups it made so far. */
export class SharedStore {
  private made = 0
  private last: { startMs: number, endMs: number, level: string, outcome: BackupOutcome } | null = null
  constructor (readonly model: StoreModel) {}

  /** The `n`-th backup (from 0): made now if this view is the first of its twins to get there. */
  backup (n: number, startMs: number, endMs: number, level: 'full' | 'incremental'): BackupOutcome {
    if (n === this.made) {
      this.last = { startMs, endMs, level, outcome: this.model.backup(startMs, endMs, level) }
      this.made++
    }
    const last = this.last
    // Twins cannot part ways (the same inputs give the same runs); if they did, the shared model would be wrong for one.
    if (n !== this.made - 1 || last === null || last.startMs !== startMs || last.endMs !== endMs || last.level !== level) {
      throw new InternalError(`twin stores parted: backup ${n} at ${startMs}–${endMs} (${level}); the shared model made ${this.made}`)
    }
    return last.outcome
  }
}

export class StoreView {
  readonly id: string
  /** Bytes written so far, blocks in the index, bytes the segments take, snapshots kept: as of this view's last backup. */
  written: number
  blocks: number
  physical: number
  kept: number
  private made = 0

  constructor (readonly site: string, readonly dataset: DatasetModel, private readonly shared: SharedStore) {
    this.id = `${site}/${dataset.name}`
    const m = shared.model
    this.written = m.written
    this.blocks = m.blocks
    this.physical = m.physical
    this.kept = m.kept
  }

  /** Every snapshot the shared model made (readers look only at those this view has written: `written` bounds them). */
  get snapshots (): readonly SnapshotModel[] { return this.shared.model.snapshots }
  get shape (): { groups: number, portions: number } { return this.shared.model.shape }

  logical (ms: number): number { return this.shared.model.logical(ms) }
  files (ms: number): number { return this.shared.model.files(ms) }
  plan (ms: number, level: 'full' | 'incremental'): ReturnType<StoreModel['plan']> { return this.shared.model.plan(ms, level) }
  liveBytes (): number { return this.shared.model.liveBytes() }

  backup (startMs: number, endMs: number, level: 'full' | 'incremental'): BackupOutcome {
    const outcome = this.shared.backup(this.made++, startMs, endMs, level)
    const m = this.shared.model
    this.written = m.written
    this.blocks = m.blocks
    this.physical = m.physical
    this.kept = m.kept
    return outcome
  }
}
