// `cairn archive device add|list|remove|test`, `archive run|ls|verify|restore` (F20): copies of a
// store's sealed blocks and snapshot roots on a local folder, S3-compatible storage or a
// (virtual) tape library, and a store rebuilt from such a copy. The registry of devices is a
// file (--devices, CAIRN_ARCHIVE_DEVICES, else under the data home); an S3 secret key comes
// from CAIRN_S3_SECRET_KEY (never a flag: flags show in `ps`), is stored encrypted and is never
// printed.
import { copyFileSync, existsSync, readdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { Option, type Command } from 'commander'
import { LocalBlockStore, StoreExistsError, type RootOrigin } from '../../chunkstore/index.ts'
import type { DeviceConfig, DeviceRegistry, LockOptions, OpenDevice } from '../archive/index.ts'
import { registerStoreOperation, HolderRequestError } from '../holder/index.ts'
import type { BlockCopyResult } from '../archive/index.ts'
import { bytes, count, counted, parseSize, table } from './format.ts'
import { onStore } from './on-store.ts'
import { dataHome, storeOptions } from './store-options.ts'
import type { StoreFlags } from './store-options.ts'

export interface ArchiveCommandIo {
  out: (s: string) => void
  json: (v: unknown) => void
  setCode: (code: number) => void
}

interface DeviceFlags { devices?: string, json?: boolean }

/** Loaded on use: it brings the AWS SDK, which every other command would pay for at start. */
type ArchiveModule = typeof import('../archive/index.ts')
const archiveModule = async (): Promise<ArchiveModule> => await import('../archive/index.ts')

/**
 * `archive run` as a store operation (node/holder/): run by whichever process holds the store —
 * this command, or `cairn serve` holding it for its jobs — so archiving needs no stop of the
 * daemon. The command names the registry file and the device; the device's secret is read from
 * the registry there and never crosses the socket. Registered with the program, so `cairn serve`
 * (the same program) serves it too.
 */
registerStoreOperation('archive', {
  // Reads sealed blocks only; but what a store holds is for its key holders to ask.
  access: 'full',
  writes: false,
  run: async (repo, a, ctx): Promise<BlockCopyResult> => {
    if (typeof a.devices !== 'string' || typeof a.device !== 'string') throw new HolderRequestError('archive needs "devices" (the registry file) and "device" (a name)')
    // Writing: with the device's lock, so no expiry elsewhere removes packs this run found there (device-lock.ts).
    const lock: LockOptions = {
      purpose: 'cairn archive run', signal: ctx.signal,
      onWait: (holder, where) => { process.stderr.write(`cairn: waiting for device ${String(a.device)}: ${holder !== undefined ? `${holder.purpose} on ${holder.host} (process ${holder.pid}) since ${holder.since}` : where !== undefined ? 'a writer whose lock does not decode' : 'another run in this process'} is writing to it${where !== undefined ? `; if that process is gone, remove ${where}` : ''}\n`) }
    }
    return await withDevice({ devices: a.devices, device: a.device }, lock, async d => await (await archiveModule()).copyBlocks(repo.blocks, d.store, { signal: ctx.signal, onProgress: ({ detail }) => ctx.progress(detail) }))
  }
})

const registryOf = async (o: DeviceFlags): Promise<DeviceRegistry> => (await archiveModule()).openDeviceRegistry(resolve(o.devices ?? defaultRegistry()))
const defaultRegistry = (): string => join(dataHome(), 'archive-devices.json')
const devicesOption = (cmd: Command): Command => cmd.addOption(new Option('--devices <file>', 'the archive device registry').env('CAIRN_ARCHIVE_DEVICES'))

async function withDevice<T> (o: DeviceFlags & { device: string }, lock: LockOptions | undefined, fn: (d: OpenDevice) => Promise<T>): Promise<T> {
  const registry = await registryOf(o)
  const d = await (await archiveModule()).openArchiveDevice(registry.get(o.device), registry.secretOf(o.device), lock !== undefined ? { lock } : {})
  try { return await fn(d) } finally { await d.close() }
}

interface AddFlags extends DeviceFlags {
  type: 'dir' | 's3' | 'vtl' | 'tape'
  changer?: string
  drive?: string[]
  recordSize?: string
  path?: string
  endpoint?: string
  region: string
  bucket?: string
  prefix?: string
  pathStyle?: boolean
  accessKey?: string
  retentionDays?: string
  pool?: string
  createLibrary?: string
  capacity: string
}

function configOf ({ ArchiveDeviceInvalidError, createVirtualTapeLibrary }: ArchiveModule, o: AddFlags): { config: DeviceConfig, secret?: string } {
  const need = (v: string | undefined, flag: string): string => {
    if (v === undefined || v === '') throw new ArchiveDeviceInvalidError(`A ${o.type} device needs ${flag}`)
    return v
  }
  if (o.type === 'dir') return { config: { type: 'dir', path: resolve(need(o.path, '--path')) } }
  if (o.type === 'vtl') {
    const path = resolve(need(o.path, '--path'))
    const pool = need(o.pool, '--pool BARCODE,…').split(',').map(s => s.trim()).filter(Boolean)
    if (o.createLibrary !== undefined) {
      if (existsSync(join(path, 'library.json'))) throw new ArchiveDeviceInvalidError(`${path} holds a tape library already; leave out --create-library`)
      createVirtualTapeLibrary(path, { slots: Math.max(Number(o.createLibrary), pool.length), drives: 1, cartridges: pool.map(barcode => ({ barcode, capacity: parseSize(o.capacity) })) })
    }
    return { config: { type: 'vtl', path, pool } }
  }
  if (o.type === 'tape') {
    const pool = need(o.pool, '--pool BARCODE,…').split(',').map(s => s.trim()).filter(Boolean)
    const drives = (o.drive ?? []).map(d => resolve(d))
    if (drives.length === 0) throw new ArchiveDeviceInvalidError('A tape device needs --drive /dev/nstN (once per drive, in the changer\'s drive order)')
    const recordSize = o.recordSize !== undefined ? parseSize(o.recordSize) : undefined
    if (recordSize !== undefined && !(recordSize >= 512 && recordSize % 512 === 0)) throw new ArchiveDeviceInvalidError('--record-size is a multiple of 512 bytes')
    return { config: { type: 'tape', changer: resolve(need(o.changer, '--changer /dev/sgN')), drives, pool, ...(recordSize !== undefined ? { recordSize } : {}) } }
  }
  const secret = process.env.CAIRN_S3_SECRET_KEY
  if (secret === undefined || secret === '') throw new ArchiveDeviceInvalidError('An s3 device needs its secret access key in CAIRN_S3_SECRET_KEY (not a flag, which other users could see)')
  const retentionDays = o.retentionDays !== undefined ? Number(o.retentionDays) : undefined
  if (retentionDays !== undefined && !(Number.isInteger(retentionDays) && retentionDays > 0)) throw new ArchiveDeviceInvalidError('--retention-days is a whole number of days')
  return {
    config: { type: 's3', endpoint: o.endpoint, region: o.region, bucket: need(o.bucket, '--bucket'), prefix: o.prefix, pathStyle: o.pathStyle === true, accessKeyId: need(o.accessKey, '--access-key'), ...(retentionDays !== undefined ? { retentionDays } : {}) },
    secret
  }
}

const where = (c: DeviceConfig): string => c.type === 's3' ? `${c.endpoint ?? `aws:${c.region}`}/${c.bucket}/${c.prefix ?? ''}` : c.type === 'vtl' ? `${c.path} [${c.pool.join(',')}]` : c.type === 'tape' ? `${c.changer} ${c.drives.join(',')} [${c.pool.join(',')}]` : c.path

export function registerArchiveCommand (program: Command, io: ArchiveCommandIo): Command {
  const archive = program.command('archive').description('archive a store to a local folder, S3-compatible storage or a tape library, and restore from there')
  const device = archive.command('device').description('the archive devices this node knows')

  devicesOption(device.command('add').description('add a device (an s3 secret key comes from CAIRN_S3_SECRET_KEY)'))
    .argument('<name>', 'device name, 1–64 characters')
    .addOption(new Option('--type <type>', 'kind of device').choices(['dir', 's3', 'vtl', 'tape']).makeOptionMandatory())
    .option('--path <dir>', 'dir: the folder (a disk or NAS mount); vtl: the virtual tape library\'s folder')
    .option('--endpoint <url>', 's3: endpoint URL (absent: AWS by region)')
    .option('--region <region>', 's3: region', 'us-east-1')
    .option('--bucket <name>', 's3: bucket')
    .option('--prefix <prefix>', 's3: key prefix inside the bucket (ending in /)')
    .option('--path-style', 's3: path-style addressing (MinIO, Ceph RGW, most private clouds)')
    .option('--access-key <id>', 's3: access key id')
    .option('--retention-days <n>', 's3: Object Lock retention of archived objects, where the bucket has Object Lock')
    .option('--pool <barcodes>', 'vtl, tape: the cartridges this device writes, comma-separated, in order')
    .option('--changer <node>', 'tape: the SCSI medium changer, /dev/sgN')
    .option('--drive <node>', 'tape: a drive, /dev/nstN (repeat for each, in the changer\'s drive order)', (v: string, all: string[] = []) => [...all, v])
    .option('--record-size <size>', 'tape: bytes per tape record (default 256K)')
    .option('--create-library <slots>', 'vtl: create the virtual library there with this many slots and the pool\'s cartridges')
    .option('--capacity <size>', 'vtl with --create-library: capacity of each cartridge', '64G')
    .option('--json', 'print JSON')
    .action(async (name: string, o: AddFlags) => {
      const { config, secret } = configOf(await archiveModule(), o)
      const record = (await registryOf(o)).add(name, config, secret)
      if (o.json === true) io.json(record)
      else io.out(`added archive device ${name} (${config.type}, ${where(config)})`)
    })

  devicesOption(device.command('list').description('list devices (secrets are never shown)'))
    .option('--json', 'print JSON')
    .action(async (o: DeviceFlags) => {
      const list = (await registryOf(o)).list()
      if (o.json === true) { io.json(list); return }
      io.out(table(['name', 'type', 'where', 'secret', 'created'], list.map(d => [d.name, d.config.type, where(d.config), d.hasSecret ? 'stored' : '-', d.created.slice(0, 19).replace('T', ' ')])))
    })

  devicesOption(device.command('remove').description('forget a device (what it holds stays on it)'))
    .argument('<name>', 'device name')
    .option('--json', 'print JSON')
    .action(async (name: string, o: DeviceFlags) => {
      (await registryOf(o)).remove(name)
      if (o.json === true) io.json({ removed: name }); else io.out(`removed archive device ${name}; what it holds stays on it`)
    })

  devicesOption(device.command('test').description('reach a device and read its catalogue'))
    .argument('<name>', 'device name')
    .option('--json', 'print JSON')
    .action(async (name: string, o: DeviceFlags) => {
      const r = await withDevice({ ...o, device: name }, undefined, async d => {
        let blocks = 0
        for await (const _ of d.store.cids()) blocks++
        return { name, ok: true, ...d.details, blocks, snapshots: (await d.store.snapshotRoots()).length }
      })
      if (o.json === true) io.json(r)
      else io.out(`${name}: reachable; ${counted(r.blocks, 'block')}, ${counted(r.snapshots, 'snapshot')} archived${'objectLock' in r ? `; Object Lock ${r.objectLock === true ? 'on' : 'off'}` : ''}`)
    })

  devicesOption(storeOptions(archive.command('run').description('archive a store: every block and snapshot the device does not hold yet')))
    .requiredOption('--device <name>', 'the device')
    .action(async (o: StoreFlags & DeviceFlags & { device: string }) => {
      // Through the store's holder when one has it open (cairn serve), else on the store opened here.
      const r = await onStore(o, 'archive', { devices: resolve(o.devices ?? defaultRegistry()), device: o.device }, { readOnly: true }) as BlockCopyResult
      if (o.json === true) io.json(r)
      else io.out(`archived ${counted(r.blocksWritten, 'block')} (${bytes(r.bytesWritten)}) and ${counted(r.rootsAdded, 'snapshot')} to ${o.device}; ${count(r.blocksPresent)} were there already`)
    })

  devicesOption(archive.command('ls').description('list the snapshots a device holds (their roots; reading them needs the store\'s keys)'))
    .requiredOption('--device <name>', 'the device')
    .option('--json', 'print JSON')
    .action(async (o: DeviceFlags & { device: string }) => {
      const roots: Array<{ cid: { toString: () => string }, origin?: RootOrigin }> = await withDevice(o, undefined, async d => d.store.snapshotRootOrigins !== undefined ? await d.store.snapshotRootOrigins() : (await d.store.snapshotRoots()).map(cid => ({ cid })))
      const list = roots.map(r => ({ root: r.cid.toString(), ...(r.origin !== undefined ? { site: r.origin.site, received: r.origin.received } : {}) }))
      if (o.json === true) { io.json(list); return }
      io.out(table(['root', 'from site'], list.map(r => [r.root, r.site ?? '(this site)'])))
      io.out(counted(list.length, 'snapshot'))
    })

  devicesOption(archive.command('verify').description('read back every block on a device and check it against its address'))
    .requiredOption('--device <name>', 'the device')
    .option('--json', 'print JSON')
    .action(async (o: DeviceFlags & { device: string }) => {
      const r = await withDevice(o, undefined, async d => await (await archiveModule()).verifyBlocks(d.store))
      for (const b of r.bad.slice(0, 100)) process.stderr.write(`cairn: bad block ${b.cid}: ${b.error}\n`)
      if (r.bad.length > 0) io.setCode(1)
      if (o.json === true) io.json({ blocks: r.blocks, bytes: r.bytes, bad: r.bad })
      else io.out(`verified ${counted(r.blocks, 'block')}, ${bytes(r.bytes)} on ${o.device}: ${r.bad.length === 0 ? 'all intact' : `${counted(r.bad.length, 'bad block')}; run "cairn archive run" from the store to write them again`}`)
    })

  devicesOption(archive.command('restore').description('rebuild a store from a device, with the config.json and keys.json kept in escrow; then "cairn restore" reads it'))
    .requiredOption('--device <name>', 'the device')
    .requiredOption('--store <dir>', 'a new or empty folder for the rebuilt store')
    .requiredOption('--keys-from <dir>', 'the folder holding the store\'s escrowed config.json and keys.json')
    .option('--json', 'print JSON')
    .action(async (o: DeviceFlags & { device: string, store: string, keysFrom: string }) => {
      const dir = resolve(o.store)
      if (existsSync(dir) && readdirSync(dir).length > 0) throw new StoreExistsError(dir)
      for (const f of ['config.json', 'keys.json']) {
        if (!existsSync(join(o.keysFrom, f))) throw new (await archiveModule()).ArchiveDeviceInvalidError(`${join(o.keysFrom, f)} is missing: --keys-from names the folder with the store's escrowed config.json and keys.json`)
      }
      const blocks = await LocalBlockStore.open(join(dir, 'index'), join(dir, 'segments'))
      let r
      try { r = await withDevice(o, undefined, async d => await (await archiveModule()).copyBlocks(d.store, blocks)) } finally { await blocks.close() }
      // The keys go in last: a folder without them is plainly not a usable store yet.
      for (const f of ['config.json', 'keys.json']) copyFileSync(join(o.keysFrom, f), join(dir, f))
      if (o.json === true) io.json({ store: dir, blocks: r.blocksWritten, bytes: r.bytesWritten, snapshots: r.rootsAdded })
      else io.out(`rebuilt the store ${dir} from ${o.device}: ${counted(r.blocksWritten, 'block')} (${bytes(r.bytesWritten)}), ${counted(r.rootsAdded, 'snapshot')}; restore from it with "cairn restore latest --store ${dir} --target DIR"`)
    })

  return archive
}
