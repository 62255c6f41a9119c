import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, lstatSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import type { Command } from 'commander'
import { initRepository, openRepository } from '../../chunkstore/index.ts'
import { InternalError } from '../../crypto/index.ts'
import { bytes, count, counted, duration } from './format.ts'
import { dataHome } from './store-options.ts'
import { chunkstoreOpener, parseListen, untilSignalled } from './serve-command.ts'
import { projectRoot } from '../project-root.ts'

/**
 * `cairn demo` (what `npm start` runs): creates the embedded default store under the user's
 * data folder on first use, backs up a sample folder (Cairn's own source tree), restores it
 * into a temporary folder, compares every file byte for byte, and prints what happened.
 */
export function registerDemoCommand (program: Command): void {
  program.command('demo')
    .description('back up and restore a sample folder on the embedded default store, and compare')
    .option('--source <dir>', 'folder to back up (default: Cairn\'s own source tree)')
    .option('--serve', 'then run the node daemon with its web console, with the same folder as a backup task (what npm start does)')
    .option('--listen <host:port>', 'address of the console with --serve', '127.0.0.1:8443')
    .option('--insecure-http', 'with --serve: plain HTTP instead of HTTPS (loopback addresses only)', false)
    .action(async (o: { source?: string, serve?: boolean, listen: string, insecureHttp: boolean }) => {
      const home = dataHome()
      const store = join(home, 'demo-store')
      const passFile = join(home, 'demo-passphrase')
      mkdirSync(home, { recursive: true, mode: 0o700 })
      if (!existsSync(passFile)) writeFileSync(passFile, randomBytes(24).toString('base64url') + '\n', { mode: 0o600 })
      const pass = readFileSync(passFile, 'utf8').trim()
      const source = resolve(o.source ?? projectRoot())
      const say = (s: string): void => { process.stdout.write(s + '\n') }
      if (!existsSync(join(store, 'config.json'))) {
        await initRepository(store, { passphrase: pass })
        say(`created the default store at ${store}`)
        say(`  its passphrase is in ${passFile} (use: --store ${store} --passphrase-file ${passFile})`)
      } else say(`using the default store at ${store}`)
      const exclude = ['node_modules', '.git', 'dist', 'tmp']
      const repo = await openRepository(store, { passphrase: pass })
      try {
        const snap = await repo.backup({ paths: [source], task: 'demo', exclude })
        const st = snap.stats
        say(`backed up ${source} (excluding ${exclude.join(', ')})`)
        say(`  snapshot ${snap.id}`)
        say(`  ${snap.level} backup: ${counted(st.files, 'file')} (${count(st.filesUnchanged)} unchanged since the last run), ${bytes(st.bytesTotal)}; ${bytes(st.bytesNew)} new → ${bytes(st.bytesStored)} stored, in ${duration(st.durationMs)}`)
        const target = mkdtempSync(join(tmpdir(), 'cairn-demo-'))
        try {
          const r = await repo.restore({ snapshot: snap.id, target })
          say(`restored ${counted(r.files, 'file')} (${bytes(r.bytes)}) into ${target} in ${duration(r.durationMs)}`)
          const restored = join(target, source)
          const diffs = compareTrees(source, restored, new Set(exclude))
          if (diffs.length > 0) {
            say(`MISMATCH: ${counted(diffs.length, 'difference')}, first: ${diffs[0]}`)
            process.exitCode = 1
            return
          }
          say(`compared every file with the original: identical`)
          const snaps = await repo.snapshots({ task: 'demo' })
          say(`the store holds ${counted(snaps.length, 'demo snapshot')}; ` + (snap.level === 'incremental'
            ? `this backup was incremental: ${count(st.filesUnchanged)} of ${counted(st.files, 'file')} had not changed and were not read`
            : 'run "npm start" again to see an incremental backup that reads only what changed'))
          say(`next: npx cairn snapshots --store ${store} --passphrase-file ${passFile}`)
          if (o.serve !== true) say('or run the node with its web console: npx cairn serve')
        } finally {
          rmSync(target, { recursive: true, force: true })
        }
      } finally {
        await repo.close()
      }
      if (o.serve === true && process.exitCode !== 1) await serveDemo({ source, exclude, listen: o.listen, insecureHttp: o.insecureHttp, say })
    })
}

/**
 * The node daemon on the default data folder with a user space "demo" and a manual task
 * "cairn-source" backing up the same folder, run once so the console's dashboard, history and
 * restore wizard have something to show. Runs until Ctrl-C.
 */
async function serveDemo (o: { source: string, exclude: string[], listen: string, insecureHttp: boolean, say: (s: string) => void }): Promise<void> {
  const { startDaemon } = await import('../daemon/index.ts')
  const { host, port } = parseListen(o.listen)
  const dataDir = resolve(process.env.CAIRN_DATA ?? join(dataHome(), 'node'))
  const daemon = await startDaemon({ dataDir, host, port, insecureHttp: o.insecureHttp, repositories: chunkstoreOpener(), mesh: false, say: line => { o.say(line) } })
  let adminName: string
  try {
    const admin = (await daemon.accounts.listUsers()).find(u => u.role === 'admin')
    const local = await daemon.inventory.localNode()
    if (admin === undefined || local === undefined) throw new InternalError(`the node in ${dataDir} has no admin or no local node`)
    const actor = { user: admin, source: 'demo' }
    const space = (await daemon.inventory.listSpaces(admin)).find(s => s.name === 'demo') ??
      await daemon.inventory.createSpace(actor, { name: 'demo', type: 'backup', nodeId: local.id, ownerId: admin.id, capacityBytes: 10 * 2 ** 30, cipher: 'xsalsa20-poly1305', dedupScope: 'global' })
    const task = (await daemon.tasks.list(admin)).find(t => t.name === 'cairn-source') ??
      await daemon.tasks.create(actor, { name: 'cairn-source', nodeId: local.id, spaceId: space.id, agentType: 'filesystem', sources: { include: [o.source], exclude: o.exclude }, mode: 'manual', options: { compression: 3 } })
    const job = await daemon.operations.backup(actor, task.id, { level: 'incremental' })
    await daemon.runner.waitFor(job.id)
    const done = await daemon.runner.get(job.id)
    o.say(`the node backed up ${o.source} as task "cairn-source" in user space "demo": ${done.status}`)
    adminName = admin.name
  } catch (err) {
    await daemon.stop()
    throw err
  }
  // Ctrl-C is handled from before the line that offers it.
  const stopped = untilSignalled(daemon, () => { o.say('stopping the node') })
  const passwordFile = join(dataDir, 'initial-admin-password')
  o.say(`open the console at ${daemon.url} and log in as ${adminName}` + (existsSync(passwordFile) ? ` with the password in ${passwordFile}` : ''))
  o.say(o.insecureHttp ? '  Ctrl-C stops the node' : '  (the certificate is self-signed: accept it once in the browser); Ctrl-C stops the node')
  await stopped
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
