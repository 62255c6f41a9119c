// F11: which members a policy sends copies to.
import test from 'node:test'
import assert from 'node:assert/strict'
import { selectTargets, targetsOf } from './policy.ts'
import type { Member } from './membership.ts'

const m = (peer: string, site: string, role: Member['role']): Member => ({ peer, site, role, addrs: [] })
const members = [m('A', 'head', 'head'), m('B', 'branch-1', 'branch'), m('C', 'branch-2', 'branch'), m('D', 'dr-north', 'dr')]

test('F11 "2 copies, one at a DR site" picks the DR member', () => {
  assert.deepEqual(selectTargets({ name: 'p', copies: 2, roles: ['dr'] }, members, 'A').map(x => x.peer), ['D'])
})

test('F11 copies count this site; extra copies fill in site-name order', () => {
  assert.deepEqual(selectTargets({ name: 'p', copies: 3, roles: ['dr'] }, members, 'A').map(x => x.peer), ['D', 'B'])
  assert.deepEqual(selectTargets({ name: 'p', copies: 1 }, members, 'A'), [])
  assert.deepEqual(selectTargets({ name: 'p', copies: 9 }, members, 'A').length, 3)
})

test('F11 sites restrict the targets; many policies share targets once', () => {
  assert.deepEqual(selectTargets({ name: 'p', copies: 3, sites: ['branch-2'] }, members, 'A').map(x => x.peer), ['C'])
  const t = targetsOf([{ name: 'x', copies: 2, roles: ['dr'] }, { name: 'y', copies: 3, roles: ['dr'] }], members, 'A')
  assert.deepEqual(t.map(x => x.member.peer), ['D', 'B'])
  assert.deepEqual(t.map(x => x.policies.map(p => p.name)), [['x', 'y'], ['y']], 'each target knows the policies that chose it')
})
