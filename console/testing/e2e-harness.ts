// What the browser tests share: one console build, a real `cairn serve` on 127.0.0.1, an API client
// for setting the scene, Debian's Chromium through playwright-core, and screenshots on request.
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page, type Response } from 'playwright-core'
import { cairn as runCairn } from '../../node/testing/index.ts'

export const root = fileURLToPath(new URL('../..', import.meta.url))
const shots = join(root, 'docs', 'screenshots')

function newestSource (dir: string): number {
  let newest = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs)
  }
  return newest
}

const builtAt = (): number => { try { return statSync(join(root, 'console', 'dist', 'index.html')).mtimeMs } catch { return 0 } }

/**
 * Builds console/dist unless it is newer than every source. Browser test files run side by side,
 * so the check and the build happen under a lock: the second file finds the first one's build
 * fresh instead of emptying dist/ under a running test.
 */
export async function buildConsole (): Promise<void> {
  const lock = join(tmpdir(), 'cairn-console-build.lock')
  for (let waited = 0; ; waited += 200) {
    try { mkdirSync(lock); break } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      // A lock left by a killed run is older than any build takes.
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })!.mtimeMs > 300_000) rmSync(lock, { recursive: true, force: true })
      if (waited > 300_000) throw new Error(`the console build lock ${lock} was held for 5 minutes`)
      await sleep(200)
    }
  }
  try {
    const sources = Math.max(newestSource(join(root, 'console', 'src')), statSync(join(root, 'console', 'index.html')).mtimeMs, statSync(join(root, 'console', 'vite.config.ts')).mtimeMs)
    if (builtAt() > sources) return
    const built = spawnSync(process.execPath, [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', 'console', '--logLevel', 'warn'], { cwd: root, encoding: 'utf8' })
    assert.equal(built.status, 0, built.stderr)
  } finally { rmSync(lock, { recursive: true, force: true }) }
}

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)) })
    s.on('error', reject)
  })
}

export interface Served { base: string, daemon: ChildProcess, stop: () => Promise<void> }

/** `cairn serve` (plain HTTP on 127.0.0.1) with its state in `dataDir`; resolves once it listens. */
export async function serve (dataDir: string, adminPassword: string, extraArgs: string[] = []): Promise<Served> {
  const port = await freePort()
  const daemon = spawn(process.execPath, [join(root, 'node', 'bin', 'cairn.js'), 'serve', '--insecure-http', '--listen', `127.0.0.1:${port}`, '--data', dataDir, ...extraArgs], {
    cwd: root, env: { ...process.env, CAIRN_ADMIN_PASSWORD: adminPassword }, stdio: ['ignore', 'ignore', 'pipe']
  })
  let stderr = ''
  await new Promise<void>((resolve, reject) => {
    daemon.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); if (stderr.includes('listening on')) resolve() })
    daemon.on('exit', code => reject(new Error(`cairn serve exited ${code}: ${stderr}`)))
  })
  return {
    base: `http://127.0.0.1:${port}`,
    daemon,
    stop: async () => {
      if (daemon.exitCode !== null) return
      const exited = new Promise(resolve => daemon.once('exit', resolve))
      daemon.kill('SIGTERM')
      await exited
    }
  }
}

/** The `cairn` command as an operator runs it (node/bin/cairn.js); resolves with its output, fails on a non-zero exit. */
export async function cairn (args: string[]): Promise<string> {
  const r = await runCairn(args)
  assert.equal(r.code, 0, `cairn ${args.slice(0, 2).join(' ')} exited ${r.code}: ${r.stderr}`)
  return r.stdout
}

/** An answer of the API, whatever its status. */
export interface Answer { status: number, body: any }
export type RawApi = (method: string, path: string, body?: unknown) => Promise<Answer>
export type Api = (method: string, path: string, body?: unknown) => Promise<any>

