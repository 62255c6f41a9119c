// F9: invitations are one pasteable string, expire, and name a one-time admission peer.
import test from 'node:test'
import assert from 'node:assert/strict'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { admissionKey, createInvitation, decodeInvitation, encodeInvitation } from './invitation.ts'
import { Roster } from './roster.ts'
import { decodeMembership } from './membership.ts'
import { readFileSync } from 'node:fs'

const mesh = '12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5'

test('F9 invitation round-trips as one line and its key matches the record', async () => {
  const now = new Date('2026-11-22T03:00:00Z')
  const { invitation, record } = await createInvitation({ mesh, addrs: ['/ip4/127.0.0.1/tcp/4001/p2p/' + mesh], ttlMs: 3600_000, now })
  const text = encodeInvitation(invitation)
  assert.match(text, /^cairn-invite-v1\.[A-Za-z0-9_-]+$/)
  const back = decodeInvitation(text, now)
  assert.deepEqual(back, invitation)
  assert.equal(peerIdFromPrivateKey(await admissionKey(back)).toString(), record.peer)
})

test('F9 expired, damaged and foreign strings are rejected', async () => {
  const now = new Date('2026-11-22T03:00:00Z')
  const { invitation } = await createInvitation({ mesh, addrs: [], ttlMs: 1000, now })
  const text = encodeInvitation(invitation)
  assert.throws(() => decodeInvitation(text, new Date(now.getTime() + 2000)), { name: 'InvitationExpiredError' })
  assert.throws(() => decodeInvitation(text.slice(0, -5), now), { name: 'InvalidInvitationError' })
  assert.throws(() => decodeInvitation('hello', now), { name: 'InvalidInvitationError' })
})

test('F9 the roster admits an admission peer only while its invitation is live and unused', async () => {
  let clock = Date.parse('2026-11-22T03:00:00Z')
  const roster = new Roster(await decodeMembership(readFileSync(new URL('./testdata/membership-v1.json', import.meta.url), 'utf8')), () => clock)
  const { record } = await createInvitation({ mesh, addrs: [], ttlMs: 60_000, now: new Date(clock) })
  roster.setInvitations([record])
  assert.equal(roster.isAdmissible(record.peer), true)
  assert.equal(roster.isMember(record.peer), false)
  clock += 61_000
  assert.equal(roster.isAdmissible(record.peer), false, 'expired')
  clock -= 61_000
  roster.setInvitations([{ ...record, used: true }])
  assert.equal(roster.isAdmissible(record.peer), false, 'used')
})
