// The conventions of doc/design.md "Conventions", checked over the whole code base: every error
// class extends CairnError with a stable, unique code that has an HTTP status and a row in
// doc/api.md "Errors"; production code throws no bare Error and never tests an error by its name.
import test from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as crypto from '../crypto/index.ts'
import * as chunkstore from '../chunkstore/index.ts'
import * as bootstrap from '../bootstrap/index.ts'
import * as state from './state/index.ts'
import * as api from './api/index.ts'
import * as auth from './auth/index.ts'
import * as inventory from './inventory/index.ts'
import * as jobs from './jobs/index.ts'
import * as notify from './notify/index.ts'
import * as daemon from './daemon/index.ts'
import * as mesh from './mesh/index.ts'
import * as control from './control/index.ts'
import * as holder from './holder/index.ts'
import * as cli from './cli/index.ts'
import * as bench from './bench/index.ts'
import * as faults from './faults/index.ts'
import * as logs from './logs/index.ts'
import * as metrics from './metrics/index.ts'
import * as clock from './clock/index.ts'
import * as archive from './archive/index.ts'
import * as root from './errors.ts'
// The capacity planner's errors too (node/layering.test.ts allows this one import of sim).
import * as sim from '../sim/index.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const { CairnError } = crypto
type ErrorClass = (abstract new (...args: any[]) => crypto.CairnError) & { code: string }

/** Every error class the modules export (each once, wherever it is re-exported). */
function errorClasses (): Array<{ cls: ErrorClass, from: string }> {
  const modules = { crypto, chunkstore, bootstrap, state, api, auth, inventory, jobs, notify, daemon, mesh, control, holder, cli, bench, faults, logs, metrics, clock, archive, root, sim }
  const seen = new Map<unknown, string>()
  for (const [from, m] of Object.entries(modules)) {
    for (const v of Object.values(m)) {
      if (typeof v === 'function' && v.prototype instanceof CairnError && !seen.has(v)) seen.set(v, from)
    }
  }
  return [...seen].map(([cls, from]) => ({ cls: cls as ErrorClass, from }))
}

test('every exported error class has its own stable code, and no two share one', () => {
  const byCode = new Map<string, string>()
  for (const { cls, from } of errorClasses()) {
    assert.ok(Object.hasOwn(cls, 'code'), `${from}: ${cls.name} sets no code of its own`)
    assert.match(cls.code, /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/, `${cls.name}'s code`)
    assert.equal(byCode.get(cls.code), undefined, `${cls.name} and ${byCode.get(cls.code)} share the code ${cls.code}`)
    byCode.set(cls.code, cls.name)
  }
  assert.ok(byCode.size > 90, 'the classes were found')
})

test('every error code has an HTTP status, and every status is for a code that exists', () => {
  const codes = new Set(errorClasses().map(e => e.cls.code))
  for (const code of codes) assert.ok(api.HTTP_STATUS_OF_CODE.has(code), `${code} has no HTTP status (node/api/error-status.ts)`)
  for (const code of api.HTTP_STATUS_OF_CODE.keys()) assert.ok(codes.has(code), `error-status.ts gives a status to ${code}, which no class has`)
})

test('doc/api.md "Errors" lists every code once, with its status and class name', () => {
  const doc = readFileSync(join(ROOT, 'doc', 'api.md'), 'utf8')
  const rows = [...doc.matchAll(/^\| `([A-Z0-9_]+)` \| (\d{3}) \| `(\w+)` \|/gm)].map(m => ({ code: m[1], status: Number(m[2]), name: m[3] }))
  const documented = new Map(rows.map(r => [r.code, r]))
  assert.equal(documented.size, rows.length, 'a code is listed twice')
  const classes = errorClasses()
  for (const { cls } of classes) {
    const row = documented.get(cls.code)
    assert.ok(row !== undefined, `doc/api.md does not list ${cls.code}`)
    assert.equal(row.status, api.HTTP_STATUS_OF_CODE.get(cls.code), `doc/api.md's status of ${cls.code}`)
    assert.equal(row.name, cls.name, `doc/api.md's class of ${cls.code}`)
  }
  assert.equal(rows.length, classes.length, 'doc/api.md lists codes no class has')
})

