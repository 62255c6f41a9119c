// The console's administration screens in a real browser (manual 2.7, 2.8, 2.9.2, F23, F25):
// clients, users, user spaces, mail server and webhook deliveries, a task's details; and the
// keyboard: every dialog keeps the focus inside, closes on Esc and gives the focus back.
// test-suite: browser
import test, { after, before } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser, Page } from 'playwright-core'
import { SMTPServer } from 'smtp-server'
import { answered, apiAs, buildConsole, confirmPassword, freePort, launchBrowser, login, newPage, serve, shoot, until, type Api, type Served } from './testing/e2e-harness.ts'

const ADMIN_PW = 'console e2e head passphrase'
const OP_PW = 'operator password 01'
let served: Served | undefined
let dir = ''
let browser: Browser
let admin: Api
let localNode = ''

before(async () => {
  await buildConsole()
  dir = await mkdtemp(join(tmpdir(), 'cairn-console-admin-e2e-'))
  served = await serve(join(dir, 'node'), ADMIN_PW)
  admin = await apiAs(served.base, 'admin', ADMIN_PW)
  localNode = (await admin('GET', '/api/nodes'))[0].id
  const op = await admin('POST', '/api/users', { name: 'op01', password: OP_PW, role: 'operator' })
  await admin('PATCH', `/api/nodes/${localNode}`, { ownerId: op.id })
  await admin('POST', '/api/spaces', { name: 'op01_space', type: 'backup', nodeId: localNode, ownerId: op.id, capacityBytes: 8 * 1024 ** 3 })
  browser = await launchBrowser()
})

after(async () => {
  await browser?.close()
  await served?.stop()
  if (dir !== '') await rm(dir, { recursive: true, force: true })
})

const adminPage = async (lang: 'zh-CN' | 'en' = 'en'): Promise<Page> => {
  const page = await newPage(browser, lang)
  await login(page, served!.base, 'admin', ADMIN_PW)
  return page
}

/** The controls on screen that no label, aria-label or text names (a screen reader could only say "edit text"). */
const unlabelled = async (page: Page): Promise<string[]> => await page.evaluate(() =>
  [...document.querySelectorAll<HTMLElement>('input, select, textarea, button')]
    .filter(el => el.getClientRects().length > 0 && (el as HTMLInputElement).type !== 'hidden')
    .filter(el => {
      const labels = [...((el as HTMLInputElement).labels ?? [])].some(l => (l.textContent ?? '').trim() !== '')
      const aria = (el.getAttribute('aria-label') ?? '').trim() !== '' || el.getAttribute('aria-labelledby') !== null
      const text = el.tagName === 'BUTTON' && (el.textContent ?? '').trim() !== ''
      return !labels && !aria && !text
    })
    .map(el => el.outerHTML.slice(0, 160)))

