// `npm run bench -- --concurrency`: one store, many clients (issue 14), measured with real
// `cairn` processes through the package's bin. A benchmark: it prints figures and ratios and
// fails only when a command fails or a check finds an error, never on speed.
//  1. Four backups of four different folders into one store, one after another, then the same
//     four at once into a fresh store: total times (target: at once within 1.2x).
//  2. A store with 10 snapshots, 7 of them forgotten: a full backup alone, then a prune beside a
//     full backup of as much new data (target: the backup within 1.3x of alone), then check --read-data.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CAIRN_BIN } from '../testing/index.ts'

export interface ConcurrencyResult {
  folders: number
  folderMiB: number
  sequentialS: number
  concurrentS: number
  /** Commands that exited non-zero (a refused command among them). */
  failed: string[]
  backupAloneS: number
  backupBesidePruneS: number
  pruneS: number
  pruneOutput: string
  checkOk: boolean
}

interface Ran { code: number, stdout: string, stderr: string, seconds: number }

function cairn (args: string[], env: Record<string, string>): Promise<Ran> {
  const t0 = performance.now()
  const child = spawn(process.execPath, [CAIRN_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''; let stderr = ''
  child.stdout.on('data', d => { stdout += String(d) })
  child.stderr.on('data', d => { stderr += String(d) })
  return new Promise(resolve => child.on('close', code => resolve({ code: code ?? 1, stdout, stderr, seconds: (performance.now() - t0) / 1000 })))
}

/** A folder of `mib` MiB in files of 8 MiB: random, with every other file half zeros (some compresses). */
function makeFolder (dir: string, mib: number): string {
  mkdirSync(dir, { recursive: true })
  for (let i = 0; i < mib / 8; i++) {
    const b = randomBytes(8 << 20)
    if (i % 2 === 1) b.fill(0, 0, 4 << 20)
    writeFileSync(join(dir, `f${i}`), b)
  }
  return dir
}

export async function measureConcurrency (o: { dir: string, folderMiB?: number, log: (line: string) => void }): Promise<ConcurrencyResult> {
  const work = join(o.dir, 'concurrency')
  rmSync(work, { recursive: true, force: true })
  mkdirSync(work, { recursive: true })
  const env = { CAIRN_PASSPHRASE: 'bench concurrency' }
  const failed: string[] = []
  const must = async (args: string[]): Promise<Ran> => {
    const r = await cairn(args, env)
    if (r.code !== 0) failed.push(`cairn ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`)
    return r
  }
  const mib = o.folderMiB ?? Number(process.env.CAIRN_BENCH_CONCURRENCY_MIB ?? 256)
  try {
    o.log(`concurrency: making 4 folders of ${mib} MiB`)
    const folders = [0, 1, 2, 3].map(i => makeFolder(join(work, `data${i}`), mib))
    const seqStore = join(work, 'seq'); const conStore = join(work, 'con')
    await must(['init', '--store', seqStore]); await must(['init', '--store', conStore])
    let t0 = performance.now()
    for (const [i, f] of folders.entries()) await must(['backup', f, '--store', seqStore, '--task', `t${i}`])
    const sequentialS = (performance.now() - t0) / 1000
    o.log(`concurrency: 4 backups one after another: ${sequentialS.toFixed(1)} s`)
    t0 = performance.now()
    await Promise.all(folders.map(async (f, i) => await must(['backup', f, '--store', conStore, '--task', `t${i}`])))
    const concurrentS = (performance.now() - t0) / 1000
    o.log(`concurrency: the same 4 at once: ${concurrentS.toFixed(1)} s (${(concurrentS / sequentialS).toFixed(2)}x)`)
    rmSync(seqStore, { recursive: true, force: true }); rmSync(conStore, { recursive: true, force: true })
    for (const f of folders) rmSync(f, { recursive: true, force: true })

    const store = join(work, 'pruned')
    await must(['init', '--store', store])
    for (let i = 0; i < 10; i++) {
      const f = makeFolder(join(work, `snap${i}`), 32)
      await must(['backup', f, '--store', store, '--task', 'nightly', '--level', 'full'])
      rmSync(f, { recursive: true, force: true })
    }
    await must(['forget', '--store', store, '--keep-last', '3'])
    const alone = makeFolder(join(work, 'alone'), 2 * mib)
    const beside = makeFolder(join(work, 'beside'), 2 * mib)
    const a = await must(['backup', alone, '--store', store, '--task', 'alone', '--level', 'full'])
    o.log(`concurrency: a full backup of ${2 * mib} MiB alone: ${a.seconds.toFixed(1)} s`)
    const [b, p] = await Promise.all([
      must(['backup', beside, '--store', store, '--task', 'beside', '--level', 'full']),
      (async () => { await new Promise(resolve => setTimeout(resolve, 300)); return await must(['prune', '--store', store]) })()
    ])
    o.log(`concurrency: the same beside a prune: ${b.seconds.toFixed(1)} s (${(b.seconds / a.seconds).toFixed(2)}x); the prune took ${p.seconds.toFixed(1)} s: ${p.stdout.trim()}`)
    const check = await must(['check', '--read-data', '--store', store])
    o.log(`concurrency: check --read-data: ${check.stdout.trim()}`)
    return {
      folders: 4, folderMiB: mib, sequentialS, concurrentS, failed,
      backupAloneS: a.seconds, backupBesidePruneS: b.seconds, pruneS: p.seconds, pruneOutput: p.stdout.trim(),
      checkOk: check.code === 0 && /no errors/.test(check.stdout)
    }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}