test('an error carries its class\'s code and params, and errorRecord gives what the API sends', () => {
  const e = new chunkstore.SnapshotNotFoundError('abc')
  assert.equal(e.code, chunkstore.SnapshotNotFoundError.code)
  assert.deepEqual(crypto.errorRecord(e), { name: 'SnapshotNotFoundError', code: 'SNAPSHOT_NOT_FOUND', message: e.message, params: { ref: 'abc' } })
  assert.deepEqual(crypto.errorRecord(new TypeError('x')), { name: 'TypeError', code: 'INTERNAL', message: 'x' })
  assert.equal(api.httpStatusOf(e), 404)
  assert.equal(api.httpStatusOf(new TypeError('x')), 500)
})

/** Production code: every .ts (and the console's .vue) under the layers, without tests, test helpers and test data. */
function * productionSources (dir = ROOT): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (['node_modules', 'dist', 'testing', 'testdata'].includes(e.name) || e.name.startsWith('.')) continue
    const p = join(dir, e.name)
    if (e.isDirectory()) yield * productionSources(p)
    else if (/\.(ts|vue)$/.test(e.name) && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts') && !relative(ROOT, p).startsWith(join('console', 'vite'))) yield p
  }
}

const lines = (): Array<{ where: string, text: string }> => [...productionSources()].flatMap(file =>
  readFileSync(file, 'utf8').split('\n').map((text, i) => ({ where: `${relative(ROOT, file)}:${i + 1}`, text })))

test('production code throws no bare Error: each condition has its class', () => {
  const bare = lines().filter(l => /\bnew Error\(/.test(l.text) && !/^\s*(\/\/|\*)/.test(l.text))
  assert.deepEqual(bare.map(l => `${l.where}: ${l.text.trim()}`), [])
})

test('production code tests errors with instanceof or by code, never by name', () => {
  // The console names two errors of its own making (errors it raises itself, api.ts).
  const named = (text: string): boolean => /^\s*override readonly name = '[A-Za-z]+Error'$/.test(text) || /new ApiCallError\(\d+, \{ name: '\w+Error', code: '[A-Z_]+'/.test(text) || /\{ name: 'HttpError', code: 'HTTP_ERROR'/.test(text)
  const byName = lines().filter(l => /'[A-Z][A-Za-z]*Error'/.test(l.text) && !named(l.text) && !/^\s*(\/\/|\*)/.test(l.text))
  assert.deepEqual(byName.map(l => `${l.where}: ${l.text.trim()}`), [])
})

test('error classes live in their folder\'s errors.ts', () => {
  const elsewhere = lines().filter(l => /\bclass \w+ extends \w*Error\b/.test(l.text) && !l.where.split(':')[0].endsWith(`${sep}errors.ts`) && !l.where.startsWith('errors.ts'))
  assert.deepEqual(elsewhere.map(l => l.where), [])
})

test('a stopped operation ends with OperationAbortedError, never with the raw abort reason', () => {
  // crypto/operation.ts's throwIfAborted and abortable wrap the reason as the error's cause.
  const raw = lines().filter(l => /\.throwIfAborted\(\)|throw [\w.?]*signal\??\.reason|reject\([\w.?]*signal\??\.reason\)/.test(l.text))
  assert.deepEqual(raw.map(l => `${l.where}: ${l.text.trim()}`), [])
  const otherAborts = errorClasses().filter(e => /Abort/.test(e.cls.name) && e.cls !== crypto.OperationAbortedError)
  assert.deepEqual(otherAborts.map(e => e.cls.name), [])
})

test('services are interfaces with their contract, made by factories; none is typed as what its factory returns', () => {
  const inferred = lines().filter(l => /ReturnType<typeof create\w+>/.test(l.text))
  assert.deepEqual(inferred.map(l => `${l.where}: ${l.text.trim()}`), [])
})
