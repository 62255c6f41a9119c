// `npm run campaign:holder -- [ROUNDS]`: many rounds of concurrent commands on one store with
// kill -9 mixed in, through the package's bin (not part of `npm test`: it runs for minutes).
// Each round starts backups of changing folders, a forget and a prune, a listing and a restore
// at once, kills one of those processes with SIGKILL at a random moment — sometimes the one
// that holds the store — and then requires `cairn check --read-data` to pass and every
// command that was not killed (nor served by a killed holder) to have succeeded.
import { spawn } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CAIRN_BIN } from '../testing/index.ts'
import { holderSocketPath } from '../holder/index.ts'
import { CommandFailedError } from './errors.ts'

interface Proc { args: string[], pid: number, done: Promise<{ code: number | null, signal: NodeJS.Signals | null, stderr: string }> }

export async function holderCampaign (argv: string[]): Promise<number> {
  const rounds = Number(argv[0] ?? '20')
  const work = mkdtempSync(join(tmpdir(), 'cairn-holder-campaign-'))
  const store = join(work, 'store')
  const env = { ...process.env, CAIRN_PASSPHRASE: 'campaign', CAIRN_STORE: store }
  const start = (args: string[]): Proc => {
    const child = spawn(process.execPath, [CAIRN_BIN, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', d => { stderr += String(d) })
    return { args, pid: child.pid!, done: new Promise(resolve => child.on('close', (code, signal) => resolve({ code, signal, stderr }))) }
  }
  const tally = { commands: 0, ok: 0, killed: 0, lostHolder: 0, failed: 0, checks: 0 }
  try {
    const init = await start(['init']).done
    if (init.code !== 0) throw new CommandFailedError(['cairn', 'init'], init.code ?? -1, init.stderr.slice(-2000))
    const folders = [0, 1, 2].map(i => join(work, `data${i}`))
    for (const f of folders) mkdirSync(f)
    for (let round = 1; round <= rounds; round++) {
      // Change the folders a little: new files, changed files, some left as they were.
      for (const f of folders) writeFileSync(join(f, `r${round % 5}`), randomBytes(randomInt(1, 12) << 20))
      const first = start(['backup', folders[0], '--task', 'a', '--limit', String(randomInt(8, 40))])
      for (let i = 0; i < 40 && !existsSync(holderSocketPath(store)); i++) await new Promise(resolve => setTimeout(resolve, 50))
      const procs = [
        first,
        start(['backup', folders[1], '--task', 'b']),
        start(['backup', folders[2], '--task', randomInt(2) === 0 ? 'a' : 'c']),
        start(['forget', '--keep-last', '2']),
        start(['prune']),
        start(['snapshots']),
        start(['restore', 'latest', '--target', join(work, 'restored'), '--conflict', 'overwrite'])
      ]
      const victim = procs[randomInt(procs.length)]
      await new Promise(resolve => setTimeout(resolve, randomInt(100, 2500)))
      try { process.kill(victim.pid, 'SIGKILL') } catch {}
      const results = await Promise.all(procs.map(async p => ({ p, r: await p.done })))
      const holderKilled = victim === first && results[0].r.signal === 'SIGKILL'
      for (const { p, r } of results) {
        tally.commands++
        if (r.signal === 'SIGKILL') { tally.killed++; continue }
        if (r.code === 0) { tally.ok++; continue }
        // A restore of a store with no snapshot yet, or commands whose holder was killed under them.
        if (holderKilled && /closed the connection|broke/.test(r.stderr)) { tally.lostHolder++; continue }
        if (/has no snapshots/.test(r.stderr)) { tally.ok++; continue }
        tally.failed++
        console.error(`round ${round}: cairn ${p.args.join(' ')}: exit ${String(r.code)}: ${r.stderr.trim()}`)
      }
      const check = start(['check', '--read-data'])
      const c = await check.done
      tally.checks++
      if (c.code !== 0) { console.error(`round ${round}: check --read-data failed: ${c.stderr}`); return 1 }
      rmSync(join(work, 'restored'), { recursive: true, force: true })
      console.error(`round ${round}/${rounds}: killed ${victim.args[0]}${victim === first ? ' (the holder)' : ''}; check passed`)
    }
    console.log(`${tally.commands} commands in ${rounds} rounds: ${tally.ok} succeeded, ${tally.killed} killed, ${tally.lostHolder} lost their killed holder, ${tally.failed} failed otherwise; ${tally.checks} checks --read-data passed`)
    console.log(`${tally.ok + tally.killed + tally.lostHolder} passed, ${tally.failed} failed`)
    return tally.failed === 0 ? 0 : 1
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}
