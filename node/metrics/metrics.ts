/**
 * Prometheus metrics of the node (text exposition format 0.0.4). Counters are kept here; gauges
 * (store size, nodes online, running jobs) are read when scraped.
 */
export interface Metrics {
  request: () => void
  serverError: () => void
  jobFinished: (type: string, status: string, durationMs: number, bytes: number) => void
  webhookDelivery: (ok: boolean) => void
  mailSent: (ok: boolean) => void
  /** `named`: its labels carry names (user spaces, policies), left out of an anonymous scrape. */
  addGauge: (name: string, help: string, read: () => Promise<Array<{ labels?: Record<string, string>, value: number }>>, options?: { named?: boolean }) => void
  render: (options?: { names?: boolean }) => Promise<string>
}

const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
const labelText = (labels?: Record<string, string>): string => {
  const entries = Object.entries(labels ?? {})
  return entries.length === 0 ? '' : `{${entries.map(([k, v]) => `${k}="${esc(v)}"`).join(',')}}`
}

export function createMetrics (): Metrics {
  let requests = 0
  let errors = 0
  const jobs = new Map<string, { count: number, seconds: number, bytes: number }>()
  const hooks = { ok: 0, failed: 0 }
  const mails = { ok: 0, failed: 0 }
  const gauges: Array<{ name: string, help: string, named: boolean, read: () => Promise<Array<{ labels?: Record<string, string>, value: number }>> }> = []
  return {
    request () { requests++ },
    serverError () { errors++ },
    jobFinished (type, status, durationMs, bytes) {
      const key = `${type}\x00${status}`
      const j = jobs.get(key) ?? { count: 0, seconds: 0, bytes: 0 }
      j.count++; j.seconds += durationMs / 1000; j.bytes += bytes
      jobs.set(key, j)
    },
    webhookDelivery (ok) { if (ok) hooks.ok++; else hooks.failed++ },
    mailSent (ok) { if (ok) mails.ok++; else mails.failed++ },
    addGauge (name, help, read, options) { gauges.push({ name, help, read, named: options?.named === true }) },
    async render (options) {
      const lines: string[] = []
      const metric = (name: string, type: string, help: string, samples: Array<{ labels?: Record<string, string>, value: number }>): void => {
        lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
        for (const s of samples) lines.push(`${name}${labelText(s.labels)} ${s.value}`)
      }
      metric('cairn_http_requests_total', 'counter', 'HTTP requests answered', [{ value: requests }])
      metric('cairn_http_server_errors_total', 'counter', 'HTTP requests answered with 5xx', [{ value: errors }])
      const js = [...jobs].map(([k, v]) => { const [type, status] = k.split('\x00'); return { labels: { type, status }, v } })
      metric('cairn_jobs_total', 'counter', 'Finished jobs by type and status', js.map(j => ({ labels: j.labels, value: j.v.count })))
      metric('cairn_job_duration_seconds_total', 'counter', 'Time spent in finished jobs', js.map(j => ({ labels: j.labels, value: j.v.seconds })))
      metric('cairn_job_bytes_total', 'counter', 'Bytes read by backups / written by restores', js.map(j => ({ labels: j.labels, value: j.v.bytes })))
      metric('cairn_webhook_deliveries_total', 'counter', 'Webhook delivery attempts', [{ labels: { result: 'ok' }, value: hooks.ok }, { labels: { result: 'failed' }, value: hooks.failed }])
      metric('cairn_mails_total', 'counter', 'Notification mails', [{ labels: { result: 'ok' }, value: mails.ok }, { labels: { result: 'failed' }, value: mails.failed }])
      for (const g of gauges) {
        if (g.named && options?.names !== true) continue
        let samples: Array<{ labels?: Record<string, string>, value: number }> = []
        try { samples = await g.read() } catch { samples = [] }
        metric(g.name, 'gauge', g.help, samples)
      }
      return lines.join('\n') + '\n'
    }
  }
}