/** A logged-in API client that returns every answer as it came (status and body). */
export async function rawApiAs (base: string, name: string, password: string): Promise<RawApi> {
  const r = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: name, password }) })
  assert.equal(r.status, 200, await r.clone().text())
  const { csrfToken } = await r.json() as { csrfToken: string }
  const cookie = (r.headers.get('set-cookie') ?? '').split(';')[0]
  return async (method, path, body) => {
    const res = await fetch(`${base}${path}`, { method, headers: { cookie, 'x-csrf-token': csrfToken, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await res.text()
    return { status: res.status, body: text === '' ? undefined : JSON.parse(text) }
  }
}

/** A logged-in API client for setting the scene (users, spaces); the screens under test use the browser. */
export async function apiAs (base: string, name: string, password: string): Promise<Api> {
  const raw = await rawApiAs(base, name, password)
  return async (method, path, body) => {
    const r = await raw(method, path, body)
    assert.ok(r.status >= 200 && r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`)
    return r.body
  }
}

/** Asks until `check` holds, for what the node does in the background (webhook deliveries, the mesh connecting). */
export async function until<T> (what: string, get: () => Promise<T>, check: (v: T) => boolean, seconds = 15): Promise<T> {
  for (let i = 0; i < seconds * 10; i++) {
    const v = await get()
    if (check(v)) return v
    await sleep(100)
  }
  throw new Error(`still not so after ${seconds} s: ${what}`)
}

export async function launchBrowser (): Promise<Browser> {
  if (process.env.CAIRN_SCREENSHOTS === '1') await mkdir(shots, { recursive: true })
  return await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
  })
}

/**
 * Screenshots for docs/screenshots/ only when asked (CAIRN_SCREENSHOTS=1), so a test run leaves the
 * tree clean. The whole page, or with `dialog` the window as it is (a dialog covers the window only).
 */
export async function shoot (page: Page, file: string, how: 'page' | 'dialog' = 'page'): Promise<void> {
  if (process.env.CAIRN_SCREENSHOTS === '1') await page.screenshot({ path: join(shots, file), fullPage: how === 'page' })
}

/** Whatever the node's Content-Security-Policy refused in any page of this test file (it should be nothing). */
export const cspViolations: string[] = []

export async function newPage (browser: Browser, lang: 'zh-CN' | 'en' = 'en'): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: lang })
  await context.addInitScript(l => { if (localStorage.getItem('cairn.lang') === null) localStorage.setItem('cairn.lang', l) }, lang)
  context.setDefaultTimeout(20_000)
  const page = await context.newPage()
  page.on('pageerror', err => { throw err })
  page.on('console', m => { if (/Content Security Policy|Refused to/i.test(m.text())) cspViolations.push(m.text()) })
  return page
}

export async function login (page: Page, base: string, name: string, password: string): Promise<void> {
  await page.goto(`${base}/#/login`)
  await page.fill('#login-user', name)
  await page.fill('#login-password', password)
  await page.click('[data-test=login-submit]')
  await page.waitForSelector('[data-test=whoami]')
}

/**
 * Confirms a change with the password in the dialog the console opens for changes the node
 * wants a recent re-authentication for (users, roles, keys, mail and webhook targets, owners).
 */
export async function confirmPassword (page: Page, password: string): Promise<void> {
  await page.fill('[data-test=reauth-password]', password)
  await page.click('[data-test=reauth-confirm]')
  await page.waitForSelector('[data-test=reauth-password]', { state: 'detached' })
}

/**
 * Does `action` and waits for the API's answer to `method` on a path matching `path`: a screen's
 * table is read only after its data arrived (an empty table's placeholder row is a row too).
 */
export async function answered (page: Page, method: string, path: RegExp, action: () => Promise<unknown>): Promise<Response> {
  const [response] = await Promise.all([page.waitForResponse(r => r.request().method() === method && path.test(new URL(r.url()).pathname)), action()])
  return response
}

/**
 * Ticks `path` in the restore wizard's file tree, opening each folder above it as an operator
 * does (the tree loads a folder when it is opened); a folder already open stays open.
 */
export async function pickInRestoreTree (page: Page, path: string): Promise<void> {
  const parts = path.split('/').filter(Boolean)
  for (let i = 1; i < parts.length; i++) {
    const folder = await page.waitForSelector(`[data-open="/${parts.slice(0, i).join('/')}"]`)
    if (await folder.getAttribute('aria-expanded') !== 'true') await folder.click()
  }
  await (await page.waitForSelector(`[data-test=restore-tree] [data-path="${path}"]`)).check()
}

/** Text in the page that is a sentence in ASCII only (3 or more words and no Chinese): English left in a Chinese page. */
export async function asciiSentences (page: Page): Promise<string[]> {
  return await page.evaluate(() => {
    const out: string[] = []
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT)
    for (let n = walker.nextNode(); n !== null; n = walker.nextNode()) {
      const text = (n.textContent ?? '').trim()
      if (n.parentElement?.closest('code, pre, input, textarea') != null) continue
      if (/^[\x20-\x7e]+$/.test(text) && /[A-Za-z]{2,}[ ,.;:()]+[A-Za-z]{2,}[ ,.;:()]+[A-Za-z]{2,}/.test(text)) out.push(text)
    }
    return out
  })
}