test('clients: register one with the API\'s checks, open its details, and delete it with YES and the password', async () => {
  const page = await adminPage()
  await answered(page, 'GET', /^\/api\/nodes$/, async () => await page.click('[data-test=nav-nodes]'))
  await page.click('[data-test=register-node]')
  await page.fill('#reg-name', 'branch-nas')
  await page.fill('#reg-host', 'nas01.branch.example')
  await page.fill('#reg-ip', '192.168.0.300')
  await page.fill('#reg-os', 'Debian 12')
  await page.fill('#reg-version', '0.1.0')
  await page.selectOption('#reg-owner', { label: 'op01' })
  await page.click('[data-test=register-save]')
  // The form refuses the address itself: no request left the browser.
  assert.match(await page.innerText('[data-test=register-error]'), /IPv4 or IPv6/)
  assert.equal((await admin('GET', '/api/nodes')).length, 1)
  await page.fill('#reg-ip', 'fd00::34')
  await shoot(page, 'node-register.png', 'dialog')
  await page.click('[data-test=register-save]')
  // Assigning an owner asks for the admin's password again (issue 13, M4).
  await page.fill('[data-test=reauth-password]', ADMIN_PW)
  const created = await answered(page, 'POST', /^\/api\/nodes$/, async () => await page.click('[data-test=reauth-confirm]'))
  assert.equal(created.status(), 201)
  const row = await page.waitForSelector('tr[data-node="branch-nas"]')
  assert.match(await row.innerText(), /nas01\.branch\.example[\s\S]*Debian 12[\s\S]*fd00::34[\s\S]*File system/)
  await shoot(page, 'nodes.png')

  await page.click('tr[data-node="branch-nas"] [data-test=node-details]')
  const facts = await (await page.waitForSelector('[data-test=node-facts]')).innerText()
  assert.match(facts, /Assigned user\s+op01/)
  assert.match(facts, /Host name\s+nas01\.branch\.example/)
  await shoot(page, 'node-details.png')
  // The local node's details list the user space on it.
  await page.goto(`${served!.base}/#/nodes/${localNode}`)
  await page.waitForSelector('[data-test=node-spaces] td:has-text("op01_space")')

  await answered(page, 'GET', /^\/api\/nodes$/, async () => await page.click('[data-test=nav-nodes]'))
  assert.equal(await page.$(`tr[data-node] [data-test=delete-node] >> nth=1`), null, 'only the registered client can be deleted, not this node')
  await page.click('tr[data-node="branch-nas"] [data-test=delete-node]')
  await page.fill('[data-test=delete-yes]', 'YES')
  await page.fill('[data-test=delete-password]', 'not my password at all')
  await page.click('[data-test=delete-confirm]')
  assert.match(await (await page.waitForSelector('[data-test=reauth-error]')).innerText(), /password|credentials/i)
  await page.fill('[data-test=delete-password]', ADMIN_PW)
  const removed = await answered(page, 'DELETE', /^\/api\/nodes\//, async () => await page.click('[data-test=delete-confirm]'))
  assert.equal(removed.status(), 200)
  await page.waitForSelector('tr[data-node="branch-nas"]', { state: 'detached' })
  assert.equal((await admin('GET', '/api/nodes')).length, 1)
  await page.context().close()
})

test('users: create one with the API\'s name rule, refuse to delete an owner of a space, delete the new one', async () => {
  const page = await adminPage()
  await answered(page, 'GET', /^\/api\/users$/, async () => await page.click('[data-test=nav-users]'))
  await page.click('[data-test=new-user]')
  await page.fill('#u-name', 'temp user')
  await page.fill('#u-pw', 'a long enough password')
  await page.click('[data-test=user-save]')
  assert.match(await page.innerText('[data-test=user-error]'), /letters, digits/)
  await page.fill('#u-name', 'temp_auditor')
  await page.selectOption('#u-role', 'auditor')
  await page.fill('#u-email', 'not-an-address')
  await page.click('[data-test=user-save]')
  assert.match(await page.innerText('[data-test=user-error]'), /e-mail/)
  await page.fill('#u-email', 'temp@example.com')
  await page.click('[data-test=user-save]')
  await page.fill('[data-test=reauth-password]', 'not my password at all')
  await page.click('[data-test=reauth-confirm]')
  assert.match(await (await page.waitForSelector('[data-test=reauth-error]')).innerText(), /User name or password is wrong/, 'a wrong password creates no user')
  await confirmPassword(page, ADMIN_PW)
  await page.waitForSelector('tr[data-user="temp_auditor"]')
  assert.equal(await page.$('tr[data-user="admin"] [data-test=delete-user]'), null, 'no delete button for yourself')

  // op01 owns a space and a client: the node refuses, and the dialog says why.
  await page.click('tr[data-user="op01"] [data-test=delete-user]')
  await page.fill('[data-test=delete-yes]', 'YES')
  await page.fill('[data-test=delete-password]', ADMIN_PW)
  await page.click('[data-test=delete-confirm]')
  assert.match(await (await page.waitForSelector('[data-test=reauth-error]')).innerText(), /still used by .*space op01_space/)
  await page.keyboard.press('Escape')
  await page.waitForSelector('[data-test=reauth-dialog]', { state: 'detached' })

  await page.click('tr[data-user="temp_auditor"] [data-test=delete-user]')
  await page.fill('[data-test=delete-yes]', 'YES')
  await page.fill('[data-test=delete-password]', ADMIN_PW)
  await shoot(page, 'user-delete.png', 'dialog')
  await page.click('[data-test=delete-confirm]')
  await page.waitForSelector('tr[data-user="temp_auditor"]', { state: 'detached' })
  assert.ok(!(await admin('GET', '/api/users')).some((u: { name: string }) => u.name === 'temp_auditor'))
  await page.context().close()
})

test('user spaces: the form checks the name, and a space no task uses is deleted', async () => {
  await admin('POST', '/api/spaces', { name: 'spare_space', type: 'replication', nodeId: localNode, ownerId: (await admin('GET', '/api/users')).find((u: { name: string }) => u.name === 'op01').id, capacityBytes: 3 * 1024 ** 4 })
  const page = await adminPage('zh-CN')
  await page.click('[data-test=nav-spaces]')
  const row = await page.waitForSelector('tr[data-space="spare_space"]')
  assert.match(await row.innerText(), /复制空间[\s\S]*3\.00 TB/)
  await page.click('[data-test=new-space]')
  await page.click('[data-test=space-form] button[type=submit]')
  assert.match(await page.innerText('[data-test=space-error]'), /名称需 1 到 64 个字符/)
  await page.keyboard.press('Escape')
  await page.click('tr[data-space="spare_space"] [data-test=delete-space]')
  await page.fill('[data-test=delete-yes]', 'YES')
  await page.fill('[data-test=delete-password]', ADMIN_PW)
  await page.click('[data-test=delete-confirm]')
  await page.waitForSelector('tr[data-space="spare_space"]', { state: 'detached' })
  assert.match(await page.innerText('[data-test=spaces] [role=status]'), /spare_space/)
  await shoot(page, 'spaces.png')
  await page.context().close()
})

test('DR escrow: a space\'s keys download with a recovery key shown once; adopting needs the mesh, and the dialog says so', async () => {
  const page = await adminPage()
  await page.click('[data-test=nav-spaces]')
  await page.click('tr[data-space="op01_space"] [data-test=escrow-space]')
  await page.fill('[data-test=delete-yes]', 'YES')
  await page.fill('[data-test=delete-password]', ADMIN_PW)
  await answered(page, 'POST', /\/api\/spaces\/[^/]+\/escrow$/, async () => { await page.click('[data-test=delete-confirm]') })
  const recoveryKey = (await page.innerText('[data-test=escrow-recovery-key]')).trim()
  assert.match(recoveryKey, /^[A-Z0-9]{5}(-[A-Z0-9]{5}){7}$/)
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-test=escrow-download]')])
  const file = join(dir, 'escrow.json')
  await download.saveAs(file)
  const escrow = JSON.parse(await readFile(file, 'utf8'))
  assert.equal(escrow.space.name, 'op01_space')
  assert.ok(escrow.keys.slots.some((slot: { kind: string, label: string }) => slot.kind === 'recovery' && slot.label === 'escrow'))
  assert.ok(!JSON.stringify(escrow).includes(recoveryKey), 'the file does not carry the recovery key')
  await shoot(page, 'space-escrow.png', 'dialog')
  await page.keyboard.press('Escape')

  await page.click('[data-test=adopt-space]')
  await page.setInputFiles('[data-test=adopt-file]', file)
  await page.fill('[data-test=adopt-key]', recoveryKey)
  assert.equal(await page.inputValue('#ad-name'), 'dr-op01_space')
  await page.fill('[data-test=delete-yes]', 'YES')
  await page.fill('[data-test=delete-password]', ADMIN_PW)
  await answered(page, 'POST', /\/api\/spaces\/adopt$/, async () => { await page.click('[data-test=delete-confirm]') })
  assert.match(await page.innerText('[data-test=reauth-error]'), /mesh/i)
  await page.context().close()
})

