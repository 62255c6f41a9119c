#!/usr/bin/env node
// Runs the *.test.ts files under the source folders with node:test, each file in a process of its
// own with a time limit (Node 20 has no --test globs and no per-file timeout).
//
//   npm test [-- [--suite unit|processes|browser|slow] [FILTER...]]
//
// FILTER: substrings of test file paths; only those files run. A file names its suite in a comment
// among its first lines: `// test-suite: processes` (it starts `cairn` processes through the bin)
// or `// test-suite: browser` (headless Chromium); every other file is a unit test. `slow` is
// processes and browser together; no --suite runs every file. `// test-timeout: SECONDS` there
// replaces the suite's limit for that file. CAIRN_TEST_CONCURRENCY: files at once (default 2).
//
// Longest first: each file's last duration is kept in node_modules/.cache/cairn-test-times.json
// (outside git), and files start in order of it, so that a long file does not start last and
// leave one worker idle at the end; without it, the browser and process suites start first.
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
const folders = ['crypto', 'chunkstore', 'bootstrap', 'node', 'sim', 'console']
/** Seconds a file of each suite may run before it is killed (with every process it started). */
const LIMIT = { unit: 180, processes: 480, browser: 480 }
const SUITES = { unit: ['unit'], processes: ['processes'], browser: ['browser'], slow: ['processes', 'browser'] }

const args = process.argv.slice(2)
const suites = new Set()
const filters = []
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--suite') {
    const s = SUITES[args[++i]]
    if (s === undefined) { console.error(`--suite takes ${Object.keys(SUITES).join(', ')}`); process.exit(2) }
    for (const x of s) suites.add(x)
  } else filters.push(args[i])
}

function * walk (dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue
    const p = join(dir, e.name)
    if (e.isDirectory()) yield * walk(p)
    else if (e.name.endsWith('.test.ts')) yield p
  }
}

/** The suite and time limit a test file declares in its opening comment. */
function describe (file) {
  const head = readFileSync(join(root, file), 'utf8').split('\n').slice(0, 12).join('\n')
  const suite = /^\/\/ test-suite: (\w+)/m.exec(head)?.[1] ?? 'unit'
  if (LIMIT[suite] === undefined) throw new Error(`${file}: unknown test-suite ${suite}`)
  const seconds = Number(/^\/\/ test-timeout: (\d+)/m.exec(head)?.[1] ?? LIMIT[suite])
  return { file, suite, seconds }
}

const files = folders.flatMap(f => [...walk(join(root, f))])
  .map(f => relative(root, f))
  .filter(f => filters.length === 0 || filters.some(x => f.includes(x)))
  .sort()
  .map(describe)
  .filter(f => suites.size === 0 || suites.has(f.suite))
if (files.length === 0) {
  console.error('no test files matched')
  process.exit(1)
}

const timesFile = join(root, 'node_modules', '.cache', 'cairn-test-times.json')
const SUITE_GUESS = { browser: 40, processes: 25, unit: 5 }
let lastTimes = {}
try { lastTimes = JSON.parse(readFileSync(timesFile, 'utf8')) } catch {}
const expected = f => typeof lastTimes[f.file] === 'number' ? lastTimes[f.file] : SUITE_GUESS[f.suite]
files.sort((a, b) => expected(b) - expected(a) || (a.file < b.file ? -1 : 1))

const concurrency = Math.max(1, Number(process.env.CAIRN_TEST_CONCURRENCY ?? '2'))
const live = files.length === 1
const reporter = process.stdout.isTTY === true ? ['--test-reporter=spec'] : []
const children = new Set()
const results = []

/** Runs one file; its output is printed whole when it ends, so files running at once do not interleave. */
function run ({ file, suite, seconds }) {
  return new Promise(resolve => {
    const started = Date.now()
    // A group of its own, so a timeout ends the file's daemons and browsers with it.
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', ...reporter, file], { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(child)
    const out = []
    const take = (stream, to) => stream.on('data', d => { out.push(d); if (live) to.write(d) })
    take(child.stdout, process.stdout)
    take(child.stderr, process.stderr)
    let timedOut = false
    const timer = setTimeout(() => { timedOut = true; kill(child) }, seconds * 1000)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      children.delete(child)
      const text = Buffer.concat(out).toString()
      const secs = ((Date.now() - started) / 1000).toFixed(1)
      const verdict = timedOut ? `TIMED OUT after ${seconds} s` : code === 0 ? 'ok' : `FAILED (exit ${code ?? signal})`
      if (!live) process.stdout.write(`\n▶ ${file} [${suite}] ${verdict}, ${secs} s\n${text}`)
      results.push({ file, ok: code === 0 && !timedOut, verdict, counts: counts(text), secs: Number(secs) })
      resolve()
    })
  })
}

function kill (child) {
  try { process.kill(-child.pid, 'SIGKILL') } catch {}
}

/** The totals a file's reporter printed (TAP `# pass 3`, spec `ℹ pass 3`). */
function counts (text) {
  const c = {}
  for (const m of text.matchAll(/^[#ℹ] (tests|pass|fail|cancelled|skipped|todo) (\d+)$/gm)) c[m[1]] = Number(m[2])
  return c
}

/** Keeps this run's durations (beside those of files it did not run) for the next run's order. */
function saveTimes () {
  const times = { ...lastTimes }
  for (const r of results) times[r.file] = r.secs
  try {
    mkdirSync(dirname(timesFile), { recursive: true })
    writeFileSync(`${timesFile}.${process.pid}`, JSON.stringify(times, null, 1))
    renameSync(`${timesFile}.${process.pid}`, timesFile)
  } catch {} // a read-only checkout runs in the default order next time
}

process.on('SIGINT', () => { for (const c of children) kill(c); process.exit(130) })

const queue = [...files]
await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
  while (queue.length > 0) await run(queue.shift())
}))

saveTimes()

const total = { tests: 0, pass: 0, fail: 0, cancelled: 0, skipped: 0, todo: 0 }
for (const r of results) for (const k of Object.keys(total)) total[k] += r.counts[k] ?? 0
const failed = results.filter(r => !r.ok)
process.stdout.write(`\n${files.length} test files: ${files.length - failed.length} passed, ${failed.length} failed; ` +
  `tests ${total.tests}, pass ${total.pass}, fail ${total.fail}, cancelled ${total.cancelled}, skipped ${total.skipped}, todo ${total.todo}\n`)
for (const r of failed) process.stdout.write(`  ${r.file}: ${r.verdict}\n`)
process.exit(failed.length === 0 ? 0 : 1)
