// A full disk (a loop-mounted ext4 image, root only) during backup, prune and replication
// receive: the error must say the disk is full, the store must stay readable, and once space
// is freed the same operation must finish and leave a store that checks and restores.
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { DiskFigures, DiskOp, Tally } from './tally.ts'
import { cairn, cairnOk, compare, connected, fingerprint, fresh, initStore, makeSource, meshDaemon, mutateSource, replicated } from './world.ts'
import { HarnessSetupError } from './errors.ts'

const MiB = 1 << 20

/** An ext4 image of `mib` MiB mounted at `dir`; returns the unmount. */
function smallDisk (dir: string, mib: number): () => void {
  const image = `${dir}.img`
  rmSync(image, { force: true })
  execFileSync('truncate', ['-s', `${mib}M`, image])
  execFileSync('mkfs.ext4', ['-q', '-F', image])
  mkdirSync(dir, { recursive: true })
  execFileSync('mount', ['-o', 'loop', image, dir])
  return () => { execFileSync('umount', [dir]); rmSync(image, { force: true }) }
}

/** Fills the disk holding `dir` until `leaveMiB` are free, with one file the caller removes to free space. */
function filler (dir: string, leaveMiB: number): string {
  const path = join(dir, 'filler')
  const free = Number(execFileSync('df', ['--output=avail', '-B1', dir]).toString().split('\n')[1])
  const size = Math.max(0, free - leaveMiB * MiB)
  execFileSync('fallocate', ['-l', String(size), path])
  return path
}

const saysFull = (s: string): boolean => /disk holding .* is full|no space left on the device/i.test(s)

export async function fullDiskCampaign (work: string, rnd: () => number, tally: Tally, ops: readonly DiskOp[] = ['backup', 'prune', 'replication receive']): Promise<void> {
  for (const op of ops) {
    const base = fresh(join(work, `disk-${op.replace(' ', '-')}`))
    const mnt = join(base, 'disk')
    const unmount = smallDisk(mnt, 96)
    try {
      const d = tally.disk[op]
      d.runs++
      if (op === 'replication receive') await receive(base, mnt, rnd, d, tally.problems)
      else await local(op, base, mnt, rnd, d, tally.problems)
    } finally {
      unmount()
    }
  }
}

async function local (op: 'backup' | 'prune', base: string, mnt: string, rnd: () => number, d: DiskFigures, problems: string[]): Promise<void> {
  const src = join(base, 'src')
  const store = join(mnt, 'store')
  makeSource(src, rnd, 30, 2 * MiB)
  await initStore(store)
  const expected = new Map<string, Map<string, string>>()
  const backup = async (): Promise<Awaited<ReturnType<typeof cairn>>> => {
    const r = await cairn(['backup', src, '--store', store, '--json'])
    if (r.code === 0) expected.set(JSON.parse(r.stdout).id, fingerprint(src))
    return r
  }
  if (op === 'prune') {
    for (let i = 0; i < 3; i++) { if (i > 0) mutateSource(src, rnd, 0.5, 2 * MiB); if ((await backup()).code !== 0) throw new HarnessSetupError('setup backup failed') }
    await cairnOk(['forget', '--keep-last', '1', '--store', store])
  }
  const fill = filler(mnt, op === 'prune' ? 1 : 8)
  const failed = op === 'backup' ? await backup() : await cairn(['prune', '--store', store])
  if (failed.code === 1 && saysFull(failed.stderr) && failed.stderr.trim().split('\n').length === 1) d.namedDiskFull++
  else problems.push(`full disk during ${op}: exit ${String(failed.code)}: ${failed.stderr.slice(0, 300)}`)
  const listed = await cairn(['snapshots', '--store', store])
  if (listed.code === 0) d.storeReadable++; else problems.push(`full disk during ${op}: snapshots failed: ${listed.stderr}`)
  rmSync(fill)
  const again = op === 'backup' ? await backup() : await cairn(['prune', '--store', store])
  const ok = again.code === 0 && await restoresNewest(base, store, src, expected, problems, op)
  if (ok) d.workedAfterFreeing++; else problems.push(`full disk during ${op}: after freeing space: exit ${String(again.code)} ${again.stderr}`)
}

async function restoresNewest (base: string, store: string, src: string, expected: Map<string, Map<string, string>>, problems: string[], label: string): Promise<boolean> {
  const check = await cairn(['check', '--read-data', '--store', store])
  if (check.code !== 0) { problems.push(`${label}: check: ${check.stdout.slice(0, 300)}${check.stderr}`); return false }
  const list = JSON.parse((await cairnOk(['snapshots', '--json', '--store', store])).stdout) as Array<{ id: string }>
  const newest = list.at(-1)?.id
  const want = newest === undefined ? undefined : expected.get(newest)
  if (want === undefined) { problems.push(`${label}: no known newest snapshot`); return false }
  const out = fresh(join(base, 'out'))
  const r = await cairn(['restore', newest!, '--target', out, '--store', store])
  const c = compare(fingerprint(join(out, src)), want)
  return r.code === 0 && c.missing.length + c.wrong.length + c.extra.length === 0
}

async function receive (base: string, mnt: string, rnd: () => number, d: DiskFigures, problems: string[]): Promise<void> {
  const src = join(base, 'src')
  const aStore = join(base, 'a-store')
  const bStore = join(mnt, 'b-store')
  const aMesh = join(base, 'a-mesh')
  const bMesh = join(base, 'b-mesh')
  makeSource(src, rnd, 30, 2 * MiB)
  await initStore(aStore)
  const snap = JSON.parse((await cairnOk(['backup', src, '--store', aStore, '--json'])).stdout).id as string
  const expected = new Map([[snap, fingerprint(src)]])
  await cairnOk(['mesh', 'init', '--mesh-dir', aMesh, '--site', 'a', '--role', 'head', '--listen', '/ip4/127.0.0.1/tcp/0'])
  await cairnOk(['mesh', 'policy', '--mesh-dir', aMesh, '--copies', '2'])
  const A = await meshDaemon(aMesh, aStore)
  let B: Awaited<ReturnType<typeof meshDaemon>> | undefined
  try {
    const invitation = (await A.control('invite', { ttlMs: 3_600_000 })).invitation as string
    await cairnOk(['mesh', 'join', invitation, '--mesh-dir', bMesh, '--site', 'b', '--role', 'dr', '--listen', '/ip4/127.0.0.1/tcp/0'])
    mkdirSync(bStore, { recursive: true }) // on the small disk; empty, so mesh run makes it its replica
    const fill = filler(mnt, 8)
    let log = ''
    B = await meshDaemon(bMesh, bStore)
    B.child.stderr!.on('data', (s: string) => { log += s })
    await connected(A)
    const [link] = await A.control('replicate')
    const said = `${JSON.stringify(link?.lastError ?? '')} ${log}`
    if (saysFull(said) || /ENOSPC|No space left/i.test(said)) d.namedDiskFull++
    else problems.push(`full disk during replication receive: not named: ${said.slice(0, 400)}`)
    if ((await B.control('status')).self.site === 'b') d.storeReadable++ // still up and answering
    rmSync(fill)
    const done = await replicated(A, 1)
    await B.kill()
    B = undefined
    for (const f of ['config.json', 'keys.json']) copyFileSync(join(aStore, f), join(bStore, f))
    if (done && await restoresNewest(base, bStore, src, expected, problems, 'replication receive')) d.workedAfterFreeing++
    else problems.push(`full disk during replication receive: after freeing space the replica did not complete (${String(done)})`)
  } finally {
    await B?.kill()
    await A.kill()
  }
}
