// The replication screen (manual 2.4, F9–F12) with two real `cairn serve` daemons in one mesh over
// TCP on 127.0.0.1 (issue 6: "see the mesh view with two nodes"): the head office invites the DR
// site from the Invite dialog, sets a policy in the form, sees its target and health after a backup,
// replicates now and watches the job; the DR site registered itself as a client at the head office,
// where the admin authorises its agent; the DR site's own screen shows its link back.
// test-suite: browser
import test, { after, before } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { answered, apiAs, buildConsole, cairn, cspViolations, freePort, launchBrowser, login, newPage, serve, shoot, until, type Api, type Served } from './testing/e2e-harness.ts'

const PW = 'mesh e2e head passphrase'
const LISTEN = '/ip4/127.0.0.1/tcp/0'
let dir = ''
let browser: Browser
let A: Served | undefined
let B: Served | undefined
let a: Api
let b: Api

const meshOf = async (api: Api): Promise<any> => await api('GET', '/api/mesh')
const jobDone = async (api: Api, id: string): Promise<any> => await until(`job ${id} ends`, async () => await api('GET', `/api/jobs/${id}`), j => j.status !== 'running', 30)

before(async () => {
  await buildConsole()
  dir = await mkdtemp(join(tmpdir(), 'cairn-console-mesh-e2e-'))
  await mkdir(join(dir, 'src'))
  await writeFile(join(dir, 'src', 'ledger.bin'), randomBytes(256 * 1024))
  await writeFile(join(dir, 'src', 'notes.txt'), 'quarterly figures\n'.repeat(2000))
  // The head office makes the mesh in <data>/mesh (it keeps the mesh key); cairn serve hosts it.
  await cairn(['mesh', 'init', '--mesh-dir', join(dir, 'a', 'mesh'), '--site', 'hq', '--role', 'head', '--listen', LISTEN])
  A = await serve(join(dir, 'a'), PW, ['--replicate-every', '3600'])
  a = await apiAs(A.base, 'admin', PW)
  browser = await launchBrowser()
})

after(async () => {
  await browser?.close()
  await Promise.all([A?.stop(), B?.stop()])
  if (dir !== '') await rm(dir, { recursive: true, force: true })
})

const openMesh = async (base: string, lang: 'zh-CN' | 'en' = 'en'): Promise<Page> => {
  const page = await newPage(browser, lang)
  await login(page, base, 'admin', PW)
  const r = await answered(page, 'GET', /^\/api\/mesh$/, async () => await page.click('[data-test=nav-mesh]'))
  assert.equal(r.status(), 200)
  await page.waitForSelector('[data-test=mesh-members] tbody tr')
  return page
}
const refresh = async (page: Page): Promise<void> => { await answered(page, 'GET', /^\/api\/mesh$/, async () => await page.click('[data-test=mesh-refresh]')) }

test('the head office invites a DR site from the Invite dialog; once it joins, both sites show connected', async () => {
  const page = await openMesh(A!.base)
  // hq listens on port 0: the member list has no address for it, the screen shows the ones it listens on.
  assert.match(await page.innerText('[data-test=mesh-members] tbody'), /^hq \(this node\)\s+Head office\s+12D3\S+…\S+\s+\/ip4\/127\.0\.0\.1\/tcp\/\d+\s+this node\s*$/)
  assert.equal(await page.innerText('[data-test=mesh-connected]'), '1 / 1')
  await page.click('[data-test=invite]')
  await page.fill('#ttl', '0')
  await page.click('[data-test=invite-submit]')
  assert.match(await page.innerText('[data-test=invite-error]'), /1 to 720 whole hours/)
  await page.fill('#ttl', '2')
  // An invitation is a credential: the admin's password again (issue 13, M4).
  await page.click('[data-test=invite-submit]')
  await page.fill('[data-test=reauth-password]', PW)
  const made = await answered(page, 'POST', /^\/api\/mesh\/invitations$/, async () => await page.click('[data-test=reauth-confirm]'))
  assert.equal(made.status(), 201)
  const invitation = await (await page.waitForSelector('[data-test=invitation]')).inputValue()
  assert.equal(invitation, (await made.json()).invitation)
  await shoot(page, 'mesh-invite.png', 'dialog')
  await page.keyboard.press('Escape')

  // A port of its own, so that the member list holds B's address (a /tcp/0 listener joins with none).
  const bListen = `/ip4/127.0.0.1/tcp/${await freePort()}`
  await cairn(['mesh', 'join', invitation, '--mesh-dir', join(dir, 'b', 'mesh'), '--site', 'dr-1', '--role', 'dr', '--listen', bListen])
  B = await serve(join(dir, 'b'), PW, ['--replicate-every', '3600'])
  b = await apiAs(B.base, 'admin', PW)
  await until('A is connected to B', async () => await meshOf(a), m => m.members.length === 2 && m.members.every((x: any) => x.self || x.connected), 30)
  await refresh(page)
  assert.equal(await page.innerText('[data-test=mesh-connected]'), '2 / 2')
  assert.match(await page.innerText('tr[data-site="dr-1"]'), new RegExp(`^dr-1\\s+DR site\\s+12D3\\S+…\\S+\\s+${bListen.replaceAll('.', '\\.')}\\s+connected\\s+Remove$`))
  assert.match(await page.innerText('[data-test=mesh-summary]'), /Open invitations\s+0/, 'the invitation was used')
  await page.context().close()
})

