// Generated scenarios for the speed benchmark: a head office, DR sites and many branches, each
// branch with data sets of its own, daily and weekly backups at a handful of standard times,
// retention, policies that send every branch to a DR site and the head office's data to two, and
// bandwidth windows on branch links — what a chain of branch offices looks like.
import type { ScenarioInput, SiteInput } from '../scenario.ts'

const TIMES = ['00:30', '01:00', '01:30', '02:00', '22:00', '23:00']

export function generatedScenario (sites: number, horizon: string, step = '1h'): ScenarioInput {
  const drs = Math.max(1, Math.round(sites / 25))
  const list: SiteInput[] = []
  list.push({
    name: 'hq', role: 'head', capacity: '400TB',
    datasets: [
      { name: 'files', size: '40TB', files: 20_000_000, growth: '40GB', change: '1%', compressibility: 0.7, duplication: 0.15, backup: { schedules: [{ kind: 'weekly', days: [1, 2, 3, 4, 5, 6], time: '01:00' }, { kind: 'weekly', days: [0], time: '01:00', level: 'full' }], retention: { copies: 30, days: 60 }, window: { from: '00:00', to: '07:00' } } },
      { name: 'db', size: '8TB', files: 2000, growth: '0.2%', change: '5%', compressibility: 0.5, backup: { schedules: [{ kind: 'interval', time: '00:00', everyMinutes: 360 }], retention: { copies: 28 } } }
    ],
    replication: { policies: [{ name: 'hq-dr', copies: 3, roles: ['dr'] }] }
  })
  for (let i = 0; i < drs; i++) list.push({ name: `dr-${i + 1}`, role: 'dr', capacity: '1PB' })
  for (let i = 0; i < sites - 1 - drs; i++) {
    const dr = `dr-${(i % drs) + 1}`
    list.push({
      name: `branch-${i + 1}`, role: 'branch', capacity: `${20 + (i % 5) * 10}TB`,
      timeZone: i % 3 === 0 ? 'Asia/Urumqi' : 'Asia/Shanghai',
      datasets: [
        { name: 'office', size: `${200 + (i % 7) * 150}GB`, files: 400_000, growth: `${1 + (i % 4)}GB`, change: '2%', compressibility: 0.6, duplication: 0.1, backup: { schedules: [{ kind: 'daily', time: TIMES[i % TIMES.length] }], retention: { copies: 14, days: 30 }, window: { from: '22:00', to: '06:00' } } },
        ...(i % 4 === 0 ? [{ name: 'erp', size: '500GB', growth: '0.1%', change: '8%', compressibility: 0.4, backup: { schedules: [{ kind: 'daily' as const, time: TIMES[(i + 2) % TIMES.length] }], retention: { copies: 7 } } }] : [])
      ],
      replication: { policies: [{ name: 'to-dr', copies: 2, sites: [dr] }], bandwidth: { windows: [{ from: '08:00', to: '18:00', mibps: 2, days: [1, 2, 3, 4, 5] }], defaultMibps: 20 } }
    })
  }
  const links = list.filter(s => s.role === 'branch').map((s, i) => ({ sites: [s.name, `dr-${(i % drs) + 1}`] as [string, string], bandwidth: `${50 + (i % 4) * 50}Mbit/s`, rttMs: 20 + (i % 5) * 10 }))
  for (let d = 0; d < drs; d++) links.push({ sites: ['hq', `dr-${d + 1}`], bandwidth: '1Gbit/s', rttMs: 15 })
  return { format: 'cairn-scenario', version: 1, name: `${sites} sites, ${horizon}`, start: '2027-01-04', horizon, step, timeZone: 'Asia/Shanghai', sites: list, links }
}
