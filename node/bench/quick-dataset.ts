// The small data set behind `--quick` (~150 MB): a copy of /usr/share/doc plus a few large
// files, and a day-2 change set shaped like mutate-day2.py's (inserts in the middle of large
// files, small edits, appends, deletions, new files), scaled down. Deterministic for a
// given machine image, so repeated smoke runs compare like with like.
import { createCipheriv, createHash } from 'node:crypto'
import { appendFileSync, closeSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { run } from './command.ts'

/** Changes whenever what the quick builders produce changes, so cached copies are rebuilt. */
export const QUICK_RECIPE = 'quick-v1'

const MiB = 1 << 20

export async function buildQuickDay1 (target: string): Promise<string> {
  mkdirSync(join(target, 'big'), { recursive: true })
  await run({ argv: ['cp', '-a', '/usr/share/doc', join(target, 'doc')] })
  const py = readdirSync('/usr/lib').filter(n => /^python3\.\d+$/.test(n)).sort()[0]
  const textSources = py === undefined ? [] : walkFiles(join('/usr/lib', py)).filter(p => p.endsWith('.py'))
  concatInto(join(target, 'big', 'text-concat.txt'), textSources, 24 * MiB)
  concatInto(join(target, 'big', 'binary-concat.bin'), walkFiles('/usr/bin').filter(p => lstatSync(p).size > 64 << 10), 16 * MiB)
  writeFileSync(join(target, 'big', 'random-16M.bin'), keystream('cairn-bench quick random', 16 * MiB))
  return `quick data set: /usr/share/doc + ${py ?? 'no python'} text, /usr/bin binaries, 16 MiB random`
}

/** Applies the quick day-2 change set in place and describes what it did. */
export function mutateQuickDay2 (dir: string): string {
  const rnd = new SeededRandom('cairn-bench quick day2')
  const files = walkFiles(dir).map(p => ({ p, size: lstatSync(p).size }))
  const big = files.filter(f => f.size > MiB && !f.p.includes('/big/')).map(f => f.p)
  const small = files.filter(f => f.size > 0 && f.size < 64 << 10).map(f => f.p)
  const stats = { inserted: 0, appended: 0, smallModified: 0, added: 0, addedBytes: 0, deleted: 0 }

  const insertMiddle = (p: string): void => {
    const data = readFileSync(p)
    const mid = data.length >> 1
    writeFileSync(p, Buffer.concat([data.subarray(0, mid), rnd.bytes(64 << 10), data.subarray(mid)]))
    stats.inserted++
  }
  for (const name of ['text-concat.txt', 'binary-concat.bin', 'random-16M.bin']) insertMiddle(join(dir, 'big', name))
  const chosenBig = rnd.sample(big, Math.min(6, big.length))
  for (const p of chosenBig.slice(0, 3)) insertMiddle(p)
  for (const p of chosenBig.slice(3)) {
    appendFileSync(p, rnd.bytes(1024 + rnd.int(3072)))
    stats.appended++
  }
  const chosenSmall = rnd.sample(small, Math.round(small.length * 0.025))
  const deleteCount = Math.round(chosenSmall.length / 20)
  for (const p of chosenSmall.slice(deleteCount)) {
    const data = readFileSync(p)
    rnd.bytes(8).copy(data, data.length >> 1)
    writeFileSync(p, Buffer.concat([data, Buffer.from(`\n# day2 change ${rnd.int(1 << 30)}\n`)]))
    stats.smallModified++
  }
  for (const p of chosenSmall.slice(0, deleteCount)) {
    unlinkSync(p)
    stats.deleted++
  }
  const gone = new Set(chosenSmall.slice(0, deleteCount))
  const textSources = small.filter(p => !gone.has(p) && /\.(txt|html|py|md)$|copyright$/.test(p))
  const newDir = join(dir, 'day2-new')
  mkdirSync(newDir)
  for (let i = 0; i < 40 && textSources.length > 0; i++) {
    // shuffled lines of an existing file: text-like, but not a byte-for-byte duplicate
    const lines = readFileSync(textSources[rnd.int(textSources.length)], 'utf8').split('\n')
    let body = rnd.shuffle(lines).join('\n')
    while (body.length < 24 << 10) body += body
    writeFileSync(join(newDir, `note-${String(i).padStart(3, '0')}.txt`), body)
    stats.added++
    stats.addedBytes += Buffer.byteLength(body)
  }
  writeFileSync(join(newDir, 'random-4M.bin'), rnd.bytes(4 * MiB))
  stats.added++
  stats.addedBytes += 4 * MiB
  return JSON.stringify(stats)
}

function walkFiles (dir: string): string[] {
  const out: string[] = []
  const visit = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) {
      const p = join(d, e.name)
      if (e.isDirectory()) visit(p)
      else if (e.isFile()) out.push(p)
    }
  }
  visit(dir)
  return out
}

function concatInto (target: string, sources: string[], limit: number): void {
  const fd = openSync(target, 'w')
  let written = 0
  try {
    for (const p of sources) {
      if (written >= limit) break
      const data = readFileSync(p)
      const part = data.subarray(0, limit - written)
      writeSync(fd, part)
      written += part.length
    }
  } finally {
    closeSync(fd)
  }
}

/** Reproducible incompressible bytes: an AES-256-CTR keystream under a key derived from `seed`. */
function keystream (seed: string, length: number): Buffer {
  const key = createHash('sha256').update(seed).digest()
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length))
}

/** A deterministic stream of choices and bytes, so the change set is the same on every build. */
class SeededRandom {
  private counter = 0
  constructor (private readonly seed: string) {}

  bytes (n: number): Buffer {
    return keystream(`${this.seed}/${this.counter++}`, n)
  }

  /** Uniform-enough integer in [0, n). */
  int (n: number): number {
    return this.bytes(6).readUIntBE(0, 6) % n
  }

  sample<T> (items: T[], k: number): T[] {
    return this.shuffle([...items]).slice(0, k)
  }

  shuffle<T> (items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const t = items[i]
      items[i] = items[j]
      items[j] = t
    }
    return items
  }
}
