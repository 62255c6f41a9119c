// The import arrows only point down (STYLE.md):
//   console ──HTTP──▶ node ──▶ bootstrap ──▶ chunkstore ──▶ crypto ;  sim ──▶ node | chunkstore | crypto
// and inside node, from the top down (NODE_ORDER):
//   bench, faults ▶ cli ▶ daemon ▶ api ▶ mesh ▶ jobs ▶ notify ▶ inventory ▶ auth ▶ holder ▶ control ▶ metrics ▶ logs ▶ state ▶ clock
// (a folder may import any folder below it, and node's own root modules). A folder is entered
// only through its index.ts. Test helpers live in `testing/` folders, entered through
// `testing/index.ts`, and only test code reaches them. This reads every import line and fails
// on a wrong arrow.
import test from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, resolve, dirname, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const allowed: Record<string, string[]> = {
  crypto: [],
  chunkstore: ['crypto'],
  bootstrap: ['chunkstore', 'crypto'],
  node: ['bootstrap', 'chunkstore', 'crypto'],
  sim: ['node', 'chunkstore', 'crypto'],
  console: []
}

/** node's subfolders, lowest first: each may import those before it. `testing` (test helpers) may import any. */
export const NODE_ORDER = ['clock', 'state', 'logs', 'metrics', 'control', 'holder', 'auth', 'inventory', 'archive', 'notify', 'jobs', 'mesh', 'api', 'daemon', 'cli', 'bench', 'faults']

function * sources (dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (['node_modules', 'dist', 'testdata'].includes(e.name) || e.name.startsWith('.')) continue
    const p = join(dir, e.name)
    if (e.isDirectory()) yield * sources(p)
    else if (/\.(ts|vue|js)$/.test(e.name)) yield p
  }
}

/** Test code: test files and the helpers in `testing/` folders. */
const isTestCode = (rel: string): boolean => rel.endsWith('.test.ts') || rel.split(sep).includes('testing')
const isTestingPath = (rel: string): boolean => rel.split(sep).includes('testing')
/** Production code that may use test helpers: the benchmarks drive node processes as the tests do. */
const mayUseTesting = (rel: string, target: string): boolean =>
  (rel.startsWith(join('node', 'bench') + sep) && target.startsWith(join('node', 'testing') + sep)) ||
  (rel.startsWith(join('sim', 'bench') + sep) && (target.startsWith(join('node', 'testing') + sep) || target.startsWith(join('sim', 'testing') + sep)))

/**
 * The two imports of sim from below, each the one of its kind: the launcher is the program's
 * composition root and loads sim's entry beside the CLI (the CLI gets it as an extension, the
 * daemon's API its planner); the conventions test checks every layer's error classes, sim's too.
 */
const reachesSim = (rel: string, target: string): boolean =>
  (rel === join('node', 'bin', 'launch.js') && target === join('sim', 'entry.ts')) ||
  (rel === join('node', 'conventions.test.ts') && target === join('sim', 'index.ts'))

export function importViolations (): string[] {
  const bad: string[] = []
  for (const top of Object.keys(allowed)) {
    for (const file of sources(join(root, top))) {
      const fromRel = relative(root, file)
      const testCode = isTestCode(fromRel)
      const text = readFileSync(file, 'utf8')
      const re = /^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm
      for (const m of text.matchAll(re)) {
        const spec = m[3] ?? m[4] ?? m[5]
        const typeOnly = Boolean(m[2])
        if (spec === undefined || !spec.startsWith('.')) continue
        const target = resolve(dirname(file), spec)
        const rel = relative(root, target)
        const targetTop = rel.split(sep)[0]
        const where = `${relative(root, file)} imports ${spec}`
        if (rel.startsWith('..')) continue
        if (isTestingPath(rel) && !testCode && !mayUseTesting(fromRel, rel)) {
          bad.push(`${where}: only test code may import test helpers (testing/)`)
          continue
        }
        if (targetTop === top) {
          if (top === 'node') { const v = nodeViolation(fromRel, rel, testCode); if (v !== undefined) bad.push(`${where}: ${v}`) }
          continue
        }
        // A test file is an entry point: it may import the one polyfill module first, from any layer;
        // so may the simulation's benchmark script (sim/bench/run.js, `npm run bench:sim`).
        if ((file.endsWith('.test.ts') || fromRel === join('sim', 'bench', 'run.js')) && rel === join('node', 'polyfill.ts')) continue
        if (top === 'console' && targetTop === 'node' && typeOnly) continue
        if (reachesSim(fromRel, rel)) continue
        const testingEntry = join(targetTop, 'testing', 'index.ts')
        // The browser tests start node processes as the tests of the node do.
        const consoleTestsStartNodes = top === 'console' && testCode && rel === join('node', 'testing', 'index.ts')
        if (!allowed[top].includes(targetTop) && !consoleTestsStartNodes) {
          bad.push(`${where}: ${top} may not import ${targetTop}`)
        } else if (rel !== join(targetTop, 'index.ts') && rel !== targetTop && !(testCode && rel === testingEntry)) {
          bad.push(`${where}: enter ${targetTop}/ through its index.ts${testCode ? ' (or its testing/index.ts)' : ''}`)
        }
      }
    }
  }
  return bad
}

