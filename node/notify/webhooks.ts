import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { BlockList, isIP } from 'node:net'
import { WebhookTargetRefusedError, WebhookTimeoutError } from './errors.ts'
import type { StateStore } from '../state/index.ts'
import type { Clock } from '../clock/index.ts'
import type { LogEntry, LogType } from '../logs/index.ts'
import type { Metrics } from '../metrics/index.ts'

export const WEBHOOK_EVENTS = ['login', 'node', 'storage', 'task', 'job', 'alert'] as const
export type WebhookEvent = typeof WEBHOOK_EVENTS[number]

const EVENT_OF: Partial<Record<LogType, WebhookEvent>> = {
  login: 'login', node: 'node', storage: 'storage', task: 'task', backup: 'job', restore: 'job', data: 'job', archive: 'job', alert: 'alert', user: 'login'
}

export interface Webhook {
  id: string
  url: string
  events: WebhookEvent[]
  secret: string
  enabled: boolean
  createdAt: string
  /** Deliveries may go to loopback, link-local and unspecified addresses (set by an admin, for lab receivers). */
  allowLocal?: boolean
}

export interface Delivery {
  id: string
  webhookId: string
  event: WebhookEvent
  body: string
  status: 'pending' | 'delivered' | 'failed'
  attempts: Array<{ time: string, status?: number, error?: string }>
  nextAttemptAt?: string
}

/**
 * `X-Cairn-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. A receiver
 * recomputes the HMAC over the raw body and rejects old timestamps (replays).
 */
export function signWebhook (secret: string, body: string, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex')}`
}

export function verifyWebhookSignature (secret: string, header: string, body: string, nowSeconds: number, toleranceSeconds = 300): boolean {
  const parts = Object.fromEntries(header.split(',').map(p => p.split('=', 2) as [string, string]))
  const t = Number(parts.t)
  if (!Number.isFinite(t) || Math.abs(nowSeconds - t) > toleranceSeconds || parts.v1 === undefined) return false
  const want = Buffer.from(signWebhook(secret, body, t).split('v1=')[1], 'hex')
  const got = Buffer.from(parts.v1, 'hex')
  return want.length === got.length && timingSafeEqual(want, got)
}

/** Addresses a webhook may not reach unless its `allowLocal` is set: this machine, link-local, unspecified, multicast. */
const LOCAL = new BlockList()
LOCAL.addSubnet('127.0.0.0', 8, 'ipv4')
LOCAL.addSubnet('0.0.0.0', 8, 'ipv4')
LOCAL.addSubnet('169.254.0.0', 16, 'ipv4')
LOCAL.addSubnet('224.0.0.0', 4, 'ipv4')
LOCAL.addAddress('255.255.255.255', 'ipv4')
LOCAL.addAddress('::1', 'ipv6')
LOCAL.addAddress('::', 'ipv6')
LOCAL.addSubnet('fe80::', 10, 'ipv6')
LOCAL.addSubnet('ff00::', 8, 'ipv6')

/** Why `address` is refused as a webhook target, or undefined. IPv4-mapped IPv6 addresses are checked as IPv4. */
export function localAddressProblem (address: string): string | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  const [ip, family] = mapped !== null ? [mapped[1], 'ipv4' as const] : [address, isIP(address) === 6 ? 'ipv6' as const : 'ipv4' as const]
  return LOCAL.check(ip, family) ? `${address} is a loopback, link-local, unspecified or multicast address` : undefined
}

/**
 * Checks a webhook URL before it is stored: an IPv4 address only in dotted form (no decimal,
 * hex or short forms such as http://2130706433/), and no local address unless `allowLocal`.
 * Names are resolved and checked again at every delivery.
 */
export function checkWebhookUrl (raw: string, allowLocal: boolean): void {
  const url = new URL(raw)
  const host = /^[a-z]+:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)/i.exec(raw)?.[1]?.toLowerCase() ?? ''
  if (isIP(url.hostname) === 4 && host !== url.hostname) throw new WebhookTargetRefusedError(raw, `write the address ${url.hostname} as four dotted numbers, not as ${host}`)
  const literal = url.hostname.replace(/^\[|\]$/g, '')
  const problem = isIP(literal) !== 0 ? localAddressProblem(literal) : undefined
  if (problem !== undefined && !allowLocal) throw new WebhookTargetRefusedError(raw, `${problem}; an admin allows such a target with "allowLocal": true`)
}

