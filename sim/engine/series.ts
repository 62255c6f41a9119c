// Time series of a run, kept at chart resolution: the engine samples every step (an hour by
// default) and folds the samples of a chart point into it as they come — the last value, the
// largest, or the mean — so years of hourly samples for a thousand sites never sit in memory.

export type Fold = 'last' | 'max' | 'mean'

/** Most points a chart series has; longer runs fold more steps into each point. */
export const MAX_POINTS = 1000

export interface SeriesMeta {
  chart: 'storage' | 'lag' | 'backup-windows' | 'link-utilisation'
  label: string
  site?: string
  line?: 'capacity' | 'window'
}

export class SeriesSet {
  readonly points: number
  readonly stepsPerPoint: number
  readonly meta: SeriesMeta[] = []
  private readonly values: Float64Array[] = []
  private readonly counts: Uint32Array[] = []
  private readonly folds: Fold[] = []

  constructor (steps: number) {
    this.stepsPerPoint = Math.max(1, Math.ceil(steps / MAX_POINTS))
    this.points = Math.max(1, Math.ceil(steps / this.stepsPerPoint))
  }

  add (meta: SeriesMeta, fold: Fold): number {
    this.meta.push(meta)
    this.values.push(new Float64Array(this.points).fill(NaN))
    this.counts.push(new Uint32Array(fold === 'mean' ? this.points : 0))
    this.folds.push(fold)
    return this.meta.length - 1
  }

  /** A sample of series `id` at step `step`. */
  record (id: number, step: number, value: number): void {
    const i = Math.min(this.points - 1, Math.floor(step / this.stepsPerPoint))
    const v = this.values[id]
    const old = v[i]
    switch (this.folds[id]) {
      case 'last': v[i] = value; break
      case 'max': v[i] = Number.isNaN(old) || value > old ? value : old; break
      case 'mean': v[i] = (Number.isNaN(old) ? 0 : old) + value; this.counts[id][i]++; break
    }
  }

  /** The points of series `id`; null where nothing was recorded. */
  data (id: number): Array<number | null> {
    const v = this.values[id]
    const c = this.counts[id]
    const out: Array<number | null> = new Array(this.points)
    for (let i = 0; i < this.points; i++) {
      const x = v[i]
      out[i] = Number.isNaN(x) ? null : this.folds[id] === 'mean' ? x / c[i] : x
    }
    return out
  }
}