/** The folder of a node module: its subfolder, or '' for node's own root modules. */
const nodeFolder = (rel: string): string => { const parts = rel.split(sep); return parts.length > 2 ? parts[1] : '' }

/** Why an import from one node module to another breaks the order, if it does. */
function nodeViolation (fromRel: string, rel: string, testCode: boolean): string | undefined {
  const from = nodeFolder(fromRel)
  const to = nodeFolder(rel)
  // node/bin holds the package's executables: each starts a process at its module's entry (cli/entry.ts).
  if (from === to || from === 'bin') return undefined
  // node/index.ts is the node's entry for the layer above it (sim): it re-exports from any folder.
  if (fromRel === join('node', 'index.ts')) return undefined
  const entry = join('node', to, 'index.ts')
  // node's root modules (project-root, polyfill, errors) are leaves every folder may use; the
  // node-wide tests beside them (this one, conventions) read every folder.
  if (to === '') return rel === join('node', 'index.ts') ? 'node/index.ts is the node\'s entry, not a module to import' : undefined
  if (rel !== entry) return `enter node/${to}/ through its index.ts`
  if (from === '' && testCode) return undefined
  if (from === 'testing' || (to === 'testing' && (testCode || from === 'bench'))) return undefined
  if (to === 'testing') return 'only test code may import test helpers (testing/)'
  const a = NODE_ORDER.indexOf(from)
  const b = NODE_ORDER.indexOf(to)
  if (a < 0) return `node/${from}/ is in no place of NODE_ORDER (node/layering.test.ts)`
  if (b < 0) return `node/${to}/ is in no place of NODE_ORDER (node/layering.test.ts)`
  return b < a ? undefined : `node/${from} may not import node/${to} (it is not below it)`
}

test('import arrows only point down and enter folders through index.ts', () => {
  assert.deepEqual(importViolations(), [])
})

test('nothing imports sim but the launcher and the conventions test, so the exemption stays that narrow', () => {
  const importers = new Set<string>()
  for (const top of Object.keys(allowed)) {
    if (top === 'sim') continue
    for (const file of sources(join(root, top))) {
      if (/['"][./]+\/sim\//.test(readFileSync(file, 'utf8'))) importers.add(relative(root, file))
    }
  }
  assert.deepEqual([...importers].sort(), [join('node', 'bin', 'launch.js'), join('node', 'conventions.test.ts')])
})

test('every top-level folder has an index.ts that says what it is for', () => {
  for (const top of Object.keys(allowed)) {
    const text = readFileSync(join(root, top, 'index.ts'), 'utf8')
    assert.match(text, /^\/\/ \w+: /, `${top}/index.ts should open with a comment saying what it is for`)
  }
})

test('every node subfolder has an index.ts that says what it is for', () => {
  for (const sub of [...NODE_ORDER, 'testing']) {
    const text = readFileSync(join(root, 'node', sub, 'index.ts'), 'utf8')
    assert.match(text, /^\/\/ [\w/]+: /, `node/${sub}/index.ts should open with a comment saying what it is for`)
  }
  const present = readdirSync(join(root, 'node'), { withFileTypes: true }).filter(e => e.isDirectory() && e.name !== 'bin').map(e => e.name).sort()
  assert.deepEqual(present, [...NODE_ORDER, 'testing'].sort(), 'every subfolder of node has its place in NODE_ORDER')
})
