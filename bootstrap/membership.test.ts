// F9: the signed member list — golden sample, signature checks, version rules.
import test from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { generateKeyPair, generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { decodeMembership, encodeMembership, signMembership, withMember, withoutMember } from './membership.ts'
import { Roster } from './roster.ts'

const golden = readFileSync(new URL('./testdata/membership-v1.json', import.meta.url), 'utf8').trim()

test('F9 golden member list v1 decodes and verifies', async () => {
  const doc = await decodeMembership(golden)
  assert.equal(doc.mesh, '12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5')
  assert.equal(doc.version, 2)
  assert.deepEqual(doc.members.map(m => [m.site, m.role]), [['head-office', 'head'], ['dr-north', 'dr']])
  assert.equal(encodeMembership(doc), golden)
})

test('F9 signing the golden body again gives the same bytes (deterministic format)', async () => {
  const meshKey = await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(1))
  const doc = await decodeMembership(golden)
  assert.equal(encodeMembership(await signMembership(meshKey, doc)), golden)
})

test('F9 a tampered member list is rejected', async () => {
  const tampered = golden.replace('"role":"dr"', '"role":"head"')
  await assert.rejects(decodeMembership(tampered), { name: 'InvalidMembershipError' })
  const otherMesh = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  await assert.rejects(decodeMembership(golden, otherMesh), { name: 'InvalidMembershipError' })
  await assert.rejects(decodeMembership('{"format":"cairn-membership","v":2}'), { name: 'InvalidMembershipError' })
  await assert.rejects(decodeMembership('not json'), { name: 'InvalidMembershipError' })
})

test('F9 a list signed by another key is rejected even if it names this mesh', async () => {
  const doc = JSON.parse(golden)
  const impostor = await generateKeyPair('Ed25519')
  const forged = { ...doc, version: 3, sig: Buffer.from(await impostor.sign(new Uint8Array([1]))).toString('base64url') }
  await assert.rejects(decodeMembership(forged), { name: 'InvalidMembershipError' })
})

test('F9 roster adopts only newer verified lists and reports the change', async () => {
  const meshKey = await generateKeyPair('Ed25519')
  const mesh = peerIdFromPrivateKey(meshKey).toString()
  const a = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const b = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const v1 = { mesh, version: 1, issued: new Date().toISOString(), members: [{ peer: a, site: 'a', role: 'head' as const, addrs: [] }] }
  const roster = new Roster(await signMembership(meshKey, v1))
  const changes: number[] = []
  roster.onChange(doc => changes.push(doc.version))
  const v2 = withMember(v1, { peer: b, site: 'b', role: 'dr', addrs: [] })
  assert.equal(await roster.offer(await signMembership(meshKey, v2)), true)
  assert.equal(roster.isMember(b), true)
  assert.equal(await roster.offer(await signMembership(meshKey, v1)), false, 'an older version is ignored')
  const v3 = withoutMember(v2, 'b')
  assert.equal(await roster.offer(await signMembership(meshKey, v3)), true)
  assert.equal(roster.isMember(b), false)
  assert.deepEqual(changes, [2, 3])
})
