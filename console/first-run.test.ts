// A new user's first contact, exactly as the README says: in a fresh HOME, `npm start` (the
// package's start script, through node/bin/cairn.js, its launcher and its bundle), then the URL it
// prints in Chromium: log in as admin with the password from the file it names, see the demo's
// backup on the dashboard, restore one file with the restore wizard, and stop with Ctrl-C (SIGINT
// to the process group, as a terminal sends it). The daemon listens on the README's port, 8443.
// test-suite: browser
import test from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildConsole, launchBrowser, pickInRestoreTree, root } from './testing/e2e-harness.ts'

/** The environment of a user who never ran Cairn: no CAIRN_* or XDG_* settings, a new HOME. */
function freshEnv (home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CAIRN_') && !k.startsWith('XDG_') && !k.startsWith('npm_')) env[k] = v
  return { ...env, HOME: home }
}

async function findFile (dir: string, name: string): Promise<string | undefined> {
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name === name) return join(e.parentPath, e.name)
  }
  return undefined
}

interface Started { out: () => string, err: () => string, url: string, user: string, passwordFile: string, stop: () => Promise<{ code: number | null, signal: NodeJS.Signals | null }> }

/** `npm start` in its own process group, as a terminal runs it; resolves once it printed where to log in. */
async function npmStart (home: string): Promise<Started> {
  const npm = spawn('npm', ['start'], { cwd: root, env: freshEnv(home), detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  npm.stdout.setEncoding('utf8').on('data', (s: string) => { out += s })
  npm.stderr.setEncoding('utf8').on('data', (s: string) => { err += s })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => npm.once('exit', (code, signal) => resolve({ code, signal })))
  const stop = async (signal: NodeJS.Signals): Promise<{ code: number | null, signal: NodeJS.Signals | null }> => {
    if (npm.exitCode === null && npm.signalCode === null) process.kill(-npm.pid!, signal)
    return await exited
  }
  try {
    const m = await new Promise<RegExpExecArray>((resolve, reject) => {
      const look = (): void => {
        const found = /open the console at (https:\/\/[\d.:]+) and log in as (\S+) with the password in (\S+)/.exec(out)
        if (found !== null) resolve(found)
      }
      npm.stdout.on('data', look)
      void exited.then(({ code }) => reject(new Error(`npm start exited ${String(code)} before it printed the console's address:\n${out}\n${err}`)))
    })
    return { out: () => out, err: () => err, url: m[1], user: m[2], passwordFile: m[3], stop: async () => await stop('SIGINT') }
  } catch (e) {
    await stop('SIGKILL')
    throw e
  }
}

/** Ctrl-C: npm ends by the signal as every npm script does; the node under it stops cleanly and says so. */
async function ctrlC (run: Started): Promise<void> {
  const end = await run.stop()
  assert.ok(end.code === 0 || end.signal === 'SIGINT', `npm start after Ctrl-C: ${JSON.stringify(end)}\n${run.out()}\n${run.err()}`)
  assert.match(run.out(), /stopping the node/)
  assert.doesNotMatch(run.err(), /npm error|ELIFECYCLE|\n\s+at /, 'no error and no stack trace')
}

test('npm start in a fresh HOME: log in at the printed URL, see the demo backup, restore a file, Ctrl-C stops cleanly; a second start is incremental', async () => {
  await buildConsole()
  const home = await mkdtemp(join(tmpdir(), 'cairn-first-run-home-'))
  const target = await mkdtemp(join(tmpdir(), 'cairn-first-run-restore-'))
  const browser = await launchBrowser()
  let run: Started | undefined
  try {
    run = await npmStart(home)
    const { url, user, passwordFile } = run
    assert.equal(url, 'https://127.0.0.1:8443', 'the address the README gives')
    assert.ok(passwordFile.startsWith(home), `the password file ${passwordFile} is in the user's HOME`)
    assert.match(run.out(), /compared every file with the original: identical/)
    assert.match(run.out(), /full backup: [\d,]+ files/, 'a first backup is a full one')
    const password = (await readFile(passwordFile, 'utf8')).trim()

    // The certificate is self-signed: a user accepts it once; the test context does the same.
    const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en', viewport: { width: 1280, height: 860 } })
    context.setDefaultTimeout(20_000)
    const page = await context.newPage()
    page.on('pageerror', e => { throw e })
    await page.goto(url)
    await page.waitForSelector('#login-user')
    await page.fill('#login-user', user)
    await page.fill('#login-password', password)
    await page.click('[data-test=login-submit]')
    await page.waitForSelector('[data-test=home]')
    await page.waitForSelector('[data-test=capacity]')
    assert.match(await page.innerText('[data-test=home]'), /demo/, 'the demo user space is on the dashboard')
    const dashboard = await page.evaluate(async () => await (await fetch('/api/dashboard')).json())
    assert.ok(dashboard.dailyBackupBytes.at(-1).bytes > 0, 'today\'s backup volume includes the demo backup')

    // The restore wizard: the demo task, its snapshot, one file, into a folder of the test's.
    await page.click('[data-test=nav-restore]')
    await page.waitForSelector('[data-test=restore-task] option', { state: 'attached' })
    assert.match(await page.innerText('[data-test=restore-task]'), /cairn-source/)
    await page.click('[data-test=next]')
    await page.waitForSelector('.timeline input')
    await page.click('[data-test=next]')
    await pickInRestoreTree(page, join(root, 'package.json'))
    await page.click('[data-test=next]')
    await page.fill('[data-test=restore-path]', target)
    await page.click('[data-test=next]')
    await page.click('[data-test=restore-submit]')
    await page.waitForSelector('[data-test=job-status][data-status=success]')
    const restored = await findFile(target, 'package.json')
    assert.ok(restored !== undefined, 'package.json restored below the chosen folder')
    assert.deepEqual(await readFile(restored), await readFile(join(root, 'package.json')))
    await context.close()
    await ctrlC(run)

    // "Run it again to see an incremental backup that reads nothing unchanged."
    run = await npmStart(home)
    const again = /incremental backup: ([\d,]+) files \(([\d,]+) unchanged since the last run\)/.exec(run.out())
    assert.ok(again !== null, run.out())
    assert.ok(Number(again[2].replace(/,/g, '')) > 0, `files reused without reading: ${again[0]}`)
    assert.match(run.out(), /using the default store/)
    assert.match(run.out(), /this backup was incremental/)
    await ctrlC(run)
  } finally {
    await run?.stop()
    await browser.close()
    await rm(home, { recursive: true, force: true })
    await rm(target, { recursive: true, force: true })
  }
})