/** POSTs `body` to `url`, connecting only to an address that passed `localAddressProblem` (unless allowed). */
async function post (url: URL, body: string, headers: Record<string, string>, allowLocal: boolean, timeoutMs: number): Promise<number> {
  const literal = url.hostname.replace(/^\[|\]$/g, '')
  if (isIP(literal) !== 0 && !allowLocal) {
    const problem = localAddressProblem(literal)
    if (problem !== undefined) throw new WebhookTargetRefusedError(url.href, problem)
  }
  // The address is checked where it is resolved, so the connection goes to the address that was checked.
  const lookup = (hostname: string, options: { all?: boolean }, done: (err: Error | null, address: string | LookupAddress[], family?: number) => void): void => {
    dnsLookup(hostname, { all: true }, (err, addresses) => {
      if (err !== null) { done(err, []); return }
      const bad = allowLocal ? undefined : addresses.map(a => localAddressProblem(a.address)).find(p => p !== undefined)
      if (bad !== undefined) { done(new WebhookTargetRefusedError(url.href, `${hostname} resolves to ${bad}`), []); return }
      if (options.all === true) done(null, addresses); else done(null, addresses[0].address, addresses[0].family)
    })
  }
  return await new Promise<number>((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, lookup: lookup as never, timeout: timeoutMs }, res => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new WebhookTimeoutError(timeoutMs)))
    req.on('error', reject)
    req.end(body)
  })
}

export interface WebhooksInit {
  maxAttempts?: number
  /** First retry delay; doubles per attempt. */
  backoffMs?: number
  timeoutMs?: number
}

/**
 * Posts log events to subscribed URLs (F23): signed (X-Cairn-Signature), retried with
 * exponential backoff, each attempt recorded as the hook's delivery.
 *
 * Contract:
 * - A URL that would reach this machine or its link is refused when a hook is made or changed,
 *   and checked again at each delivery against the addresses it resolves to, unless the hook
 *   allows local targets (WebhookTargetRefusedError).
 * - A delivery is stored before it is attempted, so pending ones survive a restart: `start`
 *   resumes them; `stop` cancels the timers and waits for attempts under way.
 * - A failing target never fails the action that was logged: `publishLog` returns at once.
 */
export interface Webhooks {
  create: (input: { url: string, events: WebhookEvent[], secret?: string, allowLocal?: boolean }) => Promise<Webhook>
  list: () => Promise<Webhook[]>
  get: (id: string) => Promise<Webhook>
  update: (id: string, change: Partial<Pick<Webhook, 'url' | 'events' | 'enabled' | 'allowLocal'>>) => Promise<Webhook>
  remove: (id: string) => Promise<void>
  /** The hook's deliveries, newest first. */
  deliveries: (webhookId: string) => Promise<Delivery[]>
  /** Queues a delivery of `payload` to every enabled hook subscribed to `event`. */
  publish: (event: WebhookEvent, payload: unknown) => Promise<void>
  /** A new entry of the log list (LogBook.onEntry), published as its event, if it has one. */
  publishLog: (e: LogEntry) => void
  /** Resolves when no delivery attempt is under way (retries waiting for their time excepted). */
  idle: () => Promise<void>
  /** Resumes deliveries that were pending when the node stopped. */
  start: () => Promise<void>
  stop: () => Promise<void>
}

export interface WebhooksComponents {
  state: StateStore
  clock: Clock
  metrics: Metrics
}

