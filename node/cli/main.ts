import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { resolve } from 'node:path'
import { collectLimit } from './bandwidth-option.ts'
import { DEFAULT_CDC, DiskFullError, FIXED_SIZES, initRepository, isDiskFull, openRepository } from '../../chunkstore/index.ts'
import type { BackupProgress, BandwidthSchedule, CheckResult, ChunkerSpec, LocalRepository, PruneResult, RestoreProgress, RestoreResult, SnapshotRecord, TreeEntry } from '../../chunkstore/index.ts'
import { bytes, count, counted, duration, parseSize, table } from './format.ts'
import { ProgressBar, scanTotals } from './progress.ts'
import { passphrase, storeDir, storeOptions, unlockOptions } from './store-options.ts'
import type { StoreFlags } from './store-options.ts'
import { onStore, storesReleased } from './on-store.ts'
import type { BackupArgs, ForgetResult, RestoreArgs, SnapshotsResult } from '../holder/index.ts'
import { registerTokenCommand } from './token-command.ts'
import { registerKeyCommand } from './key-command.ts'
import { registerRepairCommand } from './repair-command.ts'
import { registerImageCommand } from './image-command.ts'
import { registerDemoCommand } from './demo-command.ts'
import { registerServeCommand } from './serve-command.ts'
import { registerMeshCommand } from './mesh-command.ts'
import type { CliExtension } from './extension.ts'

export type { CliExtension } from './extension.ts'
import { registerArchiveCommand } from './archive-command.ts'

/**
 * Exit codes: 0 success, 1 failure, 2 usage error, 3 done but not whole: a backup saved with some
 * files not read, a restore with some entries not restored, a listing or repair with damage left.
 */
export const EXIT_WARNINGS = 3

const out = (s: string): void => { process.stdout.write(s.endsWith('\n') ? s : s + '\n') }
/** Warnings go to stderr, one line each, so stdout holds only the result (a summary or JSON). */
const warn = (warnings: string[]): void => { for (const w of warnings) process.stderr.write(`cairn: warning: ${w}\n`) }
const json = (v: unknown): void => out(JSON.stringify(v, null, 2))

/** Opens the store for `fn`; `readOnly` for commands that must not change a byte of it (snapshots, ls, check, restore). */
async function withRepo<T> (flags: StoreFlags, fn: (repo: LocalRepository) => Promise<T>, open: { readOnly?: boolean, reportDamage?: boolean, verifyIndex?: boolean } = {}): Promise<T> {
  const repo = await openRepository(storeDir(flags), { ...await unlockOptions(flags), ...open })
  let value: T
  try {
    value = await fn(repo)
  } catch (err) {
    await repo.close().catch(() => {}) // the first error is the one to tell (a close on a full disk fails too)
    throw err
  }
  await repo.close()
  return value
}

function parseChunker (s: string): ChunkerSpec {
  if (s === 'cdc') return { kind: 'cdc', ...DEFAULT_CDC }
  let m = /^cdc:([^,]+),([^,]+),([^,]+)$/.exec(s)
  if (m !== null) return { kind: 'cdc', min: parseSize(m[1]), avg: parseSize(m[2]), max: parseSize(m[3]) }
  m = /^fixed:(.+)$/.exec(s)
  if (m !== null) {
    const size = parseSize(m[1])
    if (!FIXED_SIZES.includes(size)) throw new InvalidArgumentError(`fixed sizes are ${FIXED_SIZES.map(x => x >= 1 << 20 ? `${x >> 20}M` : `${x >> 10}K`).join(', ')}`)
    return { kind: 'fixed', size }
  }
  throw new InvalidArgumentError('use cdc, cdc:MIN,AVG,MAX or fixed:SIZE (e.g. fixed:128K)')
}

function parseCompression (s: string): number {
  if (s === 'off') return 0
  const n = Number(s)
  if (!Number.isInteger(n) || n < -7 || n > 19 || n === 0) throw new InvalidArgumentError('use off, 1…19, or a fast level -7…-1')
  return n
}

function positiveInt (s: string): number {
  const n = Number(s)
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number')
  return n
}

function collect (v: string, prev: string[]): string[] { return [...prev, v] }

