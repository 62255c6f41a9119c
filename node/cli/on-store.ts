import { IndexDamagedError, openRepository, readConfig, StoreInUseError } from '../../chunkstore/index.ts'
import type { LocalRepository } from '../../chunkstore/index.ts'
import { payloadKeys } from '../../crypto/index.ts'
import { existsSync } from 'node:fs'
import { connectHolder, holderSocketPath, holdStore, HolderClosingError, HolderReadOnlyError, RemoteOperationError, STORE_OPERATIONS } from '../holder/index.ts'
import type { RunHooks, StoreHolder, StoreOperationName } from '../holder/index.ts'
import { storeDir, unlockKeyFile } from './store-options.ts'
import type { SecretSource, StoreFlags } from './store-options.ts'

/** How a command opens the store when nobody holds it (issue 12's read-only guarantee for read commands). */
export interface OpenFlags { readOnly?: boolean, reportDamage?: boolean, verifyIndex?: boolean }

/**
 * How long a command keeps trying while the store is locked and no holder answers: a holder
 * between taking the lock and listening, or closing the store after its socket. A process
 * that holds the lock and offers nothing (`cairn repair`, an older Cairn) is reported after it.
 */
const BUSY_FOR_MS = 5_000
const RETRY_MS = 150

export interface OnStoreIo {
  secrets?: SecretSource
  /** A line for the user on stderr (a wait). */
  note?: (line: string) => void
}

/**
 * Runs a store operation for a CLI command (doc/design.md, "One store, many clients"): on
 * the process that holds the store when there is one — after both sides prove they hold its
 * keys — else on the store opened here, which this process then offers to other commands
 * until the last operation it runs for them ends. The result, progress and errors are the
 * same either way.
 */
export async function onStore (flags: StoreFlags, op: StoreOperationName, args: Record<string, unknown>, open: OpenFlags, hooks: RunHooks = {}, io: OnStoreIo = {}): Promise<unknown> {
  const dir = storeDir(flags)
  // Derived (scrypt, on libuv's pool) while a read-only open copies the index: a command waits
  // for the longer of the two, not both. Nothing is read through the store before they are.
  const keying = unlockKeyFile(flags, io.secrets).then(u => payloadKeys(u.payload, u.file.spaceId))
  keying.catch(() => {}) // every path below that goes on awaits it
  const storeId = readConfig(dir).id
  const note = io.note ?? ((line: string) => { process.stderr.write(`cairn: ${line}\n`) })
  const deadline = Date.now() + BUSY_FOR_MS
  let told = false
  let damagedOpens = 0
  for (;;) {
    // A holder gives up on a connection that does not prove its keys soon: derive them first.
    if (existsSync(holderSocketPath(dir))) await keying
    const holder = await connectHolder(dir)
    if (holder !== undefined) {
      try {
        return await holder.run(await keying, storeId, op, args, hooks)
      } catch (err) {
        const code = err instanceof RemoteOperationError ? err.remote.code : undefined
        if (code !== HolderClosingError.code && code !== HolderReadOnlyError.code) throw err
        if (code === HolderReadOnlyError.code && !told) {
          told = true
          note(`waiting for process ${holder.holder.pid}, which has the store open read-only, to end ("${op}" changes the store)`)
        }
      }
    } else {
      let repo: LocalRepository | undefined
      try {
        repo = await openRepository(dir, { keys: keying, ...open })
      } catch (err) {
        // A read-only open copies the index while another process that just took the store may
        // be rolling its files (its MANIFEST): look for that holder again before calling it damaged.
        const racing = err instanceof IndexDamagedError && open.readOnly === true && ++damagedOpens < 3
        if (!(err instanceof StoreInUseError || racing) || Date.now() > deadline) throw err
      }
      if (repo !== undefined) return await runHere(repo, dir, op, args, open, hooks)
    }
    if (Date.now() > deadline) throw new StoreInUseError(dir)
    await new Promise(resolve => setTimeout(resolve, RETRY_MS))
  }
}

/** Stores this process still holds for other commands after its own operation ended. */
const lingering: Array<Promise<void>> = []

/**
 * Resolves once every store this process opened is closed: the command's own output is
 * out, and operations it runs for other commands have ended (the CLI waits for this before
 * it exits).
 */
export async function storesReleased (): Promise<void> {
  while (lingering.length > 0) await lingering.shift()!.catch(() => {})
}

/** Runs `op` on the store opened here, offering it to other commands meanwhile; closes it once they are done too. */
async function runHere (repo: LocalRepository, dir: string, op: StoreOperationName, args: Record<string, unknown>, open: OpenFlags, hooks: RunHooks): Promise<unknown> {
  let holder: StoreHolder | undefined
  try {
    holder = await holdStore({ dir, kind: 'cli', repo, readOnly: open.readOnly === true })
  } catch {
    // No socket (a read-only folder, say): the command still runs, others wait as they did before.
  }
  const release = async (): Promise<void> => {
    try { await holder?.closeWhenIdle() } finally { await repo.close() }
  }
  let failed = false
  try {
    return await STORE_OPERATIONS[op].run(repo, args, {
      signal: hooks.signal ?? new AbortController().signal,
      progress: p => hooks.onProgress?.(p),
      items: batch => hooks.onItems?.(batch)
    })
  } catch (err) {
    failed = true
    throw err
  } finally {
    // Other commands' operations still running here: the output is told now, the store closed after them.
    // After a failure the first error is the one to tell (a close on a full disk fails too).
    const closed = release()
    if (holder !== undefined && holder.running > 0) lingering.push(closed)
    else if (failed) await closed.catch(() => {})
    else await closed
  }
}
