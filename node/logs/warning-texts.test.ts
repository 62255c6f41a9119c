// Every warning sentence chunkstore writes (read from its sources) has a code the console words;
// check errors and drill mismatches keep their parts as parameters.
import test from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { checkErrorSaid, mismatchSaid, warningSaid } from './warning-texts.ts'

/** The template literals chunkstore gives as warnings: `warn(…)`, `warnings.push(…)`, `warning = …`, `warning: …`. */
function warningTemplates (): string[] {
  const dir = new URL('../../chunkstore/', import.meta.url)
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.ts') || name.endsWith('.test.ts')) continue
    for (const line of readFileSync(new URL(name, dir), 'utf8').split('\n')) {
      if (!/\bwarn\(|warnings\.push\(|\bwarning = |\bwarning: `/.test(line)) continue
      // Each template literal on the line, its ${…} parts as a sample value.
      for (const m of line.matchAll(/`((?:[^`$]|\$\{(?:[^{}]|\{[^{}]*\})*\}|\$)*)`/g)) out.push(m[1].replace(/\$\{(?:[^{}]|\{[^{}]*\})*\}/g, '7'))
    }
  }
  return out
}

test('every warning chunkstore writes has a code of its own, with the path as a parameter', () => {
  const templates = warningTemplates()
  assert.ok(templates.length >= 15, `the warnings were found (${templates.length})`)
  const unknown = templates.filter(t => warningSaid(t).code === 'WARNING_AS_WRITTEN')
  assert.deepEqual(unknown, [], 'warnings no pattern in warning-texts.ts matches')
  assert.deepEqual(warningSaid('/srv/a: b/c.txt: vanished before it could be read; not in this snapshot'), { code: 'WARN_VANISHED', params: { path: '/srv/a: b/c.txt' } })
  assert.deepEqual(warningSaid('/x: extended attribute user.k not restored (EPERM)'), { code: 'WARN_XATTR_NOT_RESTORED', params: { path: '/x', name: 'user.k', reason: 'EPERM' } })
  assert.deepEqual(warningSaid('something a later node says'), { code: 'WARNING_AS_WRITTEN', params: { message: 'something a later node says' } })
})

test('check errors and drill mismatches are said by code with their parts', () => {
  assert.deepEqual(checkErrorSaid('/docs/a.txt: block bafkrei123 is missing'), { code: 'CHECK_BLOCK_MISSING', params: { where: '/docs/a.txt', cid: 'bafkrei123' } })
  assert.deepEqual(checkErrorSaid('/d: tree node bafk1: bytes do not match its address'), { code: 'CHECK_NODE_MISMATCH', params: { where: '/d', cid: 'bafk1' } })
  assert.deepEqual(checkErrorSaid('/f: 10 bytes, expected 12'), { code: 'CHECK_BLOCK_SIZE', params: { where: '/f', got: '10', expected: '12' } })
  assert.deepEqual(mismatchSaid('/a/b: size 3, snapshot says 4'), { code: 'DRILL_SIZE_DIFFERS', params: { path: '/a/b', got: '3', expected: '4' } })
  assert.deepEqual(mismatchSaid('/a/b: missing after restore'), { code: 'DRILL_MISSING', params: { path: '/a/b' } })
})
