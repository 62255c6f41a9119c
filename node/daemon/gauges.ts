// The gauges of GET /metrics that read several parts of the node: jobs running, nodes online,
// space usage and capacity, and each replication policy's lag.
import type { Metrics } from '../metrics/index.ts'
import type { User } from '../auth/index.ts'
import type { Inventory } from '../inventory/index.ts'
import type { JobRunner } from '../jobs/index.ts'
import type { HostedMesh } from '../mesh/index.ts'

/** Sees everything (gauges count every node and space). */
const ANYONE = { role: 'admin' } as User

export function registerGauges (metrics: Metrics, c: { runner: JobRunner, inventory: Inventory, mesh: () => HostedMesh | undefined }): void {
  const { runner, inventory } = c
  metrics.addGauge('cairn_jobs_running', 'Jobs running now', async () => [{ value: runner.running().length }])
  metrics.addGauge('cairn_nodes', 'Registered nodes by online state', async () => {
    const all = await inventory.listNodes(ANYONE)
    const online = all.filter(n => inventory.online(n)).length
    return [{ labels: { state: 'online' }, value: online }, { labels: { state: 'offline' }, value: all.length - online }]
  })
  metrics.addGauge('cairn_space_used_bytes', 'Bytes a user space\'s store takes on disk', async () =>
    (await inventory.listSpaces(ANYONE)).map(s => ({ labels: { space: s.name }, value: s.usedBytes })), { named: true })
  metrics.addGauge('cairn_space_capacity_bytes', 'Capacity (quota) of a user space', async () =>
    (await inventory.listSpaces(ANYONE)).map(s => ({ labels: { space: s.name }, value: s.capacityBytes })), { named: true })
  const policyLag = async (key: 'snapshotsBehind' | 'bytesBehind'): Promise<Array<{ labels: Record<string, string>, value: number }>> => {
    const mesh = c.mesh()
    return mesh === undefined ? [] : (await mesh.status()).policies.flatMap(p => p[key] === null ? [] : [{ labels: { policy: p.name }, value: p[key] }])
  }
  metrics.addGauge('cairn_replication_snapshots_behind', 'Snapshots of a replication policy that one of its targets still lacks', async () => await policyLag('snapshotsBehind'), { named: true })
  metrics.addGauge('cairn_replication_bytes_behind', 'Bytes of a replication policy found missing at a target and not yet sent', async () => await policyLag('bytesBehind'), { named: true })
}
