import type { ChallengeStore, IssuedChallenge } from '../../crypto/index.ts'
import type { StateStore } from '../state/index.ts'

interface Stored { challenge: IssuedChallenge, used: boolean }

/**
 * USB-key login challenges in the node's state, so a challenge stays single-use across a
 * restart. `take` runs under the state store's lock, which makes it atomic.
 */
export function levelChallengeStore (state: StateStore): ChallengeStore {
  const key = (nonce: string): string => `c:${nonce}`
  return {
    async put (challenge) {
      await state.put<Stored>('logins', key(challenge.nonce), { challenge, used: false })
    },
    async take (nonce) {
      return await state.exclusive(async () => {
        const s = await state.get<Stored>('logins', key(nonce))
        if (s === undefined) return { status: 'unknown' as const }
        if (s.used) return { status: 'used' as const }
        await state.put<Stored>('logins', key(nonce), { ...s, used: true })
        return { status: 'fresh' as const, challenge: s.challenge }
      })
    },
    async purgeExpired (now) {
      for (const s of await state.list<Stored>('logins', { prefix: 'c:' })) {
        // Used challenges are kept one extra lifetime so a late replay still reads "used".
        if (s.challenge.expiresAt + (s.challenge.expiresAt - s.challenge.issuedAt) < now) await state.del('logins', key(s.challenge.nonce))
      }
    }
  }
}
