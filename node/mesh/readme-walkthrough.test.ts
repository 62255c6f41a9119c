// The README's mesh walk-through, run exactly as printed: its shell block under "The mesh:
// three sites", pasted into bash in the checkout with a fresh HOME (so through `npx cairn`, the
// package's bin and its launcher). It backs up at the head office, replicates to the branch and
// on to the DR site, loses the head office and restores at the DR site, and must end with the
// line its `diff` prints. It listens on the README's ports (4701–4703).
import test from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { projectRoot } from '../project-root.ts'

const root = projectRoot()

function walkthrough (): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## The mesh: three sites'))
  const m = /```sh\n([\s\S]*?)```/.exec(section)
  assert.ok(m !== null, 'the README has a shell block under "The mesh: three sites"')
  return m[1]
}

test('the README\'s mesh walk-through, pasted into bash, restores the head office\'s backup at the DR site', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'cairn-walkthrough-'))
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CAIRN_') && !k.startsWith('npm_')) env[k] = v
  Object.assign(env, { HOME: join(work, 'home'), TMPDIR: work })
  // Its own process group: whatever the block leaves running is ended with it.
  const bash = spawn('bash', ['-e', '-c', walkthrough()], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  bash.stdout.setEncoding('utf8').on('data', (s: string) => { out += s })
  bash.stderr.setEncoding('utf8').on('data', (s: string) => { out += s })
  const code = await new Promise<number | null>(resolve => bash.once('exit', resolve))
  t.after(() => {
    try { process.kill(-bash.pid!, 'SIGKILL') } catch {}
    rmSync(work, { recursive: true, force: true })
  })
  const logs = (): string => {
    const site = readdirSync(work).find(d => d.startsWith('tmp.'))
    if (site === undefined) return ''
    return readdirSync(join(work, site)).filter(f => f.endsWith('.log')).map(f => `--- ${f}\n${readFileSync(join(work, site, f), 'utf8')}`).join('\n')
  }
  assert.equal(code, 0, `the walk-through failed:\n${out}\n${logs()}`)
  assert.match(out, /task docs, full/)
  assert.match(out, /snapshots held here, by the site that backed them up:\n {2}hq {15}1 snapshot/, 'the DR site lists hq\'s snapshot')
  assert.match(out, /restored at the DR site, byte for byte\n/)
  assert.doesNotMatch(out, /\n\s+at .*\(/, 'no stack trace')
})
