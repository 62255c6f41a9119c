// Loads Cairn's TypeScript without a build step the user has to run. The sources are bundled
// with esbuild (the engine tsx itself uses) into node_modules/.cache/cairn/<fingerprint>/ on
// first use after any source change; later runs load plain JavaScript. That keeps loader hooks
// (a thread and ~20 MB per isolate under tsx) out of the CLI and its worker threads. If the
// cache folder is not writable, it falls back to tsx.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
const SOURCES = ['node', 'chunkstore', 'crypto', 'bootstrap', 'sim']
// The program is the CLI plus the parts node does not import (node/layering.test.ts): the
// capacity planner's entry (sim/entry.ts) is loaded here and handed to the CLI's main. This
// launcher is the one place that wires them together.
const ENTRIES = { cli: 'node/cli/entry.ts', sim: 'sim/entry.ts', worker: 'chunkstore/data-worker.ts' }

function fingerprint () {
  const h = createHash('sha256')
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name < b.name ? -1 : 1)) {
      if (e.name === 'node_modules' || e.name.startsWith('.')) continue
      const p = join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.name.endsWith('.ts') || e.name.endsWith('.json')) { const s = statSync(p); h.update(`${p}\0${s.size}\0${s.mtimeMs}\n`) }
    }
  }
  for (const d of SOURCES) if (existsSync(join(root, d))) walk(join(root, d))
  h.update(process.version)
  return h.digest('hex').slice(0, 16)
}

async function bundle () {
  const base = join(root, 'node_modules', '.cache', 'cairn')
  const dir = join(base, fingerprint())
  if (existsSync(join(dir, 'cli.mjs'))) { touch(dir); return dir }
  const { build } = await import('esbuild')
  const tmp = `${dir}.tmp-${process.pid}`
  mkdirSync(tmp, { recursive: true })
  try {
    await build({
    entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([k, v]) => [k, join(root, v)])),
    outdir: tmp,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    logLevel: 'error'
    })
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true })
    throw err
  }
  try { renameSync(tmp, dir) } catch { rmSync(tmp, { recursive: true, force: true }) } // another process won the race
  // Bundles of older sources go once nothing has started from them for a week: a process still
  // running from one (a daemon started before the sources changed) loads its modules lazily.
  for (const old of readdirSync(base)) {
    const p = join(base, old)
    if (p === dir) continue
    // A build in progress is a .tmp- folder; one a killed build left is removed after an hour.
    try { if (Date.now() - statSync(p).mtimeMs > (old.includes('.tmp-') ? 3600_000 : STALE_MS)) rmSync(p, { recursive: true, force: true }) } catch {}
  }
  return dir
}

const STALE_MS = 7 * 24 * 3600 * 1000

/** Marks a bundle as used now (its folder's time), so it is not removed as stale. */
function touch (dir) {
  try { const now = new Date(); utimesSync(dir, now, now) } catch {}
}

/**
 * Imports the CLI module and its extensions (the capacity planner), bundled when possible; tells
 * the data path where its worker is. Returns the CLI's main and the extensions to hand it.
 */
export async function loadCli () {
  globalThis[Symbol.for('cairn.root')] = root
  if (process.env.CAIRN_NO_BUNDLE !== '1') {
    let dir
    try { dir = await bundle() } catch { dir = undefined }
    if (dir !== undefined) {
      globalThis[Symbol.for('cairn.workerEntry')] = pathToFileURL(join(dir, 'worker.mjs'))
      // The CLI first: its entry loads the polyfill before anything of libp2p's.
      const cli = await import(pathToFileURL(join(dir, 'cli.mjs')).href)
      const sim = await import(pathToFileURL(join(dir, 'sim.mjs')).href)
      return { main: cli.main, extensions: [sim.extension] }
    }
  }
  const { register } = await import('tsx/esm/api')
  register()
  const cli = await import('../cli/entry.ts')
  const sim = await import('../../sim/entry.ts')
  return { main: cli.main, extensions: [sim.extension] }
}
