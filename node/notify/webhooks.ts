import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { StateStore } from '../state/index.ts'
import type { Clock } from '../daemon/clock.ts'
import type { LogEntry, LogType } from './log-book.ts'
import type { Metrics } from './metrics.ts'

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

export interface WebhooksInit {
  maxAttempts?: number
  /** First retry delay; doubles per attempt. */
  backoffMs?: number
  timeoutMs?: number
}

export type Webhooks = ReturnType<typeof createWebhooks>

/** Posts log events to subscribed URLs (F23), signed, retried with exponential backoff, each attempt logged. */
export function createWebhooks (components: { state: StateStore, clock: Clock, metrics: Metrics }, init: WebhooksInit = {}) {
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
    try {
      const res = await fetch(hook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'cairn-webhook/1', 'x-cairn-event': d.event, 'x-cairn-delivery': d.id, 'x-cairn-signature': signWebhook(hook.secret, d.body, t) },
        body: d.body,
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'manual'
      })
      status = res.status
      await res.arrayBuffer().catch(() => undefined)
      if (status < 200 || status >= 300) error = `HTTP ${status}`
    } catch (err) {
      error = (err as Error).message
    }
    metrics.webhookDelivery(error === undefined)
    d.attempts.push({ time: clock.now().toISOString(), status, error })
    if (error === undefined) {
      d.status = 'delivered'
      d.nextAttemptAt = undefined
    } else if (d.attempts.length >= maxAttempts) {
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

  const webhooks = {
    async create (input: { url: string, events: WebhookEvent[], secret?: string }): Promise<Webhook> {
      const hook: Webhook = { id: state.nextId('w'), url: input.url, events: input.events, secret: input.secret ?? randomBytes(32).toString('base64url'), enabled: true, createdAt: clock.now().toISOString() }
      await state.put('webhooks', hook.id, hook)
      return hook
    },
    async list (): Promise<Webhook[]> { return await state.list<Webhook>('webhooks') },
    async get (id: string): Promise<Webhook> { return await state.require<Webhook>('webhooks', id) },
    async update (id: string, change: Partial<Pick<Webhook, 'url' | 'events' | 'enabled'>>): Promise<Webhook> {
      const hook = { ...await state.require<Webhook>('webhooks', id), ...change }
      await state.put('webhooks', id, hook)
      return hook
    },
    async remove (id: string): Promise<void> { await state.require<Webhook>('webhooks', id); await state.del('webhooks', id) },
    async deliveries (webhookId: string): Promise<Delivery[]> {
      return (await state.list<Delivery>('deliveries', { reverse: true })).filter(d => d.webhookId === webhookId)
    },

    /** Queues a delivery of `payload` to every enabled hook subscribed to `event`. */
    async publish (event: WebhookEvent, payload: unknown): Promise<void> {
      for (const hook of await state.list<Webhook>('webhooks')) {
        if (!hook.enabled || !hook.events.includes(event)) continue
        const id = state.nextId('d')
        const d: Delivery = { id, webhookId: hook.id, event, body: JSON.stringify({ id, event, time: clock.now().toISOString(), data: payload }), status: 'pending', attempts: [], nextAttemptAt: clock.now().toISOString() }
        await state.put('deliveries', d.id, d)
        schedule(d)
      }
    },

    publishLog (e: LogEntry): void {
      const event = EVENT_OF[e.type]
      if (event !== undefined && !stopped) void track(webhooks.publish(event, e))
    },

    /** Resolves when no delivery attempt is under way (retries waiting for their time excepted). */
    async idle (): Promise<void> { while (inflight.size > 0) await Promise.allSettled([...inflight]) },

    /** Resumes deliveries that were pending when the node stopped. */
    async start (): Promise<void> {
      stopped = false
      for (const d of await state.list<Delivery>('deliveries')) if (d.status === 'pending') schedule(d)
    },

    async stop (): Promise<void> {
      stopped = true
      for (const c of timers) c()
      timers.clear()
      await Promise.allSettled([...inflight])
    }
  }
  return webhooks
}