function summary (s: SnapshotRecord): string {
  const st = s.stats
  const lines = [
    `snapshot ${s.id} saved`,
    `  task ${s.task}, ${s.level}${s.parent !== undefined ? `, parent ${s.parent.slice(0, 16)}…` : ''}`,
    `  ${counted(st.files, 'file')} (${count(st.filesUnchanged)} unchanged), ${counted(st.dirs, 'folder')}, ${counted(st.symlinks, 'symlink')}, ${bytes(st.bytesTotal)} in all`,
    `  read ${bytes(st.bytesRead)}; new ${counted(st.chunksNew, 'chunk')}, ${bytes(st.bytesNew)} → ${bytes(st.bytesStored)} stored`,
    `  took ${duration(st.durationMs)}${st.durationMs > 0 ? ` (${bytes(st.bytesRead / (st.durationMs / 1000))}/s read)` : ''}`
  ]
  if (st.warnings.length > 0) lines.push(`  ${counted(st.warnings.length, 'warning')} (on stderr)`)
  return lines.join('\n')
}

const READ_ONLY = { readOnly: true }

/** The exit code an action asks for (commander ignores actions' return values). */
const result = { code: 0 }

export function buildProgram (extensions: CliExtension[] = []): Command {
  const program = new Command('cairn')
    .description('Cairn: peer-to-peer backup mesh. Content-addressed, compressed, encrypted backups.')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride()

  storeOptions(program.command('init').description('create a store'), true, { recovery: false, token: false })
    .option('--cipher <name>', 'cipher suite: xsalsa20-poly1305 (default), aes-256-gcm, sm4')
    .option('--chunker <spec>', 'default chunker: cdc, cdc:MIN,AVG,MAX or fixed:SIZE', parseChunker)
    .option('--compression <level>', 'default zstd level: off or 1…19, -7…-1', parseCompression)
    .action(async (o: StoreFlags & { cipher?: string, chunker?: ChunkerSpec, compression?: number }) => {
      const dir = storeDir(o)
      const config = await initRepository(dir, { passphrase: await passphrase(o, 'New passphrase: '), cipher: o.cipher, chunker: o.chunker, compression: o.compression })
      if (o.json === true) json({ store: dir, ...config }); else out(`created store ${config.id} at ${dir} (cipher ${config.cipher})`)
    })

  storeOptions(program.command('backup').description('back up files and folders; prints the snapshot id'))
    .argument('<path...>', 'files or folders to back up')
    .option('--task <name>', 'task name (snapshots of a task form one history)', 'default')
    .addOption(new Option('--level <level>', 'incremental reuses unchanged files of the last snapshot').choices(['full', 'incremental']).default('incremental'))
    .option('--exclude <glob>', 'leave out matching paths (repeatable)', collect, [])
    .option('--chunker <spec>', 'cdc, cdc:MIN,AVG,MAX or fixed:SIZE', parseChunker)
    .option('--compression <level>', 'off, 1…19 or -7…-1 (default: the store\'s)', parseCompression)
    .option('--limit <rate>', 'read at most MIBPS MiB/s, or FROM-TO=MIBPS[@DAY[-DAY]] in a time window (repeatable)', collectLimit)
    .option('--skip-open-files', 'leave out files another program has open for writing (Linux)')
    .option('--no-xattrs', 'leave out extended attributes (ACLs, capabilities, user.*)')
    .action(async (paths: string[], o: StoreFlags & { task: string, level: 'full' | 'incremental', exclude: string[], chunker?: ChunkerSpec, compression?: number, limit?: BandwidthSchedule, skipOpenFiles?: boolean, xattrs: boolean }) => {
      const bar = new ProgressBar('backup')
      let totals: { bytes: number, files: number } | undefined
      const stopScan = process.stderr.isTTY === true ? scanTotals(paths, (b, f) => { totals = { bytes: b, files: f } }) : () => {}
      const controller = new AbortController()
      const onSignal = (): void => controller.abort()
      process.once('SIGINT', onSignal)
      try {
        const args: BackupArgs = {
          paths: paths.map(p => resolve(p)), task: o.task, level: o.level, exclude: o.exclude, chunker: o.chunker, compression: o.compression,
          limit: o.limit, openFiles: o.skipOpenFiles === true ? 'skip' : 'read', xattrs: o.xattrs
        }
        const snap = await onStore(o, 'backup', { ...args }, {}, {
          signal: controller.signal,
          onProgress: (p: BackupProgress) => bar.update(p.bytesDone, p.files, totals?.bytes, p.currentFile)
        }) as SnapshotRecord
        bar.done()
        warn(snap.stats.warnings)
        if (o.json === true) json(snap); else out(summary(snap))
        if (snap.stats.warnings.length > 0) result.code = EXIT_WARNINGS
      } finally {
        bar.done(); stopScan(); process.off('SIGINT', onSignal)
      }
    })

  storeOptions(program.command('snapshots').description('list snapshots'))
    .option('--task <name>', 'only this task')
    .action(async (o: StoreFlags & { task?: string }) => {
      const { list, damaged } = await onStore(o, 'snapshots', { task: o.task }, READ_ONLY) as SnapshotsResult
      if (o.json === true) { json(list) } else {
      out(table(['id', 'time', 'host', 'task', 'level', 'files', 'size', 'paths'],
        list.map(s => [s.id.slice(0, 16), s.time.replace('T', ' ').slice(0, 19), s.host, s.task, s.repaired !== undefined ? `${s.level} (repaired)` : s.level, count(s.stats.files), bytes(s.stats.bytesTotal), s.paths.join(', ')])))
      out(counted(list.length, 'snapshot'))
      }
      for (const d of damaged) process.stderr.write(`cairn: snapshot ${d.id} is damaged: ${d.reason}; forget it with "cairn forget ${d.id.slice(0, 16)}" or see "cairn repair snapshots"\n`)
      if (damaged.length > 0) result.code = EXIT_WARNINGS
    })

  storeOptions(program.command('ls').description('list the files of a snapshot'))
    .argument('<snapshot>', 'snapshot id, unique prefix, or latest')
    .argument('[path]', 'only below this path', '/')
    .action(async (snapshot: string, path: string, o: StoreFlags) => {
      const all: TreeEntry[] = []
      await onStore(o, 'ls', { snapshot, path }, READ_ONLY, {
        onItems: (batch: TreeEntry[]) => {
          for (const e of batch) {
            if (o.json === true) all.push(e)
            else out(`${e.type === 'dir' ? 'd' : e.type === 'symlink' ? 'l' : '-'}${(e.mode & 0o777).toString(8).padStart(4, '0')}  ${bytes(e.size).padStart(10)}  ${e.mtime.replace('T', ' ').slice(0, 19)}  ${e.path}${e.target !== undefined ? ` -> ${e.target}` : ''}`)
          }
        }
      })
      if (o.json === true) json(all)
    })

  storeOptions(program.command('restore').description('restore a snapshot (or parts of it) into a folder'))
    .argument('<snapshot>', 'snapshot id, unique prefix, or latest')
    .requiredOption('--target <dir>', 'folder to restore into')
    .option('--include <path>', 'restore only this snapshot path (repeatable)', collect, [])
    .addOption(new Option('--conflict <mode>', 'when a file exists').choices(['overwrite', 'skip', 'keep-newer']).default('overwrite'))
    .option('--no-xattrs', 'do not set extended attributes (ACLs, capabilities, user.*)')
    .action(async (snapshot: string, o: StoreFlags & { target: string, include: string[], conflict: 'overwrite' | 'skip' | 'keep-newer', xattrs: boolean }) => {
      const bar = new ProgressBar('restore')
      const args: RestoreArgs = { snapshot, target: resolve(o.target), include: o.include, conflict: o.conflict, xattrs: o.xattrs }
      const r = await onStore(o, 'restore', { ...args }, { ...READ_ONLY, verifyIndex: true }, {
        onProgress: (p: RestoreProgress) => bar.update(p.bytes, p.files, p.bytesTotal)
      }) as RestoreResult
      bar.done()
      warn(r.warnings)
      // What could not be restored: one line each on stderr, after everything else was restored.
      for (const f of r.failed) process.stderr.write(`cairn: not restored: ${f.path}: ${f.error}\n`)
      if (r.failed.length > 0) {
        process.stderr.write(`cairn: ${counted(r.failed.length, 'entry', 'entries')} could not be restored (everything else was); a rerun writes what is readable by then\n`)
        result.code = EXIT_WARNINGS
      }
      if (o.json === true) { json(r); return }
      out(`restored ${counted(r.files, 'file')}, ${counted(r.dirs, 'folder')}, ${counted(r.symlinks, 'symlink')}, ${counted(r.hardlinks, 'hard link')}, ${bytes(r.bytes)} in ${duration(r.durationMs)} to ${o.target}${r.skipped > 0 ? `; ${counted(r.skipped, 'existing entry', 'existing entries')} kept (${o.conflict})` : ''}`)
    })

  storeOptions(program.command('check').description('check that every referenced block is present (and with --read-data, intact)'))
    .option('--read-data', 'also read, hash and decrypt every data block')
    .option('--snapshot <id>', 'only this snapshot')
    .action(async (o: StoreFlags & { readData?: boolean, snapshot?: string }) => {
      const r = await onStore(o, 'check', { readData: o.readData, snapshot: o.snapshot }, { ...READ_ONLY, reportDamage: true }) as CheckResult
      if (o.json === true) json(r)
      else {
        out(`checked ${counted(r.snapshots, 'snapshot')}, ${counted(r.blocksChecked, 'block')}${r.bytesChecked > 0 ? `, ${bytes(r.bytesChecked)} read` : ''}: ${r.errors.length === 0 ? 'no errors' : counted(r.errors.length, 'error')}`)
        for (const e of r.errors) out(`  error: ${e}`)
      }
      if (r.errors.length > 0) result.code = 1
    })

  storeOptions(program.command('forget').description('remove snapshots by id, or by retention policy (never the last one of a task)'))
    .argument('[snapshot...]', 'snapshot ids or unique prefixes to remove (damaged ones too)')
    .option('--keep-last <n>', 'keep the newest N snapshots of each task', positiveInt)
    .option('--keep-days <d>', 'keep snapshots younger than D days', positiveInt)
    .option('--task <name>', 'only this task')
    .option('--force', 'with ids: also remove the last snapshot of a task')
    .action(async (ids: string[], o: StoreFlags & { keepLast?: number, keepDays?: number, task?: string, force?: boolean }) => {
      const removed = await onStore(o, 'forget', { ids, keepLast: o.keepLast, keepDays: o.keepDays, task: o.task, force: o.force }, {}) as ForgetResult
      if (o.json === true) json(removed)
      else out(`removed ${counted(removed.length, 'snapshot')}${removed.length > 0 ? ':\n' + removed.map(s => `  ${s.id.slice(0, 16)}  ${s.time ?? '(damaged)'}  ${s.task ?? ''}`).join('\n') : ''}\nrun "cairn prune" to reclaim their space`)
    })

  storeOptions(program.command('prune').description('reclaim the space of blocks no snapshot references'))
    .action(async (o: StoreFlags) => {
      const r = await onStore(o, 'prune', {}, {}) as PruneResult
      if (o.json === true) json(r)
      else out(`removed ${counted(r.blocksRemoved, 'block')}, freed ${bytes(r.bytesFreed)}; rewrote ${counted(r.segmentsRewritten, 'segment')}, deleted ${count(r.segmentsDeleted)}`)
    })

  registerRepairCommand(program, { withRepo, out, json, setCode: c => { result.code = Math.max(result.code, c) } })
  registerImageCommand(program, { out, json, warn, setCode: c => { result.code = Math.max(result.code, c) }, warningsCode: EXIT_WARNINGS })
  registerKeyCommand(program)
  registerTokenCommand(program)
  registerDemoCommand(program)
  registerServeCommand(program, { planner: extensions.find(e => e.planner !== undefined)?.planner })
  registerMeshCommand(program)
  for (const e of extensions) e.commands?.(program)
  registerArchiveCommand(program, { out, json, setCode: c => { result.code = Math.max(result.code, c) } })
  return program
}

/** Runs the CLI; returns the exit code. Errors are one line (stack with CAIRN_DEBUG=1). */
export async function main (argv: string[], extensions: CliExtension[] = []): Promise<number> {
  const program = buildProgram(extensions)
  result.code = 0
  try {
    await program.parseAsync(argv, { from: 'user' })
    await storesReleased()
    return result.code
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2
    const e = err as Error
    // A full disk met somewhere no layer named it (a restore target, say): still say so.
    const message = isDiskFull(e) && !(e instanceof DiskFullError) ? `no space left on the device (${e.message}); free some space and run the command again` : e.message
    process.stderr.write(`cairn: ${message}\n`)
    if (process.env.CAIRN_DEBUG === '1') process.stderr.write(`${e.stack ?? ''}\n`)
    await storesReleased()
    return 1
  }
}
