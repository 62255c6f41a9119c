#!/usr/bin/env node
// Runs every *.test.ts under the source folders with node:test (Node 20 has no --test globs).
// Usage: npm test [-- FILTER...]   FILTER: substrings of test file paths to run only those.
import { readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
const folders = ['crypto', 'chunkstore', 'bootstrap', 'node', 'sim', 'console']
const filters = process.argv.slice(2)

function * walk (dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue
    const p = join(dir, e.name)
    if (e.isDirectory()) yield * walk(p)
    else if (e.name.endsWith('.test.ts')) yield p
  }
}

const files = folders.flatMap(f => [...walk(join(root, f))])
  .map(f => relative(root, f))
  .filter(f => filters.length === 0 || filters.some(x => f.includes(x)))
  .sort()
if (files.length === 0) {
  console.error('no test files matched')
  process.exit(1)
}
const concurrency = process.env.CAIRN_TEST_CONCURRENCY ?? '2'
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files], {
  cwd: root, stdio: 'inherit'
})
process.exit(r.status ?? 1)
