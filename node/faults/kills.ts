// kill -9 at random moments of backup, prune, forget, replication receive and restore. After
// each: `check --read-data` must pass, no snapshot that was to stay may be gone, and the
// newest snapshot must restore byte for byte; a killed restore may leave only complete files
// under their names.
import { copyFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { cairn, cairnOk, compare, connected, fingerprint, freePort, fresh, initStore, makeSource, meshDaemon, mutateSource, replicated, storeHash, type MeshDaemon } from './world.ts'
import type { KillFigures, KillOp, Tally } from './tally.ts'

export interface KillPlan { backup: number, prune: number, forget: number, 'replication receive': number, restore: number }

interface Site { work: string, src: string, store: string, expected: Map<string, Map<string, string>>, rnd: () => number, maxFile: number }

const DEFAULT_FILES = 60
const DEFAULT_MAX_FILE = 1 << 20
let sizeScale = 1

async function snapshotIds (store: string): Promise<string[]> {
  const r = await cairnOk(['snapshots', '--json', '--store', store])
  return (JSON.parse(r.stdout) as Array<{ id: string }>).map(s => s.id)
}

/** A store with one snapshot of a fresh source tree. */
async function site (work: string, name: string, rnd: () => number, files = DEFAULT_FILES, fullMaxFile = DEFAULT_MAX_FILE): Promise<Site> {
  const maxFile = Math.round(fullMaxFile * sizeScale)
  const base = fresh(join(work, name))
  const src = join(base, 'src')
  const store = join(base, 'store')
  makeSource(src, rnd, files, maxFile)
  await initStore(store)
  const s: Site = { work: base, src, store, expected: new Map(), rnd, maxFile }
  await backup(s)
  return s
}

/** An unkilled backup of the source as it is; remembers what its snapshot must restore to. */
async function backup (s: Site): Promise<number> {
  const r = await cairnOk(['backup', s.src, '--store', s.store, '--json'])
  s.expected.set(JSON.parse(r.stdout).id, fingerprint(s.src))
  return r.ms
}

/** check --read-data, then a restore of the newest snapshot compared with what it must be. */
async function verify (s: Site, k: KillFigures, problems: string[], label: string, store = s.store): Promise<void> {
  const check = await cairn(['check', '--read-data', '--store', store])
  if (check.code === 0) k.checksPassed++
  else problems.push(`${label}: check exited ${String(check.code)}: ${(check.stdout + check.stderr).slice(0, 400)}`)
  const ids = await snapshotIds(store)
  const newest = ids.at(-1)
  const want = newest === undefined ? undefined : s.expected.get(newest)
  if (want === undefined) { problems.push(`${label}: no known newest snapshot (${String(newest)})`); return }
  const target = fresh(join(s.work, 'out'))
  const r = await cairn(['restore', newest!, '--target', target, '--store', store])
  const cmp = compare(fingerprint(join(target, s.src)), want)
  k.silentlyWrong += cmp.wrong.length
  if (r.code === 0 && cmp.missing.length + cmp.wrong.length + cmp.extra.length === 0) k.restoresIdentical++
  else problems.push(`${label}: restore exited ${String(r.code)}; missing ${cmp.missing.length}, wrong ${cmp.wrong.length}, extra ${cmp.extra.length}: ${r.stderr.slice(0, 300)}`)
}

/** `scale` shrinks the data (file sizes) for a quick run: 1 is the full harness's. */
export async function killCampaign (work: string, rnd: () => number, plan: KillPlan, tally: Tally, scale = 1): Promise<void> {
  sizeScale = scale
  const p = tally.problems
  if (plan.backup > 0) await killBackups(work, rnd, plan.backup, tally.kills.backup, p)
  if (plan.prune > 0) await killPrunes(work, rnd, plan.prune, tally.kills.prune, p)
  if (plan.forget > 0) await killForgets(work, rnd, plan.forget, tally.kills.forget, p)
  if (plan.restore > 0) await killRestores(work, rnd, plan.restore, tally.kills.restore, p)
  if (plan['replication receive'] > 0) await killReceives(work, rnd, plan['replication receive'], tally.kills['replication receive'], p)
}

/**
 * When to kill, for an operation that took `typical` ms unkilled: anywhere from a fifth of the
 * way in (the first fifth is mostly the program starting) to a little past the end.
 */
const killPoint = (rnd: () => number, typical: number): number => typical * (0.2 + 0.95 * rnd())

const lostFrom = (before: string[], after: string[], mayGo: Set<string>): number => before.filter(id => !after.includes(id) && !mayGo.has(id)).length

async function killBackups (work: string, rnd: () => number, n: number, k: KillFigures, problems: string[]): Promise<void> {
  const s = await site(work, 'kill-backup', rnd)
  mutateSource(s.src, rnd, 0.5, s.maxFile)
  const typical = await backup(s)
  for (let i = 0; i < n; i++) {
    if (i > 0 && i % 10 === 0) { await cairnOk(['forget', '--keep-last', '3', '--store', s.store]); await cairnOk(['prune', '--store', s.store]) }
    mutateSource(s.src, rnd, 0.5, s.maxFile)
    const want = fingerprint(s.src)
    const before = await snapshotIds(s.store)
    const r = await cairn(['backup', s.src, '--store', s.store, '--json'], { killAfterMs: killPoint(rnd, typical) })
    k.kills++
    const after = await snapshotIds(s.store)
    for (const id of after) if (!before.includes(id)) s.expected.set(id, want)
    k.snapshotsLost += lostFrom(before, after, new Set())
    if (r.signal !== 'SIGKILL' && r.code !== 0) problems.push(`backup ${i}: exited ${String(r.code)}: ${r.stderr}`)
    await verify(s, k, problems, `backup kill ${i}`)
  }
}

async function killPrunes (work: string, rnd: () => number, n: number, k: KillFigures, problems: string[]): Promise<void> {
  const s = await site(work, 'kill-prune', rnd)
  for (let j = 0; j < 3; j++) { mutateSource(s.src, rnd, 0.6, s.maxFile); await backup(s) }
  await cairnOk(['forget', '--keep-last', '1', '--store', s.store])
  const typical = (await cairnOk(['prune', '--store', s.store])).ms
  for (let i = 0; i < n; i++) {
    // New data, then a forget that leaves prune work to do.
    for (let j = 0; j < 2; j++) { mutateSource(s.src, rnd, 0.6, s.maxFile); await backup(s) }
    await cairnOk(['forget', '--keep-last', '1', '--store', s.store])
    const before = await snapshotIds(s.store)
    const r = await cairn(['prune', '--store', s.store], { killAfterMs: killPoint(rnd, typical) })
    k.kills++
    k.snapshotsLost += lostFrom(before, await snapshotIds(s.store), new Set())
    if (r.signal !== 'SIGKILL' && r.code !== 0) problems.push(`prune ${i}: exited ${String(r.code)}: ${r.stderr}`)
    await verify(s, k, problems, `prune kill ${i}`)
  }
}

async function killForgets (work: string, rnd: () => number, n: number, k: KillFigures, problems: string[]): Promise<void> {
  const s = await site(work, 'kill-forget', rnd, 20, 64 << 10)
  for (let j = 0; j < 3; j++) { mutateSource(s.src, rnd, 0.3, s.maxFile); await backup(s) }
  const typical = (await cairnOk(['forget', '--keep-last', '1', '--store', s.store])).ms
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 3; j++) { mutateSource(s.src, rnd, 0.3, s.maxFile); await backup(s) }
    const before = await snapshotIds(s.store)
    const r = await cairn(['forget', '--keep-last', '1', '--store', s.store], { killAfterMs: killPoint(rnd, typical) })
    k.kills++
    // Every snapshot but the newest may go; the newest must stay.
    k.snapshotsLost += lostFrom(before, await snapshotIds(s.store), new Set(before.slice(0, -1)))
    if (r.signal !== 'SIGKILL' && r.code !== 0) problems.push(`forget ${i}: exited ${String(r.code)}: ${r.stderr}`)
    await verify(s, k, problems, `forget kill ${i}`)
  }
}