export function createWebhooks (components: WebhooksComponents, init: WebhooksInit = {}): Webhooks {
  const { state, clock, metrics } = components
  const maxAttempts = init.maxAttempts ?? 6
  const backoff = init.backoffMs ?? 2000
  const timeoutMs = init.timeoutMs ?? 10_000
  const timers = new Set<() => void>()
  const inflight = new Set<Promise<void>>()
  let stopped = false

  async function attempt (deliveryId: string): Promise<void> {
    const d = await state.get<Delivery>('deliveries', deliveryId)
    if (d === undefined || d.status !== 'pending' || stopped) return
    const hook = await state.get<Webhook>('webhooks', d.webhookId)
    if (hook === undefined) return
    const t = Math.floor(clock.now().getTime() / 1000)
    let status: number | undefined
    let error: string | undefined
    let refused = false
    try {
      // Redirects are not followed: a receiver cannot send the delivery elsewhere.
      status = await post(new URL(hook.url), d.body, { 'content-type': 'application/json', 'user-agent': 'cairn-webhook/1', 'x-cairn-event': d.event, 'x-cairn-delivery': d.id, 'x-cairn-signature': signWebhook(hook.secret, d.body, t) }, hook.allowLocal === true, timeoutMs)
      if (status < 200 || status >= 300) error = `HTTP ${status}`
    } catch (err) {
      error = (err as Error).message
      refused = err instanceof WebhookTargetRefusedError
    }
    metrics.webhookDelivery(error === undefined)
    d.attempts.push({ time: clock.now().toISOString(), status, error })
    if (error === undefined) {
      d.status = 'delivered'
      d.nextAttemptAt = undefined
    } else if (refused || d.attempts.length >= maxAttempts) {
      d.status = 'failed'
      d.nextAttemptAt = undefined
    } else {
      d.nextAttemptAt = new Date(clock.now().getTime() + backoff * 2 ** (d.attempts.length - 1)).toISOString()
    }
    await state.put('deliveries', d.id, d)
    if (d.status === 'pending') schedule(d)
  }

  const track = (p: Promise<void>): Promise<void> => {
    const q = p.catch(() => {})
    inflight.add(q)
    void q.finally(() => inflight.delete(q))
    return q
  }

  function schedule (d: Delivery): void {
    if (stopped) return
    const due = new Date(d.nextAttemptAt ?? clock.now())
    if (due <= clock.now()) { void track(attempt(d.id)); return }
    const cancel = clock.at(due, async () => {
      timers.delete(cancel)
      await track(attempt(d.id))
    })
    timers.add(cancel)
  }

  const webhooks: Webhooks = {
    async create (input) {
      checkWebhookUrl(input.url, input.allowLocal === true)
      const hook: Webhook = { id: state.nextId('w'), url: input.url, events: input.events, secret: input.secret ?? randomBytes(32).toString('base64url'), enabled: true, createdAt: clock.now().toISOString(), ...(input.allowLocal === true ? { allowLocal: true } : {}) }
      await state.put('webhooks', hook.id, hook)
      return hook
    },
    async list () { return await state.list<Webhook>('webhooks') },
    async get (id) { return await state.require<Webhook>('webhooks', id) },
    async update (id, change) {
      const hook = { ...await state.require<Webhook>('webhooks', id), ...change }
      checkWebhookUrl(hook.url, hook.allowLocal === true)
      await state.put('webhooks', id, hook)
      return hook
    },
    async remove (id) { await state.require<Webhook>('webhooks', id); await state.del('webhooks', id) },
    async deliveries (webhookId) {
      return (await state.list<Delivery>('deliveries', { reverse: true })).filter(d => d.webhookId === webhookId)
    },

    async publish (event, payload) {
      for (const hook of await state.list<Webhook>('webhooks')) {
        if (!hook.enabled || !hook.events.includes(event)) continue
        const id = state.nextId('d')
        const d: Delivery = { id, webhookId: hook.id, event, body: JSON.stringify({ id, event, time: clock.now().toISOString(), data: payload }), status: 'pending', attempts: [], nextAttemptAt: clock.now().toISOString() }
        await state.put('deliveries', d.id, d)
        schedule(d)
      }
    },

    publishLog (e) {
      const event = EVENT_OF[e.type]
      if (event !== undefined && !stopped) void track(webhooks.publish(event, e))
    },

    async idle () { while (inflight.size > 0) await Promise.allSettled([...inflight]) },

    async start () {
      stopped = false
      for (const d of await state.list<Delivery>('deliveries')) if (d.status === 'pending') schedule(d)
    },

    async stop () {
      stopped = true
      for (const c of timers) c()
      timers.clear()
      await Promise.allSettled([...inflight])
    }
  }
  return webhooks
}
