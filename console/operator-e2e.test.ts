// A branch-office operator's days with the console only (issue 19): a new operator goes from no
// access to a first backup, each empty list telling them what to ask the admin for, and the admin
// doing it in the console. Debian's Chromium through playwright-core against a real `cairn serve`
// started through the package's bin.
// test-suite: browser
import test, { after, before } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { buildConsole, confirmPassword, launchBrowser, login as loginAt, newPage as openPage, serve, shoot, type Served } from './testing/e2e-harness.ts'

const ADMIN_PW = 'head office lead passphrase'
const OP_PW = 'quiet harbour lantern 7'
let served: Served | undefined
let base = ''
let dir = ''
let browser: Browser
const src = (): string => join(dir, 'office')

const newPage = async (lang: 'zh-CN' | 'en'): Promise<Page> => await openPage(browser, lang)
const login = async (page: Page, name: string, password: string): Promise<void> => await loginAt(page, base, name, password)

before(async () => {
  await buildConsole()
  dir = await mkdtemp(join(tmpdir(), 'cairn-operator-e2e-'))
  await mkdir(join(src(), 'contracts'), { recursive: true })
  await writeFile(join(src(), 'contracts', 'lease.txt'), 'the branch office lease\n')
  served = await serve(join(dir, 'node'), ADMIN_PW)
  base = served.base
  browser = await launchBrowser()
})

after(async () => {
  await browser?.close()
  await served?.stop()
  if (dir !== '') await rm(dir, { recursive: true, force: true })
})

/** The operator opens the task wizard afresh and reads what it says is missing ('' when nothing). */
async function wizardMissing (page: Page): Promise<string> {
  await page.goto(`${base}/#/tasks`)
  await page.click('[data-test=new-task]')
  await page.waitForSelector('[data-test=wizard] #wiz-node')
  // The hint shows once the lists arrived; give it the time of one answer.
  try { return await (await page.waitForSelector('[data-test=wizard-missing]', { timeout: 3000 })).innerText() } catch { return '' }
}

/** The admin edits this node's client record in the Clients screen and confirms with the password. */
async function editClient (page: Page, change: (page: Page) => Promise<void>): Promise<void> {
  await page.goto(`${base}/#/nodes`)
  await page.click('[data-test=nodes] tbody tr [data-test=edit-node]')
  await change(page)
  await page.click('.modal button[type=submit]')
  await confirmPassword(page, ADMIN_PW)
  await page.waitForSelector('[data-test=nodes] .notice')
}

test('a new operator goes from no access to a first backup with only the console, told at each step what to ask the admin for', async () => {
  const admin = await newPage('en')
  await login(admin, 'admin', ADMIN_PW)
  await admin.click('[data-test=nav-users]')
  await admin.click('[data-test=new-user]')
  await admin.fill('#u-name', 'branch01')
  await admin.fill('#u-pw', OP_PW)
  await admin.selectOption('#u-role', 'operator')
  await admin.click('[data-test=user-save]')
  await confirmPassword(admin, ADMIN_PW)
  await admin.waitForSelector('tr[data-user=branch01]')

  const op = await newPage('zh-CN')
  await login(op, 'branch01', OP_PW)
  assert.match(await wizardMissing(op), /尚未给您分配客户端[\s\S]*客户端 → 编辑 → 分配用户/)
  await shoot(op, 'task-wizard-no-client.png')

  // The client edit dialog offers the assigned user (PATCH /api/nodes/{id} ownerId).
  await editClient(admin, async p => { await p.selectOption('[data-test=node-owner]', { label: 'branch01' }) })
  const node = await admin.evaluate(async () => (await (await fetch('/api/nodes')).json())[0])
  const users = await admin.evaluate(async () => await (await fetch('/api/users')).json())
  assert.equal(node.ownerId, users.find((u: { name: string }) => u.name === 'branch01').id, 'the client is the operator\'s')
  assert.match(await wizardMissing(op), new RegExp(`您在 ${node.name} 上还没有用户空间[\\s\\S]*所有者选 branch01`))

  await admin.click('[data-test=nav-spaces]')
  await admin.click('[data-test=new-space]')
  await admin.fill('#sp-name', 'branch01_space')
  await admin.selectOption('#sp-owner', { label: 'branch01' })
  await admin.fill('#sp-cap', '5')
  await admin.click('[data-test=space-form] button[type=submit]')
  await confirmPassword(admin, ADMIN_PW)
  await admin.waitForSelector('tr[data-space=branch01_space]')
  assert.match(await wizardMissing(op), /上还没有向您开放的目录[\s\S]*操作员可访问的目录/)

  await editClient(admin, async p => {
    await p.fill('[data-test=roots-sources]', src())
    await p.fill('[data-test=roots-restores]', dir)
  })
  await admin.click('[data-test=nodes] tbody tr [data-test=edit-node]')
  assert.equal(await admin.inputValue('[data-test=node-owner]'), node.ownerId, 'the dialog shows the assigned user')
  await shoot(admin, 'node-edit-owner.png', 'dialog')
  await admin.context().close()

  assert.equal(await wizardMissing(op), '', 'nothing is missing any more')
  await op.click('[data-test=next]')
  await op.fill('[data-test=source-path]', src())
  await op.click('[data-test=add-source]')
  for (let i = 0; i < 3; i++) await op.click('[data-test=next]')
  await op.fill('[data-test=task-name]', 'Branch-office-files')
  await op.click('[data-test=create]')
  await op.click('tr[data-task="Branch-office-files"] [data-test=start]')
  await op.click('[data-test=start-confirm]')
  await op.waitForSelector('[data-test=job-status][data-status=success]')
  await op.context().close()
})
