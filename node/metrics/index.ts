// metrics: the node's counters and gauges in the Prometheus text format (GET /metrics). Other
// parts count into it; it reads no state of its own and never blocks the thing it counts.
export * from './metrics.ts'
