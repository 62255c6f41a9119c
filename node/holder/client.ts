import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { createConnection } from 'node:net'
import { holderProof, holderProofKeys, holderProofMatches, type HolderAccess, type SpaceKeys } from '../../crypto/index.ts'
import { HolderNotGenuineError, HolderProtocolError, HolderWithoutKeysError, RemoteOperationError } from './errors.ts'
import { holderSocketPath } from './socket-path.ts'
import { b64, readMessages, send, unb64, HOLDER_PROTOCOL, type HolderInfo, type HolderMessage } from './wire.ts'

export interface RunHooks {
  onProgress?: (p: any) => void
  onItems?: (batch: any[]) => void
  /** Aborting sends "cancel": the holder stops the operation and answers with the error a stopped local one gives. */
  signal?: AbortSignal
}

/** A connection to the process that holds a store, after its hello. */
export interface HolderConnection {
  readonly socket: string
  readonly holder: HolderInfo
  /**
   * Proves this side holds the store's keys and checks the holder's proof back, then runs
   * `op` there. Resolves with the operation's result; rejects with its error (same name and
   * message as a local run would give).
   */
  run: (keys: SpaceKeys, storeId: string, op: string, args: Record<string, unknown>, hooks?: RunHooks) => Promise<unknown>
  close: () => void
}

/**
 * Connects to the holder of the store at `dir`. Undefined when no process holds it: no
 * socket, or a socket nobody listens on (left by a holder that was killed; the next process
 * to open the store removes it, as only a process that holds the store may).
 */
export async function connectHolder (dir: string): Promise<HolderConnection | undefined> {
  const socket = holderSocketPath(dir)
  if (!existsSync(socket)) return undefined
  const sock = createConnection(socket)
  const queue: HolderMessage[] = []
  let waiting: ((m: HolderMessage | Error) => void) | undefined
  let failure: Error | undefined
  const deliver = (m: HolderMessage | Error): void => {
    if (m instanceof Error) failure ??= m
    const w = waiting
    if (w !== undefined) { waiting = undefined; w(m) } else if (!(m instanceof Error)) queue.push(m)
  }
  const next = async (): Promise<HolderMessage> => {
    const m = queue.shift()
    if (m !== undefined) return m
    if (failure !== undefined) throw failure
    const got = await new Promise<HolderMessage | Error>(resolve => { waiting = resolve })
    if (got instanceof Error) throw got
    return got
  }
  const connected = await new Promise<boolean>(resolve => {
    sock.once('connect', () => resolve(true))
    sock.once('error', () => resolve(false))
  })
  if (!connected) { sock.destroy(); return undefined }
  sock.on('error', err => deliver(new HolderProtocolError(`The connection to the holder broke: ${err.message}`, { cause: err })))
  sock.on('close', () => deliver(new HolderProtocolError('The process that holds the store closed the connection before answering (it may have stopped); run the command again.')))
  readMessages(sock, deliver, err => { deliver(err); sock.destroy() })
  let hello: HolderMessage
  try { hello = await next() } catch { sock.destroy(); return undefined }
  if (hello.t === 'error') { sock.destroy(); throw new RemoteOperationError(hello) }
  if (hello.t !== 'hello' || hello.v !== HOLDER_PROTOCOL) { sock.destroy(); throw new HolderProtocolError(`The process at ${socket} does not speak holder protocol ${HOLDER_PROTOCOL}; is it an older or newer Cairn?`) }
  const holderNonce = unb64(hello.nonce)

  return {
    socket,
    holder: hello.holder,
    close: () => { sock.destroy() },
    async run (keys, storeId, op, args, hooks = {}) {
      try {
        if (hello.holder.keys === 'none') throw new HolderWithoutKeysError(dir, hello.holder)
        if (hello.store !== storeId) throw new HolderNotGenuineError(socket)
        const clientNonce = randomBytes(32)
        const proofKeys = holderProofKeys(keys)
        const proofs: Partial<Record<HolderAccess, string>> = {}
        for (const level of ['write', 'full'] as const) {
          const key = proofKeys[level]
          if (key !== undefined) proofs[level] = b64(holderProof(key, 'client', level, storeId, holderNonce, clientNonce))
        }
        send(sock, { t: 'auth', nonce: b64(clientNonce), proofs })
        const welcome = await next()
        if (welcome.t === 'error') throw new RemoteOperationError(welcome)
        const key = welcome.t === 'welcome' ? proofKeys[welcome.access] : undefined
        if (welcome.t !== 'welcome' || key === undefined || !holderProofMatches(key, unb64(welcome.proof), 'holder', welcome.access, storeId, holderNonce, clientNonce)) {
          throw new HolderNotGenuineError(socket)
        }
        send(sock, { t: 'run', op, args })
        const cancel = (): void => send(sock, { t: 'cancel' })
        hooks.signal?.addEventListener('abort', cancel, { once: true })
        // Stopped before the operation was sent (Ctrl-C while connecting): it stops there at once.
        if (hooks.signal?.aborted === true) cancel()
        try {
          for (;;) {
            const m = await next()
            if (m.t === 'progress') hooks.onProgress?.(m.data)
            else if (m.t === 'items') hooks.onItems?.(m.data)
            else if (m.t === 'result') return m.data
            else if (m.t === 'error') throw new RemoteOperationError(m)
            else throw new HolderProtocolError(`The holder sent an unexpected "${m.t}" message.`)
          }
        } finally {
          hooks.signal?.removeEventListener('abort', cancel)
        }
      } finally {
        sock.destroy()
      }
    }
  }
}
