import { Level } from 'level'
import { RecordNotFoundError, RecordVersionError, StateClosedError } from './errors.ts'

/** The on-disk record version this code writes. Every stored record is `{ v, data }`. */
export const RECORD_VERSION = 1

/** The collections of the node's state; one key prefix each. */
export type Collection =
  | 'users' | 'sessions' | 'logins' | 'nodes' | 'spaces' | 'tasks' | 'schedules' | 'jobs' | 'joblogs'
  | 'logs' | 'audit' | 'webhooks' | 'deliveries' | 'settings' | 'drills' | 'archiveTasks'

interface Envelope<T> { v: number, data: T }

/**
 * The daemon's durable state: JSON records in LevelDB, one key space per collection, each record
 * wrapped with its format version so a later Cairn can read (or refuse) what an earlier one wrote.
 * Writes through `exclusive` are serialised, so read-check-write sequences (unique names, running
 * jobs) cannot interleave.
 */
export interface StateStore {
  get: <T>(c: Collection, id: string) => Promise<T | undefined>
  /** Like `get`, but throws RecordNotFoundError. */
  require: <T>(c: Collection, id: string) => Promise<T>
  put: <T>(c: Collection, id: string, value: T) => Promise<void>
  del: (c: Collection, id: string) => Promise<void>
  /** Records in key order; `prefix` narrows to ids starting with it; `reverse` for newest-first keys. */
  list: <T>(c: Collection, options?: { prefix?: string, reverse?: boolean, limit?: number, gte?: string, lte?: string }) => Promise<T[]>
  /** Runs `fn` with every other `exclusive` caller waiting. */
  exclusive: <R>(fn: () => Promise<R>) => Promise<R>
  /** A sortable id: time-ordered, unique within this store. */
  nextId: (prefix?: string) => string
  close: () => Promise<void>
}

const SEP = '\x00'

export async function openStateStore (dir: string): Promise<StateStore> {
  const db = new Level<string, string>(dir, { valueEncoding: 'utf8' })
  await db.open()
  let closed = false
  let chain: Promise<unknown> = Promise.resolve()
  let counter = 0
  let lastMs = 0

  const key = (c: Collection, id: string): string => `${c}${SEP}${id}`
  const decode = <T>(c: Collection, raw: string): T => {
    const env = JSON.parse(raw) as Envelope<T>
    if (env.v !== RECORD_VERSION) throw new RecordVersionError(c, env.v)
    return env.data
  }
  const live = (): void => { if (closed) throw new StateClosedError() }

  const store: StateStore = {
    async get<T> (c: Collection, id: string) {
      live()
      const raw = await db.get(key(c, id))
      return raw === undefined ? undefined : decode<T>(c, raw)
    },
    async require<T> (c: Collection, id: string) {
      const value = await store.get<T>(c, id)
      if (value === undefined) throw new RecordNotFoundError(c.replace(/s$/, ''), id)
      return value
    },
    async put<T> (c: Collection, id: string, value: T) {
      live()
      const env: Envelope<T> = { v: RECORD_VERSION, data: value }
      await db.put(key(c, id), JSON.stringify(env))
    },
    async del (c: Collection, id: string) {
      live()
      await db.del(key(c, id))
    },
    async list<T> (c: Collection, options: { prefix?: string, reverse?: boolean, limit?: number, gte?: string, lte?: string } = {}) {
      live()
      const base = `${c}${SEP}${options.prefix ?? ''}`
      const gte = options.gte !== undefined ? `${c}${SEP}${options.gte}` : base
      const lte = options.lte !== undefined ? `${c}${SEP}${options.lte}\xff` : `${base}\xff`
      const out: T[] = []
      for await (const raw of db.values({ gte, lte, reverse: options.reverse ?? false, limit: options.limit ?? -1 })) {
        out.push(decode<T>(c, raw))
      }
      return out
    },
    async exclusive<R> (fn: () => Promise<R>) {
      const run = chain.then(fn, fn)
      chain = run.catch(() => {})
      return await run
    },
    nextId (prefix = '') {
      const ms = Date.now()
      if (ms !== lastMs) { lastMs = ms; counter = 0 }
      counter++
      const rand = Math.floor(Math.random() * 36 ** 4).toString(36).padStart(4, '0')
      return `${prefix}${ms.toString(36).padStart(9, '0')}${counter.toString(36).padStart(3, '0')}${rand}`
    },
    async close () {
      if (closed) return
      await chain.catch(() => {})
      closed = true
      await db.close()
    }
  }
  return store
}
