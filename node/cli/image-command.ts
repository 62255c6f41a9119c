// `cairn image backup|show|restore`: disk images (SPEC F6, the "disk image" agent type) of a
// block device or raw image file with its partition table (chunkstore/disk-image.ts).
import { InvalidArgumentError } from 'commander'
import type { Command } from 'commander'
import { resolve } from 'node:path'
import type { Ext4Entry, ImageGetResult, ImageManifest, ImageRestoreResult, SnapshotRecord } from '../../chunkstore/index.ts'
import { bytes, counted, duration, table } from './format.ts'
import { onStore } from './on-store.ts'
import { storeOptions } from './store-options.ts'
import type { StoreFlags } from './store-options.ts'

/** The CLI's shared pieces (main.ts): printing and the exit code. */
export interface ImageCommandIo {
  out: (s: string) => void
  json: (v: unknown) => void
  warn: (warnings: string[]) => void
  setCode: (code: number) => void
  /** Exit code of a command that finished with warnings. */
  warningsCode: number
}

/** The partition table of an image, as the CLI prints it. */
export function showManifest (m: ImageManifest): string {
  const head = `${m.source} (${m.kind}), ${bytes(m.size)}, ${m.table === null ? 'no partition table' : `${m.table.label === 'dos' ? 'MBR' : m.table.label.toUpperCase()} partition table${m.table.id !== undefined ? ` ${m.table.id}` : ''}`}, ${m.consistency}, SHA-256 ${m.sha256.slice(0, 16)}…`
  if (m.partitions.length === 0) return head
  return head + '\n' + table(['#', 'start', 'size', 'type', 'name', 'file system', 'label', 'uuid', 'free blocks'],
    m.partitions.map(p => [String(p.number), String(p.offset), bytes(p.size), p.type, p.name ?? '', p.fsType ?? '', p.fsLabel ?? '', p.fsUuid ?? p.uuid ?? '',
      p.unusedSkipped !== undefined ? `${bytes(p.unusedSkipped.bytes)} not read, restored as zeros` : 'read']))
}

