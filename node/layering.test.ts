// The import arrows only point down (STYLE.md):
//   console ──HTTP──▶ node ──▶ bootstrap ──▶ chunkstore ──▶ crypto ;  sim ──▶ node | chunkstore | crypto
// and a folder is entered only through its index.ts. This reads every import line and fails on a wrong arrow.
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

export function importViolations (): string[] {
  const bad: string[] = []
  for (const top of Object.keys(allowed)) {
    for (const file of sources(join(root, top))) {
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
        if (targetTop === top || rel.startsWith('..')) continue
        // A test file is an entry point: it may import the one polyfill module first, from any layer.
        if (file.endsWith('.test.ts') && rel === join('node', 'polyfill.ts')) continue
        if (top === 'console' && targetTop === 'node' && typeOnly) continue
        if (!allowed[top].includes(targetTop)) {
          bad.push(`${where}: ${top} may not import ${targetTop}`)
        } else if (rel !== join(targetTop, 'index.ts') && rel !== targetTop) {
          bad.push(`${where}: enter ${targetTop}/ through its index.ts`)
        }
      }
    }
  }
  return bad
}

test('import arrows only point down and enter folders through index.ts', () => {
  assert.deepEqual(importViolations(), [])
})

test('every top-level folder has an index.ts that says what it is for', () => {
  for (const top of Object.keys(allowed)) {
    const text = readFileSync(join(root, top, 'index.ts'), 'utf8')
    assert.match(text, /^\/\/ \w+: /, `${top}/index.ts should open with a comment saying what it is for`)
  }
})
