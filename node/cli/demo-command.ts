import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, lstatSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Command } from 'commander'
import { initRepository, openRepository } from '../../chunkstore/index.ts'
import { bytes, count, duration } from './format.ts'
import { dataHome } from './store-options.ts'

/**
 * `cairn demo` (what `npm start` runs): creates the embedded default store under the user's
 * data folder on first use, backs up a sample folder (Cairn's own source tree), restores it
 * into a temporary folder, compares every file byte for byte, and prints what happened.
 */
export function registerDemoCommand (program: Command): void {
  program.command('demo')
    .description('back up and restore a sample folder on the embedded default store, and compare')
    .option('--source <dir>', 'folder to back up (default: Cairn\'s own source tree)')
    .action(async (o: { source?: string }) => {
      const home = dataHome()
      const store = join(home, 'demo-store')
      const passFile = join(home, 'demo-passphrase')
      mkdirSync(home, { recursive: true, mode: 0o700 })
      if (!existsSync(passFile)) writeFileSync(passFile, randomBytes(24).toString('base64url') + '\n', { mode: 0o600 })
      const pass = readFileSync(passFile, 'utf8').trim()
      const root = (globalThis as Record<symbol, unknown>)[Symbol.for('cairn.root')] as string | undefined ?? fileURLToPath(new URL('../..', import.meta.url))
      const source = resolve(o.source ?? root)
      const say = (s: string): void => { process.stdout.write(s + '\n') }
      if (!existsSync(join(store, 'config.json'))) {
        await initRepository(store, { passphrase: pass })
        say(`created the default store at ${store}`)
        say(`  its passphrase is in ${passFile} (use: --store ${store} --passphrase-file ${passFile})`)
      } else say(`using the default store at ${store}`)
      const repo = await openRepository(store, { passphrase: pass })
      try {
        const exclude = ['node_modules', '.git', 'dist', 'tmp']
        const snap = await repo.backup({ paths: [source], task: 'demo', exclude })
        const st = snap.stats
        say(`backed up ${source} (excluding ${exclude.join(', ')})`)
        say(`  snapshot ${snap.id}`)
        say(`  ${count(st.files)} files (${count(st.filesUnchanged)} unchanged since the last run), ${bytes(st.bytesTotal)}; ${bytes(st.bytesNew)} new → ${bytes(st.bytesStored)} stored, in ${duration(st.durationMs)}`)
        const target = mkdtempSync(join(tmpdir(), 'cairn-demo-'))
        try {
          const r = await repo.restore({ snapshot: snap.id, target })
          say(`restored ${count(r.files)} files (${bytes(r.bytes)}) into ${target} in ${duration(r.durationMs)}`)
          const restored = join(target, source)
          const diffs = compareTrees(source, restored, new Set(exclude))
          if (diffs.length > 0) {
            say(`MISMATCH: ${diffs.length} differences, first: ${diffs[0]}`)
            return
          }
          say(`compared every file with the original: identical`)
          const snaps = await repo.snapshots({ task: 'demo' })
          say(`the store holds ${snaps.length} demo snapshot${snaps.length === 1 ? '' : 's'}; run "npm start" again to see an incremental backup`)
          say(`next: npx cairn snapshots --store ${store} --passphrase-file ${passFile}`)
        } finally {
          rmSync(target, { recursive: true, force: true })
        }
      } finally {
        await repo.close()
      }
    })
}

function compareTrees (a: string, b: string, skip: Set<string>): string[] {
  const diffs: string[] = []
  const walk = (pa: string, pb: string): void => {
    for (const name of readdirSync(pa)) {
      if (skip.has(name)) continue
      const x = join(pa, name); const y = join(pb, name)
      const sx = lstatSync(x); const sy = lstatSync(y, { throwIfNoEntry: false })
      if (sy === undefined) { diffs.push(`${relative(a, x)} is missing`); continue }
      if (sx.isDirectory()) walk(x, y)
      else if (sx.isFile() && !readFileSync(x).equals(readFileSync(y))) diffs.push(`${relative(a, x)} differs`)
    }
  }
  walk(a, b)
  return diffs
}
