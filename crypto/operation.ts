// How every long operation of every layer is called (doc/design.md "Conventions"), after
// Helia's AbortOptions and ProgressOptions: a call that can wait on I/O or a peer takes
// `{ signal }` and stops with OperationAbortedError once it is aborted; a long one also takes
// `onProgress` and reports typed progress events. Lives here, in the lowest layer, so that the
// data path, the mesh and the node share it.
import { OperationAbortedError } from './errors.ts'

export interface AbortOptions {
  signal?: AbortSignal
}

/** One step of an operation: `type` names the operation and step (`backup:files`), `detail` how far it is. */
export interface ProgressEvent<Type extends string = string, Detail = unknown> {
  type: Type
  detail: Detail
}

export interface ProgressOptions<Event extends ProgressEvent = ProgressEvent> {
  onProgress?: (event: Event) => void
}

/** Throws OperationAbortedError (with the signal's reason as its cause) once `signal` is aborted. `what` names the operation: "The backup". */
export function throwIfAborted (signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted === true) throw new OperationAbortedError(what, { cause: signal.reason })
}

/**
 * Settles as `promise` does, or rejects with OperationAbortedError as soon as `signal` aborts
 * (the work behind `promise` then runs on and must be safe to abandon; its rejection is handled).
 */
export async function abortable<T> (promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (signal === undefined) return await promise
  throwIfAborted(signal, what)
  promise.catch(() => {})
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(new OperationAbortedError(what, { cause: signal.reason })) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([promise, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort!)
  }
}
