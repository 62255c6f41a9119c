import { ApiCallError } from './api.ts'

/** A message an operator can act on, from whatever a call threw. */
export const messageOf = (err: unknown): string => err instanceof ApiCallError ? `${err.body.message} (${err.body.name})` : String((err as Error)?.message ?? err)
