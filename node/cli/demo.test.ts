// The README's first command (`npm start` = `cairn demo --serve`): the embedded default store
// backs up, restores and compares a folder, then the node daemon serves the console with that
// folder as a task that already ran once, and stops cleanly on Ctrl-C.
// test-suite: processes
import test from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { ApiClient } from '../testing/index.ts'

test('cairn demo --serve: backup, restore and compare, then a console with the demo task', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'cairn-demo-test-'))
  t.after(() => { rmSync(home, { recursive: true, force: true }) })
  const src = join(home, 'sample')
  mkdirSync(join(src, 'docs'), { recursive: true })
  writeFileSync(join(src, 'docs', 'plan.txt'), 'the plan\n'.repeat(500))
  writeFileSync(join(src, 'readme.md'), '# sample\n')
  const child = spawn(process.execPath, [fileURLToPath(new URL('../bin/cairn.js', import.meta.url)), 'demo', '--serve', '--source', src, '--listen', '127.0.0.1:0', '--insecure-http'], {
    env: { ...process.env, HOME: home, XDG_DATA_HOME: join(home, 'data'), CAIRN_DATA: undefined },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.after(() => { child.kill('SIGKILL') })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { output += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { output += d })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`no console URL in 120 s:\n${output}`)) }, 120_000)
    const look = (): void => {
      const m = /open the console at (http:\/\/127\.0\.0\.1:\d+) and log in as admin with the password in (\S+)/.exec(output)
      if (m !== null) { clearTimeout(timer); resolve(`${m[1]} ${m[2]}`) }
    }
    child.stdout.on('data', look)
    child.stderr.on('data', look)
    child.once('exit', code => { clearTimeout(timer); reject(new Error(`demo exited with ${String(code)}:\n${output}`)) })
  })
  assert.match(output, /compared every file with the original: identical/)
  assert.match(output, /as task "cairn-source" in user space "demo": success/)
  const [base, passwordFile] = url.split(' ')
  const api = new ApiClient(base)
  assert.equal((await api.login('admin', readFileSync(passwordFile, 'utf8').trim())).status, 200)
  const tasks = (await api.get('/api/tasks')).body
  assert.deepEqual(tasks.map((x: { name: string }) => x.name), ['cairn-source'])
  // Compressed like the demo's own store: 4,500 bytes of a repeated line must not be stored as they are.
  assert.equal(tasks[0].options.compression, 3)
  const jobs = (await api.get('/api/jobs')).body.items as Array<{ type: string, result: { bytesNew: number, bytesStored: number } }>
  const run = jobs.find(j => j.type === 'backup')!
  assert.ok(run.result.bytesStored < run.result.bytesNew, `stored ${run.result.bytesStored} of ${run.result.bytesNew} new bytes`)
  const space = (await api.get('/api/spaces')).body.find((s: { name: string }) => s.name === 'demo')
  const snaps = (await api.get(`/api/spaces/${space.id}/snapshots`)).body
  assert.equal(snaps.length, 1)
  assert.equal(snaps[0].stats.files, 2)
  child.kill('SIGINT')
  const [code] = await once(child, 'exit')
  assert.equal(code, 0, output)
  assert.match(output, /stopping the node/)
})