async function killRestores (work: string, rnd: () => number, n: number, k: KillFigures, problems: string[]): Promise<void> {
  const s = await site(work, 'kill-restore', rnd, 120, 2 << 20)
  const newest = (await snapshotIds(s.store)).at(-1)!
  const want = s.expected.get(newest)!
  const typical = (await cairnOk(['restore', newest, '--target', fresh(join(s.work, 'calibrate')), '--store', s.store])).ms
  for (let i = 0; i < n; i++) {
    const before = storeHash(s.store)
    const target = fresh(join(s.work, 'killed'))
    const r = await cairn(['restore', newest, '--target', target, '--store', s.store], { killAfterMs: killPoint(rnd, typical) })
    k.kills++
    if (r.signal !== 'SIGKILL' && r.code !== 0) problems.push(`restore ${i}: exited ${String(r.code)}: ${r.stderr}`)
    if (storeHash(s.store) !== before) problems.push(`restore kill ${i}: the store changed`)
    // What the killed restore left under final names must be whole.
    const left = existsSync(join(target, s.src)) ? fingerprint(join(target, s.src)) : new Map<string, string>()
    for (const [p, h] of left) if (!p.split('/').pop()!.startsWith('.cairn-partial-') && want.get(p) !== h) k.silentlyWrong++
    await verify(s, k, problems, `restore kill ${i}`)
  }
}

