// The report as one HTML file that opens in a browser from disk, without a server or a network:
// the tables are written out here, the charts are drawn in the page by Chart.js, whose UMD build
// is inlined with the report's data. The console's Capacity planning screen draws the same chart
// specs (PlanChart) with the same library.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { PlanReport } from '../node/index.ts'
import { formatBytes, formatSeconds, localDate } from './units.ts'

const escape = (s: string): string => s.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)

let chartJs: string | undefined
/** Chart.js's UMD build, found beside the package's main file. */
function chartLibrary (): string {
  chartJs ??= readFileSync(join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.js'), 'utf8')
  return chartJs
}

function table (head: string[], rows: string[][]): string {
  return `<table><thead><tr>${head.map(h => `<th>${escape(h)}</th>`).join('')}</tr></thead><tbody>${rows.map(r => `<tr>${r.map(c => `<td>${escape(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`
}

const hours = (h: number): string => h === 0 ? '0' : formatSeconds(h * 3600)
const share = (x: number | null): string => x === null ? '–' : `${(x * 100).toFixed(x < 0.1 ? 1 : 0)} %`

/** Draws every PlanChart of the report into its canvas; plain browser JavaScript, run from the page. */
const DRAW = `
const report = JSON.parse(document.getElementById('report-data').textContent)
const palette = ['#1f6feb', '#d1242f', '#1a7f37', '#9a6700', '#8250df', '#bf3989', '#0969da', '#cf222e', '#116329', '#953800']
const siteColour = new Map()
const colour = site => { if (!siteColour.has(site)) siteColour.set(site, palette[siteColour.size % palette.length]); return siteColour.get(site) }
const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
const bytes = v => { let i = 0; while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++ } return (i === 0 ? v.toFixed(0) : v.toFixed(1)) + ' ' + units[i] }
const value = (unit, v) => unit === 'bytes' ? bytes(v) : unit === 'bytes/s' ? bytes(v) + '/s' : unit === 'percent' ? v.toFixed(0) + ' %' : v.toFixed(1) + ' h'
for (const c of report.charts) {
  const canvas = document.getElementById('chart-' + c.id)
  if (canvas === null || c.series.length === 0) continue
  const points = c.series[0].data.length
  const labels = Array.from({ length: points }, (_, i) => new Date(Date.parse(c.start) + (i + 1) * c.stepHours * 3600e3).toISOString().slice(0, c.stepHours < 24 ? 16 : 10).replace('T', ' '))
  new Chart(canvas, {
    type: 'line',
    data: {
      labels,
      datasets: c.series.map((s, i) => ({
        label: s.label, data: s.data, borderColor: colour(s.site ?? s.label), backgroundColor: colour(s.site ?? s.label),
        borderDash: s.line !== undefined ? [6, 4] : [], borderWidth: s.line !== undefined ? 1 : 2, pointRadius: c.id === 'backup-windows' && s.line === undefined ? 2 : 0,
        spanGaps: c.id !== 'backup-windows', showLine: c.id !== 'backup-windows' || s.line !== undefined
      }))
    },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false, interaction: { mode: 'nearest', intersect: false },
      scales: { x: { ticks: { maxTicksLimit: 12 } }, y: { beginAtZero: true, ticks: { callback: v => value(c.unit, v) } } },
      plugins: { legend: { position: 'bottom' }, tooltip: { callbacks: { label: x => x.dataset.label + ': ' + value(c.unit, x.parsed.y) } } }
    }
  })
}
document.body.dataset.charts = 'drawn'
`

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #1f2328 }
h1 { font-size: 1.5em } h2 { font-size: 1.15em; margin-top: 2em }
table { border-collapse: collapse; margin: .5em 0 } th, td { padding: .25em .7em; border-bottom: 1px solid #d0d7de; text-align: right } th:first-child, td:first-child { text-align: left }
.chart { position: relative; height: 360px; margin: 1em 0 2em }
.finding { margin: .3em 0 } .critical { color: #cf222e } .warning { color: #9a6700 } .info { color: #57606a }
.note { color: #57606a }
`

export function htmlReport (r: PlanReport): string {
  const s = r.scenario
  const findings = r.findings.length === 0
    ? '<p>No findings: every backup fits, every link catches up, every disk lasts the horizon.</p>'
    : r.findings.map(f => `<p class="finding ${f.severity}"><strong>${escape(f.severity)}</strong> ${f.at !== undefined ? escape(localDate(f.at, r.scenario.timeZone)) + ' ' : ''}${escape(f.message)}</p>`).join('')
  const charts = r.charts.filter(c => c.series.length > 0).map(c => `<h2>${escape(c.title)}</h2><div class="chart"><canvas id="chart-${c.id}"></canvas></div>`).join('')
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(s.name)} — Cairn capacity plan</title>
<style>${STYLE}</style></head>
<body>
<h1>${escape(s.name)}</h1>
<p class="note">${s.sites} sites from ${escape(localDate(s.start, s.timeZone))} to ${escape(localDate(s.end, s.timeZone))} (${s.days} days, sampled every ${s.stepHours} h). ${s.profile === null ? 'Built-in speeds and ratios (no calibration profile).' : `Profile: ${escape(s.profile.parts.join(' + '))} measured on ${escape(s.profile.host)} at ${escape(s.profile.measuredAt)}.`} Simulated in ${r.elapsedMs} ms (${r.events} events).</p>
<h2>Findings</h2>${findings}
<h2>Storage per site at the end</h2>
${table(['site', 'role', 'own stores', 'replica', 'total', 'peak', 'capacity', 'full on'], r.sites.map(x => [x.name, x.role, formatBytes(x.end.ownBytes), formatBytes(x.end.replicaBytes), formatBytes(x.end.totalBytes), formatBytes(x.peakBytes), x.capacityBytes === null ? '–' : formatBytes(x.capacityBytes), (x.fullAt === null ? undefined : localDate(x.fullAt, r.scenario.timeZone)) ?? '–']))}
<h2>Backups</h2>
${table(['backup', 'runs', 'skipped', 'mean', 'longest', 'window', 'past window', 'copies kept', 'data at end'], r.tasks.map(t => [`${t.site}/${t.dataset}`, String(t.runs), String(t.skipped + t.collisions), formatSeconds(t.meanSeconds), formatSeconds(t.maxSeconds), t.window === null ? '–' : `${t.window.from}–${t.window.to}`, String(t.pastWindow), String(t.snapshots), formatBytes(t.logicalBytes)]))}
<h2>Copies at other sites</h2>
${table(['copies of', 'at', 'arrived', 'mean lag', 'max lag', 'worst RPO', 'most behind', 'behind at end'], r.lags.map(l => [l.origin, l.target, String(l.snapshotsArrived), hours(l.meanLagHours), hours(l.maxLagHours), hours(l.maxRpoHours), formatBytes(l.maxBytesBehind), formatBytes(l.endBytesBehind)]))}
<h2>Replication links</h2>
${table(['link', 'capacity', 'sent', 'mean use', 'peak use'], r.links.map(l => [`${l.from} → ${l.to}`, l.capacityBytesPerSecond === null ? '–' : `${formatBytes(l.capacityBytesPerSecond)}/s`, formatBytes(l.sentBytes), share(l.meanUtilisation), share(l.peakUtilisation)]))}
${r.archives.length > 0 ? `<h2>Archives</h2>${table(['archive', 'kind', 'sets', 'bytes', 'cartridges'], r.archives.map(a => [`${a.site}/${a.name}`, a.kind, String(a.sets), formatBytes(a.bytes), a.cartridges === null ? '–' : String(a.cartridges)]))}` : ''}
${charts}
<script id="report-data" type="application/json">${JSON.stringify(r).replace(/</g, '\\u003c')}</script>
<script>${chartLibrary().replace(/<\/script/gi, '<\\/script')}</script>
<script>${DRAW}</script>
</body>
</html>
`
}