test('notifications: the admin sets the mail server and sends a test mail; each webhook shows its deliveries', async () => {
  const mails: Array<{ to: string[], text: string }> = []
  const smtp = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'], logger: false,
    onData (stream, session, done) {
      const parts: Buffer[] = []
      stream.on('data', (b: Buffer) => parts.push(b))
      stream.on('end', () => { mails.push({ to: session.envelope.rcptTo.map(r => r.address), text: Buffer.concat(parts).toString('utf8') }); done() })
    }
  })
  await new Promise<void>(resolve => smtp.listen(0, '127.0.0.1', resolve))
  const smtpPort = ((smtp as unknown as { server: { address: () => AddressInfo } }).server.address()).port
  let received = 0
  const receiver = createServer((req, res) => { req.resume(); req.on('end', () => { received++; res.end('ok') }) })
  await new Promise<void>(resolve => receiver.listen(0, '127.0.0.1', resolve))
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/cairn`
  const deadUrl = `http://127.0.0.1:${await freePort()}/nobody-listens`
  const page = await adminPage()
  try {
    await answered(page, 'GET', /^\/api\/settings\/smtp$/, async () => await page.click('[data-test=nav-notify]'))
    await page.fill('[data-test=smtp-host]', '127.0.0.1')
    await page.fill('[data-test=smtp-port]', '70000')
    await page.fill('[data-test=smtp-from]', 'Cairn <cairn@example.test>')
    await page.click('[data-test=smtp-save]')
    assert.match(await page.innerText('[data-test=smtp-error]'), /1 … 65535/)
    await page.fill('[data-test=smtp-port]', String(smtpPort))
    await page.click('[data-test=smtp-save]')
    await page.fill('[data-test=reauth-password]', ADMIN_PW)
    await answered(page, 'PUT', /^\/api\/settings\/smtp$/, async () => await page.click('[data-test=reauth-confirm]'))
    await page.waitForSelector('[data-test=smtp-notice]')
    assert.deepEqual(await admin('GET', '/api/settings/smtp'), { host: '127.0.0.1', port: smtpPort, secure: false, from: 'Cairn <cairn@example.test>', allowSelfSigned: false })
    await page.fill('[data-test=smtp-test-to]', 'ops@example.test')
    await answered(page, 'POST', /^\/api\/settings\/smtp\/test$/, async () => await page.click('[data-test=smtp-test]'))
    assert.match(await page.innerText('[data-test=smtp-notice]'), /Test mail sent/)
    assert.deepEqual(mails.map(m => m.to), [['ops@example.test']])
    assert.match(mails[0].text, /Subject: \[Cairn\] Test mail/)

    for (const url of [hookUrl, deadUrl]) {
      await page.fill('[data-test=hook-url]', url)
      await page.check('[data-event=login]')
      await page.check('[data-test=hook-local]')
      await page.click('[data-test=hook-add]')
      await confirmPassword(page, ADMIN_PW)
      await page.waitForSelector(`tr[data-hook="${url}"]`)
    }
    // A login is a "login" event: both hooks get a delivery; one is answered, the other cannot connect.
    await apiAs(served!.base, 'op01', OP_PW)
    const hooks = await admin('GET', '/api/webhooks') as Array<{ id: string, url: string }>
    const deliveries = async (url: string): Promise<Array<{ status: string, attempts: unknown[] }>> => (await admin('GET', `/api/webhooks/${hooks.find(h => h.url === url)!.id}/deliveries`)).items
    await until('the receiver got its delivery', async () => await deliveries(hookUrl), d => d.some(x => x.status === 'delivered'))
    await until('the dead URL was tried', async () => await deliveries(deadUrl), d => d.some(x => x.attempts.length > 0))
    assert.ok(received >= 1)

    await answered(page, 'GET', /\/deliveries$/, async () => await page.click(`tr[data-hook="${hookUrl}"] [data-test=hook-deliveries]`))
    const ok = await page.waitForSelector('[data-test=deliveries] tr[data-delivery=delivered]')
    assert.match(await ok.innerText(), /Login\s+delivered\s+1\s+HTTP 200/)
    await shoot(page, 'webhook-deliveries.png', 'dialog')
    await page.keyboard.press('Escape')
    await answered(page, 'GET', /\/deliveries$/, async () => await page.click(`tr[data-hook="${deadUrl}"] [data-test=hook-deliveries]`))
    const retrying = await page.waitForSelector('[data-test=deliveries] tr[data-delivery=pending]')
    assert.match(await retrying.innerText(), /retrying[\s\S]*(fetch failed|ECONNREFUSED)/)
    await page.keyboard.press('Escape')
    await page.waitForSelector('[data-test=deliveries]', { state: 'detached' })
    await shoot(page, 'notifications.png')
  } finally {
    await page.context().close()
    await new Promise<void>(resolve => smtp.close(() => resolve()))
    receiver.close()
  }
})