test('a policy set in the form shows its target, and its health after a backup; Replicate now runs a job the monitor shows succeeding', async () => {
  const nodeId = (await a('GET', '/api/nodes')).find((n: any) => n.local).id
  const adminId = (await a('GET', '/api/users')).find((u: any) => u.name === 'admin').id
  const space = await a('POST', '/api/spaces', { name: 'sales', type: 'backup', nodeId, ownerId: adminId, capacityBytes: 2 ** 30 })
  const task = await a('POST', '/api/tasks', { name: 'sales-docs', nodeId, spaceId: space.id, sources: { include: [join(dir, 'src')] } })

  const page = await openMesh(A!.base)
  assert.match(await page.innerText('[data-test=mesh-policies] tbody'), /No policy/)
  await page.click('[data-test=edit-policies]')
  await page.click('[data-test=add-policy]')
  await page.fill('[data-test=policy-name]', 'sales-dr')
  await page.fill('[data-test=policy-copies]', '10')
  await page.check('[data-test=policy-form] [data-role=dr]')
  await page.fill('[data-test=policy-spaces]', 'sales')
  await page.click('[data-test=policy-form] [data-test=add-window]')
  await page.fill('[data-test=window-mibps]', '50')
  for (const d of [1, 2, 3, 4, 5]) await page.check(`[data-test=bw-window] [data-day="${d}"]`)
  await page.click('[data-test=policy-save]')
  assert.match(await page.innerText('[data-test=policy-error]'), /1 … 9/)
  await page.fill('[data-test=policy-copies]', '2')
  await shoot(page, 'mesh-policies.png', 'dialog')
  const put = await answered(page, 'PUT', /^\/api\/mesh\/policies$/, async () => await page.click('[data-test=policy-save]'))
  assert.equal(put.status(), 200)
  await page.waitForSelector('[data-test=policy-form]', { state: 'detached' })
  await refresh(page)
  assert.match(await page.innerText('tr[data-policy="sales-dr"]'), /^sales-dr\s+2\s+DR site\s+any\s+sales\s+dr-1\s/)
  assert.match(await page.innerText('[data-test=mesh-bandwidth]'), /Outside the windows: unlimited[\s\S]*08:00\s+18:00\s+50 MiB\/s\s+Mon, Tue, Wed, Thu, Fri/)

  // The backup's end starts replication to the policy's target.
  const backup = await jobDone(a, (await a('POST', `/api/tasks/${task.id}/start`, {})).id)
  assert.equal(backup.status, 'success', JSON.stringify(backup))
  await until('the policy reports dr-1 caught up', async () => (await meshOf(a)).policies.find((p: { name: string }) => p.name === 'sales-dr'), p => p?.health === 'ok' && p.snapshotsBehind === 0 && p.bytesBehind === 0, 30)
  // The screen as the operator refreshes it: caught up once the node says so (a refresh that
  // raced the node's own view of the replica can still show the backup's snapshot behind).
  await until('the screen shows dr-1 up to date', async () => { await refresh(page); return await page.innerText('tr[data-policy="sales-dr"]') }, row => /dr-1\s+0\s+0 B\s+up to date$/.test(row), 30)
  assert.match(await page.innerText('tr[data-link="dr-1"]'), /^dr-1\s+DR site\s+up to date\s+0\s+0\s+0 B\s+\S/)

  await page.click('[data-test=replicate]')
  await page.waitForURL(/#\/monitor\/[^/]+$/)
  const jobId = decodeURIComponent(page.url().replace(/^.*#\/monitor\//, ''))
  await page.waitForSelector('[data-test=job-status][data-status=success]')
  const job = await a('GET', `/api/jobs/${jobId}`)
  assert.equal(job.type, 'replicate')
  assert.equal(job.result.links, 1)
  assert.deepEqual(job.result.errors, [])
  await answered(page, 'GET', /^\/api\/mesh$/, async () => await page.click('[data-test=nav-mesh]'))
  await page.waitForSelector('tr[data-link="dr-1"]')
  await shoot(page, 'mesh-en.png')
  await page.context().close()
})

test('the DR site registered itself as a client at the head office: no agent until the admin authorises one', async () => {
  await until('dr-1 is a node at hq', async () => await a('GET', '/api/nodes'), nodes => nodes.some((n: any) => n.mesh?.site === 'dr-1' && n.version !== ''))
  const page = await newPage(browser)
  await login(page, A!.base, 'admin', PW)
  await answered(page, 'GET', /^\/api\/nodes$/, async () => await page.click('[data-test=nav-nodes]'))
  const row = 'tr[data-node="dr-1"]'
  await page.waitForSelector(row)
  assert.equal(await page.innerText(`${row} [data-test=node-site]`), 'dr-1 · DR site')
  assert.equal(await page.innerText(`${row} [data-test=node-agents]`), 'none (not authorised)')
  assert.match(await page.innerText(`${row}`), /127\.0\.0\.1[\s\S]*online/)
  assert.equal(await page.innerText('tr[data-node]:has-text("this node") [data-test=node-site]'), 'hq · Head office')
  await shoot(page, 'nodes-mesh.png')
  await page.click(`${row} [data-test=edit-node]`)
  await page.check('[role=dialog] input[value=filesystem]')
  await page.click('[role=dialog] button[type=submit]')
  await page.fill('[data-test=reauth-password]', PW)
  const patched = await answered(page, 'PATCH', /^\/api\/nodes\/[^/]+$/, async () => await page.click('[data-test=reauth-confirm]'))
  assert.equal(patched.status(), 200)
  await page.waitForFunction(sel => document.querySelector(sel)?.textContent === 'File system', `${row} [data-test=node-agents]`)
  assert.deepEqual((await a('GET', '/api/nodes')).find((n: any) => n.name === 'dr-1').agentTypes, ['filesystem'])

  await page.click(`${row} [data-test=node-details]`)
  const facts = await (await page.waitForSelector('[data-test=node-facts]')).innerText()
  assert.match(facts, /Mesh site\s+dr-1 · DR site\s+Peer id\s+12D3\S+/)
  assert.match(facts, /Authorised agent types\s+File system/)
  await page.context().close()
})

test('the DR site\'s own screen: both sites connected, its link and policy back to the head office, no invitations', async () => {
  // A policy of B's own: a second copy at the head office of what B holds (cascade).
  await b('PUT', '/api/mesh/policies', { policies: [{ name: 'to-head', copies: 2, roles: ['head'] }] })
  const job = await jobDone(b, (await b('POST', '/api/mesh/replicate')).jobId)
  assert.equal(job.status, 'success', JSON.stringify(job))
  const page = await openMesh(B!.base)
  assert.equal(await page.innerText('[data-test=mesh-connected]'), '2 / 2')
  assert.match(await page.innerText('tr[data-site="hq"]'), /^hq\s+Head office[\s\S]*\sconnected/)
  assert.match(await page.innerText('tr[data-link="hq"]'), /^hq\s+Head office\s+up to date\s+0\s+0\s+0 B\s+\S/)
  assert.match(await page.innerText('tr[data-policy="to-head"]'), /^to-head\s+2\s+Head office\s+any\s+all\s+hq\s+0\s+0 B\s+up to date$/)
  // The head office's backup arrived with its manifest: kept here, locked from its arrival (issue 18).
  assert.match(await page.innerText('[data-test=mesh-space] tr[data-origin="hq"]'), /^hq\s+1\s+[\d.]+ [KM]i?B\s+0 B\s+—$/)
  assert.match(await page.innerText('[data-test=mesh-locks] tbody tr'), /^hq\s+\S{12}\s+.+\s+kept$/)
  assert.equal(await page.$('[data-test=invite]'), null, 'only a site that holds the mesh key invites')
  assert.equal(await page.$('[data-test=remove-member]'), null, 'nor removes a site')
  await page.context().close()

  // The head office's screen in Chinese, for the manual's readers.
  const zh = await openMesh(A!.base, 'zh-CN')
  await zh.waitForSelector('tr[data-link="dr-1"] td.status-success')
  assert.match(await zh.innerText('tr[data-site="dr-1"]'), /灾备站点[\s\S]*已连接/)
  assert.match(await zh.innerText('tr[data-policy="sales-dr"]'), /已同步$/)
  await shoot(zh, 'mesh-zh-CN.png')
  await zh.context().close()
})

test('the map of the mesh (issue 19): sites with role, state and bytes, arrows coloured by health with their lag; a click opens the details', async () => {
  // The head office: its box, dr-1's box, and the link hq → dr-1 drawn green with "up to date".
  const page = await openMesh(A!.base)
  const map = '[data-test=mesh-map]'
  await page.waitForSelector(`${map} [data-map-site="dr-1"]`)
  assert.match(await page.innerText(`${map} [data-map-site="hq"]`), /^hq\s+Head office\s+this node\s+stores [\d.]+ [KM]i?B$/)
  assert.match(await page.innerText(`${map} [data-map-site="dr-1"]`), /^dr-1\s+DR site\s+connected/)
  const link = `${map} .vue-flow__edge.map-link-dr-1`
  assert.match(await page.getAttribute(link, 'class') ?? '', /\bhealth-ok\b/)
  assert.equal(await page.$eval(`${link} .vue-flow__edge-text`, el => el.textContent), 'up to date')
  // The arrow's colour is the health's, as the browser paints it.
  assert.equal(await page.$eval(`${link} .vue-flow__edge-path`, el => getComputedStyle(el).stroke), 'rgb(24, 92, 43)')
  await page.click(`${link} .vue-flow__edge-textwrapper`)
  const details = await (await page.waitForSelector('[data-test=map-details]')).innerText()
  assert.match(details, /^hq → dr-1\s+Health\s+up to date\s+Snapshots behind\s+0\s+Blocks behind\s+0\s+Data behind\s+0 B\s+Last run\s+\S/)
  assert.match(details, /Replication policies\s+sales-dr/)
  await page.click(`${map} [data-map-site="dr-1"]`)
  await page.waitForFunction(() => document.querySelector('[data-test=map-details] h3')?.textContent?.startsWith('dr-1'))
  assert.match(await page.innerText('[data-test=map-details]'), /^dr-1 · DR site\s+State\s+connected\s+Peer id\s+12D3\S+\s+Addresses\s+\/ip4\/127\.0\.0\.1\/tcp\/\d+/)
  // From the keyboard: a box takes the focus, and Enter opens its details as a click does.
  await page.focus(`${map} .vue-flow__node:has([data-map-site="hq"])`)
  await page.keyboard.press('Enter')
  await page.waitForFunction(() => document.querySelector('[data-test=map-details] h3')?.textContent?.startsWith('hq'))
  assert.match(await page.getAttribute(`${map} .vue-flow__node:has([data-map-site="dr-1"])`, 'aria-label') ?? '', /^dr-1, DR site, connected/)
  await page.click(`${map} [data-map-site="dr-1"]`)
  await page.waitForFunction(() => document.querySelector('[data-test=map-details] h3')?.textContent?.startsWith('dr-1'))
  await shoot(page, 'mesh-map-en.png')
  await page.context().close()

  // The DR site in Chinese: hq's snapshots came in (dashed arrow hq → dr-1), and its own link goes back to hq.
  const zh = await openMesh(B!.base, 'zh-CN')
  await zh.waitForSelector(`${map} .vue-flow__edge.map-received-hq`)
  assert.match(await zh.innerText(`${map} [data-map-site="dr-1"]`), /^dr-1\s+灾备站点\s+本节点/)
  assert.match(await zh.innerText(`${map} [data-map-site="hq"]`), /^hq\s+总部\s+已连接\s+其数据在本站点 [\d.]+ [KM]i?B$/)
  assert.equal(await zh.$eval(`${map} .vue-flow__edge.map-received-hq .vue-flow__edge-text`, el => el.textContent), '已收到 1 个快照')
  assert.equal(await zh.$eval(`${map} .vue-flow__edge.map-link-hq .vue-flow__edge-text`, el => el.textContent), '已同步')
  await zh.click(`${map} .vue-flow__edge.map-received-hq .vue-flow__edge-textwrapper`)
  assert.match(await (await zh.waitForSelector('[data-test=map-details]')).innerText(), /^hq → dr-1\s+其在本站点的快照\s+1\s/)
  // What a screen reader hears is Chinese too (Vue Flow's own descriptions are English).
  assert.equal(await zh.$eval('#vue-flow__node-desc-mesh-map', el => el.textContent), '复制网络中的站点。按回车键或空格键在拓扑图下方显示其详情。')
  assert.equal(await zh.getAttribute(`${map} .vue-flow__edge.map-link-hq`, 'aria-label'), 'dr-1 → hq、已同步')
  await shoot(zh, 'mesh-map-zh-CN.png')
  await zh.context().close()
  assert.deepEqual(cspViolations, [], 'the map runs under the node\'s Content-Security-Policy')
})
