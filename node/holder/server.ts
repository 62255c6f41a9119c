import { randomBytes } from 'node:crypto'
import { chmodSync, rmSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import type { LocalRepository } from '../../chunkstore/index.ts'
import { errorRecord, holderProof, holderProofKeys, holderProofMatches, OperationAbortedError, type HolderAccess } from '../../crypto/index.ts'
import {
  HolderAccessDeniedError, HolderClosingError, HolderNeedsFullKeyError, HolderProtocolError, HolderReadOnlyError, HolderRequestError
} from './errors.ts'
import { STORE_OPERATIONS } from './operations.ts'
import { holderSocketPath, socketFolderReady } from './socket-path.ts'
import { b64, HOLDER_PROTOCOL, readMessages, send, unb64, type HolderInfo, type HolderKind, type HolderMessage } from './wire.ts'

/** The client has this long to prove itself and say what to run. */
const AUTH_TIMEOUT_MS = 10_000
/** Progress goes to a client at most this often (the bar redraws at about this rate). */
const PROGRESS_EVERY_MS = 100

export interface StoreHolderInit {
  /** The store folder. */
  dir: string
  kind: HolderKind
  /** The store, opened with its keys; absent when the holder has only its blocks (then it serves no command). */
  repo?: LocalRepository
  /** The store was opened read-only: serve only operations that change nothing. */
  readOnly?: boolean
}

/** A process's offer to run other commands' operations on the store it holds. */
export interface StoreHolder {
  /** The socket it listens on. */
  readonly socket: string
  /** Operations it runs for clients now. */
  readonly running: number
  /** Stops taking clients once none is running an operation, then closes the socket (the holder keeps the store). */
  closeWhenIdle: () => Promise<void>
  /** Stops taking clients, stops the operations running for them (their clients hear why) and closes the socket. */
  close: () => Promise<void>
}

/**
 * Serves the store at `init.dir` on its holder socket. The caller holds the store's LevelDB
 * lock, so any socket file already there was left by a process that died: it is replaced.
 */
export async function holdStore (init: StoreHolderInit): Promise<StoreHolder> {
  const socket = holderSocketPath(init.dir)
  socketFolderReady(socket, init.dir)
  rmSync(socket, { force: true })
  const proofKeys = init.repo === undefined ? {} : holderProofKeys(init.repo.keys)
  const info: HolderInfo = {
    pid: process.pid,
    kind: init.kind,
    keys: proofKeys.full !== undefined ? 'full' : proofKeys.write !== undefined ? 'write' : 'none',
    readOnly: init.readOnly === true
  }
  const storeId = init.repo?.config.id ?? ''
  const active = new Set<AbortController>()
  const sockets = new Set<Socket>()
  let closing = false
  let idle: (() => void) | undefined

  const serve = (sock: Socket): void => {
    sockets.add(sock)
    sock.on('close', () => sockets.delete(sock))
    sock.on('error', () => {})
    if (closing) { send(sock, { t: 'error', ...errorRecord(new HolderClosingError()) }); sock.end(); return }
    const nonce = randomBytes(32)
    let access: HolderAccess | undefined
    let started = false
    const stop = new AbortController()
    const refuse = (err: Error): void => { send(sock, { t: 'error', ...errorRecord(err) }); sock.end() }
    const timer = setTimeout(() => { if (!started) sock.destroy() }, AUTH_TIMEOUT_MS)
    sock.on('close', () => clearTimeout(timer))
    send(sock, { t: 'hello', v: HOLDER_PROTOCOL, store: storeId, nonce: b64(nonce), holder: info })
    readMessages(sock, (m: HolderMessage) => {
      if (m.t === 'auth' && access === undefined) {
        const clientNonce = unb64(m.nonce)
        if (clientNonce.length !== 32) { refuse(new HolderProtocolError('The client nonce must be 32 bytes.')); return }
        for (const level of ['full', 'write'] as const) {
          const key = proofKeys[level]
          if (key !== undefined && holderProofMatches(key, unb64(m.proofs?.[level]), 'client', level, storeId, nonce, clientNonce)) {
            access = level
            send(sock, { t: 'welcome', access, proof: b64(holderProof(key, 'holder', level, storeId, nonce, clientNonce)) })
            return
          }
        }
        refuse(new HolderAccessDeniedError(info.keys === 'none' ? 'it was started without the store\'s keys' : undefined))
        return
      }
      if (m.t === 'run' && access !== undefined && !started) {
        started = true
        clearTimeout(timer)
        void run(sock, m.op, m.args ?? {}, access, stop)
        return
      }
      if (m.t === 'cancel') { stop.abort(); return }
      refuse(new HolderProtocolError(`Unexpected "${String(m.t)}" message.`))
    }, err => refuse(err))
  }

  const run = async (sock: Socket, opName: string, args: Record<string, unknown>, access: HolderAccess, controller: AbortController): Promise<void> => {
    const op = Object.hasOwn(STORE_OPERATIONS, opName) ? STORE_OPERATIONS[opName] : undefined
    if (op === undefined) { send(sock, { t: 'error', ...errorRecord(new HolderRequestError(`Unknown operation "${opName}".`)) }); sock.end(); return }
    if (op.access === 'full' && access !== 'full') { send(sock, { t: 'error', ...errorRecord(new HolderNeedsFullKeyError(opName)) }); sock.end(); return }
    if (op.writes && info.readOnly) { send(sock, { t: 'error', ...errorRecord(new HolderReadOnlyError(opName)) }); sock.end(); return }
    if (closing) { send(sock, { t: 'error', ...errorRecord(new HolderClosingError()) }); sock.end(); return }
    active.add(controller)
    // The client went away (killed, Ctrl-C, closed) or asked to stop (Ctrl-C): the operation
    // stops as a local one stopped by Ctrl-C does, with the same error.
    const stop = (): void => controller.abort()
    sock.on('close', stop)
    let lastProgress: unknown
    let progressTimer: NodeJS.Timeout | undefined
    const flushProgress = (): void => { progressTimer = undefined; if (lastProgress !== undefined) send(sock, { t: 'progress', data: lastProgress }); lastProgress = undefined }
    try {
      const data = await op.run(init.repo!, args, {
        signal: controller.signal,
        progress: p => { lastProgress = p; progressTimer ??= setTimeout(flushProgress, PROGRESS_EVERY_MS) },
        items: batch => send(sock, { t: 'items', data: batch })
      })
      if (progressTimer !== undefined) { clearTimeout(progressTimer); flushProgress() }
      send(sock, { t: 'result', data: data ?? null })
    } catch (err) {
      if (progressTimer !== undefined) clearTimeout(progressTimer)
      // An operation stopped because this holder closes: the client hears that, and tries again.
      const closed = err instanceof OperationAbortedError && err.cause instanceof HolderClosingError
      send(sock, { t: 'error', ...errorRecord(closed ? err.cause : err) })
    } finally {
      sock.off('close', stop)
      active.delete(controller)
      sock.end()
      if (active.size === 0) idle?.()
    }
  }

  const server: Server = createServer(serve)
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(socket, () => { server.off('error', reject); resolve() }) })
  chmodSync(socket, 0o600)

  const shut = async (): Promise<void> => {
    closing = true
    await new Promise<void>(resolve => server.close(() => resolve()))
    rmSync(socket, { force: true })
  }
  return {
    socket,
    get running () { return active.size },
    async closeWhenIdle () {
      while (active.size > 0) await new Promise<void>(resolve => { idle = resolve })
      closing = true
      for (const s of sockets) { send(s, { t: 'error', ...errorRecord(new HolderClosingError()) }); s.end() }
      await shut()
    },
    async close () {
      closing = true
      for (const c of active) c.abort(new HolderClosingError())
      while (active.size > 0) await new Promise<void>(resolve => { idle = resolve })
      for (const s of sockets) s.destroy()
      await shut()
    }
  }
}
