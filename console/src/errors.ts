// The console's errors: an answer of the node that is not 2xx, and input a form refuses before
// it sends anything. Branch on an ApiCallError's `code` (doc/api.md "Errors"), never on its name
// or message.
import type { ApiError } from '../../node/api/dto.ts'

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

/** A message an operator can act on, from whatever a call threw. */
export const messageOf = (err: unknown): string => err instanceof ApiCallError ? `${err.body.message} (${err.body.name})` : String((err as Error)?.message ?? err)