test('replication: a node that runs no mesh says so, with how to make one', async () => {
  const page = await adminPage('zh-CN')
  const r = await answered(page, 'GET', /^\/api\/mesh$/, async () => await page.click('[data-test=nav-mesh]'))
  assert.equal(r.status(), 200)
  assert.deepEqual(await r.json(), { configured: false })
  assert.match(await (await page.waitForSelector('[data-test=mesh-none]')).innerText(), /本节点未加入复制网络[\s\S]*cairn mesh init/)
  assert.equal(await page.$('[data-test=replicate]'), null, 'nothing to replicate to')
  assert.equal(await page.$('[data-test=mesh] [role=alert]'), null, 'no error shown')
  await shoot(page, 'mesh-none.png')
  await page.context().close()
})

test('keyboard: a dialog keeps Tab inside, closes on Esc and gives the focus back; the focused control shows an outline', async () => {
  const page = await adminPage()
  await page.click('[data-test=nav-nodes]')
  const opener = await page.waitForSelector('[data-test=register-node]')
  await opener.focus()
  await page.keyboard.press('Enter')
  await page.waitForSelector('[data-test=register-form]')
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'reg-name', 'the first field has the focus')
  const inDialog = async (): Promise<boolean> => await page.evaluate(() => document.activeElement?.closest('[role=dialog]') !== null)
  const focusedTest = async (): Promise<string | null> => await page.evaluate(() => document.activeElement?.getAttribute('data-test') ?? document.activeElement?.id ?? null)
  const stops = await page.evaluate(() => document.querySelectorAll('[role=dialog] input, [role=dialog] select, [role=dialog] button').length)
  for (let i = 0; i < stops + 2; i++) {
    await page.keyboard.press('Tab')
    assert.ok(await inDialog(), `Tab ${i + 1} stays in the dialog`)
  }
  await page.focus('#reg-name')
  await page.keyboard.press('Shift+Tab')
  assert.ok(await inDialog(), 'Shift+Tab from the first field wraps to the last control')
  assert.notEqual(await focusedTest(), 'reg-name')
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)
  assert.notEqual(outline, 'none', 'the focused control is visibly marked')
  await page.keyboard.press('Escape')
  await page.waitForSelector('[data-test=register-form]', { state: 'detached' })
  assert.equal(await focusedTest(), 'register-node', 'the focus is back on the button that opened the dialog')

  // The screen lock is a dialog too, but Esc does not close it.
  await page.click('[data-test=lock]')
  await page.waitForSelector('.lock #unlock-pw')
  await page.keyboard.press('Escape')
  assert.ok(await page.isVisible('.lock #unlock-pw'))
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'unlock-pw')
  await page.fill('#unlock-pw', ADMIN_PW)
  await page.keyboard.press('Enter')
  await page.waitForSelector('.lock', { state: 'detached' })
  await page.context().close()
})

