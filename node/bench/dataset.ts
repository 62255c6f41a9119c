// The data the tools back up, built once and cached: day 1 (the reference data set) and
// day 2 (a copy of day 1 with a small, deterministic change set applied).
// A marker file beside each folder records the recipe it was built from; a folder whose
// marker is missing or names another recipe is rebuilt.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { run } from './command.ts'
import { buildQuickDay1, mutateQuickDay2, QUICK_RECIPE } from './quick-dataset.ts'

export interface DataSetInit {
  /** Cache folder; the quick data set lives in its `quick/` subfolder. */
  dir: string
  /** Folder holding make-dataset.sh and mutate-day2.py. */
  scriptsDir: string
  quick: boolean
  log: (line: string) => void
}

export interface DataSet {
  kind: 'full' | 'quick'
  /** Folder holding day1/, day2/ and the per-run work folders. */
  root: string
  day1: string
  day2: string
  files: number
  bytes: number
}

interface Marker {
  recipe: string
  built: string
  buildSeconds: number
  output: string
}

export async function prepareDataSet (init: DataSetInit): Promise<DataSet> {
  const root = init.quick ? join(init.dir, 'quick') : init.dir
  mkdirSync(root, { recursive: true })
  const day1 = join(root, 'day1')
  const day2 = join(root, 'day2')
  const makeScript = join(init.scriptsDir, 'make-dataset.sh')
  const mutateScript = join(init.scriptsDir, 'mutate-day2.py')

  const day1Recipe = init.quick ? QUICK_RECIPE : `make-dataset.sh ${fileHash(makeScript)}`
  const day1Marker = await ensureBuilt(day1, day1Recipe, init.log, async (target) => {
    if (init.quick) return await buildQuickDay1(target)
    const r = await run({ argv: ['bash', makeScript, target] })
    return r.stdout.trim()
  })

  // day 2 depends on the exact day 1 it was copied from, hence day 1's build time in its recipe
  const day2Recipe = `${init.quick ? QUICK_RECIPE : `mutate-day2.py ${fileHash(mutateScript)}`} from day1 built ${day1Marker.built}`
  await ensureBuilt(day2, day2Recipe, init.log, async (target) => {
    await run({ argv: ['cp', '-a', day1, target] })
    if (init.quick) return mutateQuickDay2(target)
    const r = await run({ argv: ['python3', mutateScript, target] })
    return r.stdout.trim()
  })

  const { files, bytes } = await countFiles(day1)
  init.log(`data set (${init.quick ? 'quick' : 'full'}): ${day1} — ${files} files, ${(bytes / 2 ** 20).toFixed(0)} MiB; day 2: ${day2}`)
  return { kind: init.quick ? 'quick' : 'full', root, day1, day2, files, bytes }
}

async function ensureBuilt (
  target: string,
  recipe: string,
  log: (line: string) => void,
  build: (target: string) => Promise<string>
): Promise<Marker> {
  const markerPath = `${target}.done`
  const existing = readMarker(markerPath)
  if (existing !== null && existing.recipe === recipe && existsSync(target)) {
    log(`reusing ${target} (built ${existing.built})`)
    return existing
  }
  log(`building ${target} (${recipe}) — this takes a while the first time`)
  // build beside the target and rename, so an interrupted build never looks finished
  const tmp = `${target}.tmp`
  rmSync(markerPath, { force: true })
  rmSync(tmp, { recursive: true, force: true })
  rmSync(target, { recursive: true, force: true })
  const started = Date.now()
  const output = await build(tmp)
  await run({ argv: ['sync'] })
  renameSync(tmp, target)
  const marker: Marker = { recipe, built: new Date().toISOString(), buildSeconds: (Date.now() - started) / 1000, output }
  writeFileSync(markerPath, JSON.stringify(marker, null, 2) + '\n')
  log(`built ${target} in ${marker.buildSeconds.toFixed(0)} s${output === '' ? '' : `: ${output.replace(/\n/g, '; ')}`}`)
  return marker
}

function readMarker (path: string): Marker | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Marker
  } catch {
    return null
  }
}

function fileHash (path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16)
}

async function countFiles (dir: string): Promise<{ files: number, bytes: number }> {
  const r = await run({ argv: ['find', dir, '-type', 'f', '-printf', '%s\\n'] })
  let files = 0
  let bytes = 0
  for (const line of r.stdout.split('\n')) {
    if (line === '') continue
    files++
    bytes += Number(line)
  }
  return { files, bytes }
}