export function registerImageCommand (program: Command, io: ImageCommandIo): Command {
  const image = program.command('image').description('disk images: back up a block device or raw image file with its partition table, show it, restore it')

  storeOptions(image.command('backup').description('back up a whole disk or partition (block device or image file); prints the snapshot id'))
    .argument('<device>', 'block device (/dev/sdb, /dev/loop0) or raw image file')
    .option('--task <name>', 'task name', 'default')
    .option('--crash-consistent', 'image a device mounted read-write as it is (as after a power loss) instead of refusing')
    .option('--every-block', 'read free blocks too (by default those of ext2/3/4 are skipped and recorded as zeros)')
    .action(async (device: string, o: StoreFlags & { task: string, crashConsistent?: boolean, everyBlock?: boolean }) => {
      const snap = await onStore(o, 'imageBackup', { device: resolve(device), task: o.task, crashConsistent: o.crashConsistent === true, everyBlock: o.everyBlock === true }, {}) as SnapshotRecord
      io.warn(snap.stats.warnings)
      if (snap.stats.warnings.length > 0) io.setCode(io.warningsCode)
      if (o.json === true) { io.json(snap); return }
      const st = snap.stats
      io.out(`snapshot ${snap.id} saved\n  image of ${snap.paths[0]}, ${bytes(st.bytesTotal)}: ${counted(st.files - 1, 'region')}\n  read ${bytes(st.bytesRead)}; new ${counted(st.chunksNew, 'chunk')}, ${bytes(st.bytesNew)} → ${bytes(st.bytesStored)} stored\n  took ${duration(st.durationMs)}`)
    })

  storeOptions(image.command('show').description('show the partition table of a disk image snapshot'))
    .argument('<snapshot>', 'snapshot id, unique prefix, or latest')
    .action(async (snapshot: string, o: StoreFlags) => {
      const m = await onStore(o, 'imageShow', { snapshot }, { readOnly: true }) as ImageManifest | null
      if (o.json === true) { io.json(m); return }
      io.out(m === null ? `snapshot ${snapshot} is not a disk image` : showManifest(m))
    })

  storeOptions(image.command('restore').description('write a disk image snapshot onto a block device or image file of at least its size, and verify it'))
    .argument('<snapshot>', 'snapshot id, unique prefix, or latest')
    .requiredOption('--target <device>', 'block device, or image file (made when missing); with --partition, typically an existing partition (/dev/sdb2)')
    .option('--partition <n>', 'restore only this partition (image show lists them) onto the target, from its first byte; the target\'s table is left alone', partitionNumber)
    .option('--read-back', 'also read the target back once written and check its SHA-256 (by default the bytes written are checked)')
    .action(async (snapshot: string, o: StoreFlags & { target: string, partition?: number, readBack?: boolean }) => {
      const r = await onStore(o, 'imageRestore', { snapshot, target: resolve(o.target), readBack: o.readBack === true, ...(o.partition !== undefined ? { partition: o.partition } : {}) }, { readOnly: true, verifyIndex: true }) as ImageRestoreResult
      io.warn(r.warnings)
      if (r.warnings.length > 0) io.setCode(io.warningsCode)
      if (o.json === true) { io.json(r); return }
      const what = r.partition !== undefined ? `partition ${r.partition}, ${bytes(r.bytes)},` : bytes(r.bytes)
      const check = r.verified === 'chunks' ? 'each chunk authenticated (no SHA-256 of the partition recorded)' : `${r.verified === 'read back' ? 'read back' : 'as written'}: SHA-256 ${r.sha256} matches`
      io.out(`restored ${what} to ${r.target} in ${duration(r.durationMs)} (${bytes(r.bytesWritten)} written; zero regions ${r.zeros}); ${check}`)
    })
  storeOptions(image.command('ls').description('list a folder of an ext4 partition of a disk image snapshot, read from the store (no restore)'))
    .argument('<snapshot>', 'snapshot id, unique prefix, or latest')
    .argument('[path]', 'folder or file in the partition', '/')
    .option('--partition <n>', 'partition number (image show lists them)', partitionNumber, 1)
    .action(async (snapshot: string, path: string, o: StoreFlags & { partition: number }) => {
      const entries = await onStore(o, 'imageLs', { snapshot, partition: o.partition, path }, { readOnly: true }) as Ext4Entry[]
      if (o.json === true) { io.json(entries); return }
      io.out(table(['mode', 'uid', 'gid', 'size', 'modified', 'name'], entries.map(e => [
        `${e.kind === 'dir' ? 'd' : e.kind === 'symlink' ? 'l' : e.kind === 'file' ? '-' : '?'}${e.mode.toString(8).padStart(4, '0')}`, String(e.uid), String(e.gid), String(e.size),
        new Date(e.mtimeSec * 1000).toISOString().slice(0, 19).replace('T', ' '), e.name])))
    })

  storeOptions(image.command('get').description('restore files or folders of an ext4 partition of a disk image snapshot into a folder, without restoring the partition'))
    .argument('<snapshot>', 'snapshot id, unique prefix, or latest')
    .argument('<paths...>', 'files or folders in the partition')
    .option('--partition <n>', 'partition number (image show lists them)', partitionNumber, 1)
    .requiredOption('--target <dir>', 'folder to restore into (made when missing; nothing in it is overwritten)')
    .action(async (snapshot: string, paths: string[], o: StoreFlags & { partition: number, target: string }) => {
      const r = await onStore(o, 'imageGet', { snapshot, partition: o.partition, paths, target: resolve(o.target) }, { readOnly: true }) as ImageGetResult
      io.warn(r.warnings)
      if (r.warnings.length > 0) io.setCode(io.warningsCode)
      if (o.json === true) { io.json(r); return }
      io.out(`restored ${counted(r.files, 'file')} (${bytes(r.bytes)}), ${counted(r.dirs, 'folder')}, ${counted(r.symlinks, 'symlink')} into ${resolve(o.target)}`)
    })
  return image
}

function partitionNumber (s: string): number {
  const n = Number(s)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`--partition takes a partition number (1, 2, …), not "${s}"`)
  return n
}
