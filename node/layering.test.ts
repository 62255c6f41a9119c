// The import arrows only point down (STYLE.md):
//   console ──HTTP──▶ node ──▶ bootstrap ──▶ chunkstore ──▶ crypto ;  sim ──▶ node | chunkstore | crypto
// and a folder is entered only through its index.ts. Test helpers live in `testing/` folders,
// entered through `testing/index.ts`, and only test code reaches them. This reads every import
// line and fails on a wrong arrow.
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
        if (targetTop === top) continue
        // A test file is an entry point: it may import the one polyfill module first, from any layer.
        if (file.endsWith('.test.ts') && rel === join('node', 'polyfill.ts')) continue
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