/**
 * Site A backs up and replicates to site B (both `cairn mesh run`); B is killed mid-receive.
 * B is then checked and restored from as a DR site would (A's config and key file beside B's
 * blocks), and the next round resumes.
 */
async function killReceives (work: string, rnd: () => number, n: number, k: KillFigures, problems: string[]): Promise<void> {
  const a = await site(work, 'kill-receive', rnd, 60, 2 << 20)
  const aMesh = join(a.work, 'a-mesh')
  const bMesh = join(a.work, 'b-mesh')
  const bStore = join(a.work, 'b-store')
  // Fixed ports: both sites restart every round and must find each other again.
  await cairnOk(['mesh', 'init', '--mesh-dir', aMesh, '--site', 'a', '--role', 'head', '--listen', `/ip4/127.0.0.1/tcp/${await freePort()}`])
  await cairnOk(['mesh', 'policy', '--mesh-dir', aMesh, '--copies', '2'])
  let A: MeshDaemon | undefined = await meshDaemon(aMesh, a.store)
  const invitation = (await A.control('invite', { ttlMs: 3_600_000 })).invitation as string
  await cairnOk(['mesh', 'join', invitation, '--mesh-dir', bMesh, '--site', 'b', '--role', 'dr', '--listen', `/ip4/127.0.0.1/tcp/${await freePort()}`])
  let typical = 0
  try {
    for (let i = -1; i < n; i++) {
      await A?.kill(); A = undefined
      mutateSource(a.src, rnd, 0.7, a.maxFile)
      await backup(a)
      A = await meshDaemon(aMesh, a.store)
      const B = await meshDaemon(bMesh, bStore)
      if (!await connected(A)) problems.push(`receive round ${i}: the sites did not connect`)
      const started = performance.now()
      if (i < 0) { // calibration: a whole replication, timed
        if (!await replicated(A, a.expected.size)) problems.push('receive calibration: replication did not complete')
        typical = performance.now() - started
        await B.kill()
        continue
      }
      const run = A.control('replicate').catch(() => undefined)
      await new Promise(resolve => setTimeout(resolve, rnd() * typical * 1.1))
      await B.kill('SIGKILL')
      k.kills++
      await run
      // B as a DR site: A's config and key file beside B's blocks, the ordinary commands.
      for (const f of ['config.json', 'keys.json']) copyFileSync(join(a.store, f), join(bStore, f))
      await verify({ ...a, store: bStore }, k, problems, `receive kill ${i}`, bStore)
    }
  } finally {
    await A?.kill()
  }
}

export type { KillOp }