test('every control on every screen and dialog has a label', async () => {
  const page = await adminPage()
  const problems: string[] = []
  const screens = await page.evaluate(() => [...document.querySelectorAll('nav a')].map(a => a.getAttribute('data-test')!))
  assert.ok(screens.length >= 15)
  for (const nav of screens) {
    await page.click(`[data-test=${nav}]`)
    await page.waitForSelector(`main section`)
    await page.waitForLoadState('networkidle')
    for (const p of await unlabelled(page)) problems.push(`${nav}: ${p}`)
  }
  for (const [nav, opener] of [['nav-nodes', 'register-node'], ['nav-users', 'new-user'], ['nav-spaces', 'new-space'], ['nav-nodes', 'edit-node']]) {
    await page.click(`[data-test=${nav}]`)
    await page.click(`[data-test=${opener}] >> nth=0`)
    await page.waitForSelector('[role=dialog]')
    for (const p of await unlabelled(page)) problems.push(`${opener} dialog: ${p}`)
    await page.keyboard.press('Escape')
    await page.waitForSelector('[role=dialog]', { state: 'detached' })
  }
  await page.click('[data-test=change-password]')
  for (const p of await unlabelled(page)) problems.push(`password dialog: ${p}`)
  assert.deepEqual(problems, [])
  await page.context().close()
})
