// The console's errors: an answer of the node that is not 2xx, and input a form refuses before
// it sends anything. Branch on an ApiCallError's `code` (doc/api.md "Errors"), never on its name
// or message.
import type { ApiError } from '../../node/api/dto.ts'
import { i18n } from './i18n.ts'

/** An answer of the API that is not 2xx: carries the API's `{ name, code, message, params? }`. */
export class ApiCallError extends Error {
  readonly code: string
  constructor (readonly status: number, readonly body: ApiError) {
    super(body.message)
    this.name = body.name
    this.code = body.code
  }
}

/** Input a form refuses before it calls the node; its message is already in the operator's language. */
export class InvalidInputError extends Error {
  override readonly name = 'InvalidInputError'
}

/**
 * A message an operator can act on, in their language, from whatever a call threw: the node's
 * error by its code and params (error-messages.ts), a refused field named as the form names it.
 */
export function messageOf (err: unknown): string {
  const { t, te } = i18n.global
  if (err instanceof ApiCallError) {
    const params = err.body.params ?? {}
    if (err.code === 'REQUEST_INVALID') {
      const rule = `rule.${String(params.rule ?? 'invalid')}`
      const problem = t(te(rule) ? rule : 'rule.invalid', { limit: params.limit ?? '' })
      const field = String(params.field ?? '')
      if (field === '') return t('apiErr.invalid', { problem })
      return t('apiErr.invalidField', { field: te(`field.${field}`) ? t(`field.${field}`) : field, problem })
    }
    return te(`apiErr.${err.code}`) ? t(`apiErr.${err.code}`, params) : t('apiErr.other', { code: err.code })
  }
  // fetch() throws a TypeError when the node cannot be reached at all.
  if (err instanceof TypeError) return t('apiErr.network')
  return String((err as Error)?.message ?? err)
}
