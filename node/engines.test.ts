// package.json's `engines.node` is a promise to users: every package `npm ci` installs (the
// lockfile's entries, other platforms' optional binaries included) must declare engines that
// cover the whole stated range, or `npm install` prints EBADENGINE and the promise is false.
// When a new release of a dependency raises its floor above the range, pin the newest release
// that still fits, or pin the transitive package in package.json's `overrides`. Today's overrides,
// each to the last major that still supports Node 20 with the same API for its users (drop
// them when Node 20 leaves the range):
//   cookie ^1 (cookie 2 wants Node 22; @fastify/cookie 11.1.x and light-my-request 6.8 call
//     parseCookie/stringifySetCookie, which cookie 1.1 has),
//   content-disposition ^2 (3 wants Node 22; @fastify/static calls create(), unchanged in 3),
//   p-retry ^7 (8 wants Node 22; libp2p's reconnect queue uses options 7 has).
import test from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

// semver ships no types; these are the two functions used here.
const semver = createRequire(import.meta.url)('semver') as {
  subset: (sub: string, dom: string) => boolean
  satisfies: (version: string, range: string) => boolean
}

const root = fileURLToPath(new URL('..', import.meta.url))
const readJson = (name: string): unknown => JSON.parse(readFileSync(root + name, 'utf8'))

interface LockEntry { version?: string, engines?: unknown }

/** Every locked package whose `engines.node` does not cover all of `stated`, as "path@version wants range". */
export function enginesNotCovered (stated: string, lockPackages: Record<string, LockEntry>): string[] {
  const bad: string[] = []
  for (const [path, entry] of Object.entries(lockPackages)) {
    if (path === '') continue
    const engines = entry.engines
    // An array or string `engines` is the old, never-enforced form: npm ignores it, so do we.
    if (typeof engines !== 'object' || engines === null || Array.isArray(engines)) continue
    const wants = (engines as Record<string, unknown>).node
    if (typeof wants !== 'string') continue
    if (!semver.subset(stated, wants)) bad.push(`${path}@${entry.version ?? '?'} wants node ${wants}`)
  }
  return bad
}

const stated = (readJson('package.json') as { engines: { node: string } }).engines.node
const lock = readJson('package-lock.json') as { packages: Record<string, LockEntry> }

test('every locked package supports the whole Node range package.json states', () => {
  assert.deepEqual(enginesNotCovered(stated, lock.packages), [])
  assert.deepEqual(lock.packages[''].engines, { node: stated }, 'package-lock.json is out of date: run npm install')
})

test('the stated range covers the Node running the tests and the LTS lines CI and users run', () => {
  assert.ok(semver.satisfies(process.versions.node, stated), `this Node ${process.version} is outside ${stated}`)
  for (const lts of ['20.20.2', '22.22.0', '24.11.0']) assert.ok(semver.satisfies(lts, stated), `${lts} is outside ${stated}`)
})

test('a package that raises its floor above the stated range is reported', () => {
  const packages = {
    '': { engines: { node: stated } },
    'node_modules/cookie': { version: '2.0.2', engines: { node: '>=22' } },
    'node_modules/vite': { version: '8.3.8', engines: { node: '^20.19.0 || >=22.12.0' } },
    'node_modules/old': { version: '1.0.0', engines: ['node >= 0.4'] }
  }
  assert.deepEqual(enginesNotCovered(stated, packages), ['node_modules/cookie@2.0.2 wants node >=22'])
  assert.deepEqual(enginesNotCovered('>=20.19', packages), [
    'node_modules/cookie@2.0.2 wants node >=22',
    'node_modules/vite@8.3.8 wants node ^20.19.0 || >=22.12.0'
  ])
})
