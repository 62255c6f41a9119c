// A store copied while a backup runs (a careless admin's `cp -a`, or rsync): the copy must
// open and check — as it is, or after `cairn repair index` when the index was caught mid-change.
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import type { Tally } from './tally.ts'
import { cairn, cairnOk, compare, fingerprint, fresh, initStore, makeSource, mutateSource } from './world.ts'

/** `scale` shrinks the data (file sizes) for a quick run: 1 is the full harness's. */
export async function copyCampaign (work: string, rnd: () => number, runs: number, tally: Tally, scale = 1): Promise<void> {
  const base = fresh(join(work, 'copy'))
  const src = join(base, 'src')
  const store = join(base, 'store')
  const maxFile = Math.round((2 << 20) * scale)
  makeSource(src, rnd, 80, maxFile)
  await initStore(store)
  const expected = new Map<string, Map<string, string>>()
  const first = await cairnOk(['backup', src, '--store', store, '--json'])
  expected.set(JSON.parse(first.stdout).id, fingerprint(src))
  const c = tally.copy
  for (let i = 0; i < runs; i++) {
    mutateSource(src, rnd, 0.6, maxFile)
    const want = fingerprint(src)
    const copy = join(fresh(join(base, 'copies')), `copy-${i}`)
    const backup = cairn(['backup', src, '--store', store, '--json'])
    await new Promise(resolve => setTimeout(resolve, rnd() * first.ms))
    // cp may fail on a file LevelDB removed meanwhile: the copy is then as incomplete as a careless admin's.
    await new Promise<void>(resolve => execFile('cp', ['-a', store, copy], () => resolve()))
    const b = await backup
    if (b.code === 0) expected.set(JSON.parse(b.stdout).id, want)
    else tally.problems.push(`copy ${i}: the backup itself failed: ${b.stderr}`)
    c.copies++
    let check = await cairn(['check', '--read-data', '--store', copy])
    if (check.code !== 0 && /cairn repair index/.test(check.stderr + check.stdout)) {
      c.neededRepairIndex++
      await cairn(['repair', 'index', '--store', copy])
      check = await cairn(['check', '--read-data', '--store', copy])
    } else if (check.code === 0) c.openedDirectly++
    if (check.code === 0) c.checkedClean++
    else { tally.problems.push(`copy ${i}: ${(check.stdout + check.stderr).slice(0, 300)}`); continue }
    const list = JSON.parse((await cairnOk(['snapshots', '--json', '--store', copy])).stdout) as Array<{ id: string }>
    const newest = list.at(-1)?.id
    const out = fresh(join(base, 'out'))
    const r = newest === undefined ? undefined : await cairn(['restore', newest, '--target', out, '--store', copy])
    const w = newest === undefined ? undefined : expected.get(newest)
    const cmp = w === undefined ? undefined : compare(fingerprint(join(out, src)), w)
    if (r?.code === 0 && cmp !== undefined && cmp.missing.length + cmp.wrong.length + cmp.extra.length === 0) c.restoredIdentical++
    else tally.problems.push(`copy ${i}: newest snapshot ${String(newest)} did not restore identical`)
  }
}
