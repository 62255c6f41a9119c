import { ZxcvbnFactory } from '@zxcvbn-ts/core'
import * as common from '@zxcvbn-ts/language-common'

let estimator: ZxcvbnFactory | undefined
/** zxcvbn-ts with its common dictionaries: passwords from breach corpora, names, words; built on first use. */
const zxcvbn = (): ZxcvbnFactory => (estimator ??= new ZxcvbnFactory({ dictionary: { ...common.dictionary }, graphs: common.adjacencyGraphs }))

/** zxcvbn's score 3: about 10^8 guesses, what it calls safe against an offline attack on a slow hash. */
export const MIN_PASSWORD_SCORE = 3

/**
 * ASVS 2.1: at least 12 characters, at most 128; not the user's name (2.1.7 asks for context
 * words too), and not a common or breached password nor one guessable from them (2.1.7): the
 * common-password lists, words, keyboard walks, repeats and dates of zxcvbn-ts, which runs here
 * with no network.
 */
export function passwordProblem (password: string, userName?: string): string | undefined {
  if (password.length < 12) return 'use at least 12 characters'
  if (password.length > 128) return 'use at most 128 characters'
  if (new Set(password).size < 4) return 'use more different characters'
  const lower = password.toLowerCase()
  if (userName !== undefined && userName.length >= 3 && lower.includes(userName.toLowerCase())) return 'it contains the user name; choose a password that does not'
  const r = zxcvbn().check(password, ['cairn', ...(userName !== undefined ? [userName] : [])])
  if (r.score < MIN_PASSWORD_SCORE) {
    const common = r.sequence.some(s => s.pattern === 'dictionary' && String((s as { dictionaryName?: string }).dictionaryName).startsWith('passwords'))
    return common
      ? 'it is among the common or breached passwords attackers try first; use a longer passphrase of unrelated words'
      : 'it is too easy to guess (repeats, sequences, keyboard patterns or common words); use a longer passphrase of unrelated words'
  }
  return undefined
}
