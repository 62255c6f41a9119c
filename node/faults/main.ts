// `npm run faults`: the fault harness (issue 12). kill -9 during backup, prune, forget,
// replication receive and restore; bit flips in every kind of file; a full disk; a store
// copied during a backup. Everything goes through the real `cairn` binary. Not a test: it
// prints the figures (and with --write, puts them in docs/reliability.md); exit code 1 when
// any figure that must be zero is not. `node/faults/faults.test.ts` runs a fixed-seed slice.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { copyCampaign } from './copy.ts'
import { flipCampaign } from './flips.ts'
import { fullDiskCampaign } from './full-disk.ts'
import { killCampaign, type KillPlan } from './kills.ts'
import { failures, markdownTables, newTally, type Tally } from './tally.ts'
import { random, ROOT } from './world.ts'
import { HarnessSetupError } from './errors.ts'

const USAGE = `usage: npm run faults -- [options]
  --seed N        random seed (default 12)
  --kills N       kill -9s in all, spread over backup, prune, forget, replication receive and restore (default 200)
  --flips N       bit flips per file kind (default 10)
  --copies N      stores copied during a backup (default 5)
  --no-peer       repair blocks without a second site (default: a replica site runs for the flips)
  --no-disk       skip the full-disk runs (they need root: loop-mounted ext4 images)
  --write         put the figures into docs/reliability.md
  --keep          keep the work folder`

export interface CampaignOptions { seed: number, kills: KillPlan, flips: number, peer: boolean, disk: boolean, copies: number, work?: string, log?: (line: string) => void }

/** Runs every part of the campaign; returns the tally (see failures()). */
export async function runCampaign (o: CampaignOptions): Promise<Tally> {
  const work = o.work ?? mkdtempSync(join(tmpdir(), 'cairn-faults-'))
  const log = o.log ?? (() => {})
  const tally = newTally(o.seed)
  const rnd = random(o.seed)
  // A part that breaks is a problem of the run, not the end of it: the other parts' figures stand.
  const part = async (name: string, fn: () => Promise<void>): Promise<void> => {
    log(name)
    try { await fn() } catch (err) { tally.problems.push(`${name}: stopped by ${(err as Error).stack ?? String(err)}`) }
  }
  await part(`kills: ${JSON.stringify(o.kills)}`, async () => { await killCampaign(work, rnd, o.kills, tally) })
  if (o.flips > 0) await part(`flips: ${o.flips} per kind${o.peer ? ', with a peer' : ''}`, async () => { await flipCampaign(work, rnd, o.flips, o.peer, tally) })
  if (o.disk) await part('full disk', async () => { await fullDiskCampaign(work, rnd, tally) })
  if (o.copies > 0) await part(`copies during a backup: ${o.copies}`, async () => { await copyCampaign(work, rnd, o.copies, tally) })
  return tally
}

/** Spreads `n` kills over the five operations, the rest going to the first ones. */
export function spread (n: number): KillPlan {
  const ops = ['backup', 'prune', 'forget', 'replication receive', 'restore'] as const
  const plan = { backup: 0, prune: 0, forget: 0, 'replication receive': 0, restore: 0 }
  ops.forEach((op, i) => { plan[op] = Math.floor(n / 5) + (i < n % 5 ? 1 : 0) })
  return plan
}

export async function main (argv: string[]): Promise<number> {
  let args
  try {
    args = parseArgs({ args: argv, options: { seed: { type: 'string' }, kills: { type: 'string' }, flips: { type: 'string' }, copies: { type: 'string' }, 'no-peer': { type: 'boolean' }, 'no-disk': { type: 'boolean' }, write: { type: 'boolean' }, keep: { type: 'boolean' }, help: { type: 'boolean' } } }).values
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`)
    return 2
  }
  if (args.help === true) { process.stdout.write(USAGE + '\n'); return 0 }
  const seed = Number(args.seed ?? 12)
  const work = mkdtempSync(join(tmpdir(), 'cairn-faults-'))
  const started = Date.now()
  const options: CampaignOptions = {
    seed, kills: spread(Number(args.kills ?? 200)), flips: Number(args.flips ?? 10), copies: Number(args.copies ?? 5),
    peer: args['no-peer'] !== true, disk: args['no-disk'] !== true, work, log: line => { process.stderr.write(`[faults] ${line}\n`) }
  }
  try {
    const tally = await runCampaign(options)
    const minutes = ((Date.now() - started) / 60_000).toFixed(1)
    const tables = markdownTables(tally)
    const bad = failures(tally)
    process.stdout.write(`${tables}\n\nseed ${seed}, ${minutes} min; ${bad.length === 0 ? 'every figure as it must be' : `${bad.length} problems:\n${bad.join('\n')}`}\n`)
    if (args.write === true) writeDoc(tables, options, minutes, bad)
    return bad.length === 0 ? 0 : 1
  } finally {
    if (args.keep !== true) rmSync(work, { recursive: true, force: true })
    else process.stderr.write(`[faults] kept ${work}\n`)
  }
}

const BEGIN = '<!-- faults:begin -->'
const END = '<!-- faults:end -->'

/** Replaces the figures between the markers of docs/reliability.md. */
function writeDoc (tables: string, o: CampaignOptions, minutes: string, bad: string[]): void {
  const path = join(ROOT, 'docs', 'reliability.md')
  const text = readFileSync(path, 'utf8')
  const run = `Last full run: \`npm run faults -- --seed ${o.seed} --write\` on ${new Date().toISOString().slice(0, 10)}, ${minutes} minutes, ` +
    `${Object.values(o.kills).reduce((a, b) => a + b, 0)} kills, ${o.flips} flips per file kind${o.peer ? ' (a second site running for repairs)' : ''}; ` +
    `${bad.length === 0 ? 'every figure as it must be.' : `${bad.length} problems:\n\n${bad.map(b => `- ${b}`).join('\n')}`}`
  const a = text.indexOf(BEGIN)
  const b = text.indexOf(END)
  if (a < 0 || b < a) throw new HarnessSetupError(`${path} has no ${BEGIN} … ${END} section`)
  writeFileSync(path, `${text.slice(0, a + BEGIN.length)}\n${run}\n\n${tables}\n${text.slice(b)}`)
}
