// Opens a registered archive device as a BlockStore (the pack store on its medium).
import { join } from 'node:path'
import type { DeviceRecord } from './device-registry.ts'
import { localDirectoryMedium } from './local-directory.ts'
import { openPackBlockStore, type PackBlockStore } from './pack-block-store.ts'
import { openTapeMedium } from './tape-medium.ts'
import { openVirtualTapeLibrary } from './virtual-tape-library.ts'
import { existsSync } from 'node:fs'
import { ArchiveDeviceInvalidError, ArchiveDeviceUnavailableError } from './errors.ts'
import { openScsiTapeLibrary } from './scsi-changer.ts'
import { openSgPort, openStPort } from './tape-ioctl.ts'
import type { TapeLibrary } from './tape-library.ts'
import { lockDevice, type LockOptions, type LockPlace, type Release } from './device-lock.ts'

export interface OpenDevice {
  store: PackBlockStore
  /** What `device test` shows: the device's kind and what it found. */
  details: Record<string, unknown>
  /** Ends what is open (a tape set) and lets go of connections. */
  close: () => Promise<void>
}

export interface OpenDeviceOptions {
  /** To write (archive, expire): the device's write lock (device-lock.ts), held from before its catalogues are read until `close`. */
  lock?: LockOptions
}

export async function openArchiveDevice (record: DeviceRecord, secret: string | undefined, options: OpenDeviceOptions = {}): Promise<OpenDevice> {
  const c = record.config
  // A SCSI library is held in this process only, by its changer (it has no folder for a lock file).
  const key = c.type === 's3' ? `s3 ${c.endpoint ?? c.region} ${c.bucket} ${c.prefix ?? ''}` : c.type === 'tape' ? `tape ${c.changer}` : `${c.type} ${c.path}`
  let release: Release | undefined
  /** Opens with the write lock held, when asked for: at `place` (device-lock.ts), or within this process only. */
  const opened = async (place: LockPlace | undefined, open: () => Promise<OpenDevice>): Promise<OpenDevice> => {
    if (options.lock !== undefined) release = await lockDevice(key, place, options.lock)
    try {
      const d = await open()
      return { ...d, close: async () => { try { await d.close() } finally { await release?.() } } }
    } catch (err) { await release?.(); throw err }
  }
  if (c.type === 'dir') {
    const medium = await localDirectoryMedium({ device: record.name, dir: c.path })
    return await opened({ file: join(c.path, 'lock') }, async () => ({ store: await openPackBlockStore(medium), details: { type: 'dir', path: c.path }, close: async () => {} }))
  }
  if (c.type === 's3') {
    if (secret === undefined) throw new ArchiveDeviceInvalidError(`Device ${record.name} has no secret access key stored; add it again with CAIRN_S3_SECRET_KEY set`)
    // Loaded here only: a folder or tape device does not pay for the AWS SDK's start-up.
    const { s3Medium } = await import('./s3-medium.ts')
    const medium = s3Medium({ device: record.name, endpoint: c.endpoint, region: c.region, bucket: c.bucket, prefix: c.prefix, forcePathStyle: c.pathStyle, accessKeyId: c.accessKeyId, secretAccessKey: secret, retentionDays: c.retentionDays })
    try {
      // The bucket reached first: a wrong endpoint or key is its own error, not a failure to lock.
      const { objectLock } = await medium.probe()
      // The lock objects in the bucket, beside what they guard (lock-objects.ts).
      const d = await opened({ medium, where: `s3://${c.bucket}/${c.prefix ?? ''}` }, async () => ({
        store: await openPackBlockStore(medium),
        details: { type: 's3', endpoint: c.endpoint, bucket: c.bucket, prefix: c.prefix ?? '', objectLock },
        close: async () => {}
      }))
      // The client outlives the lock: its release deletes the lock object through it.
      return { ...d, close: async () => { try { await d.close() } finally { medium.close() } } }
    } catch (err) { medium.close(); throw err }
  }
  /** The tape medium on a library, with what `device test` shows of each cartridge of the pool: the set records on it; none at all, scratch (blank or recycled). */
  const onTape = async (library: TapeLibrary, details: Record<string, unknown>, done: () => void): Promise<OpenDevice> => {
    const medium = openTapeMedium({ device: record.name, library, pool: c.type === 'vtl' || c.type === 'tape' ? c.pool : [] })
    const store = await openPackBlockStore(medium)
    const cartridges = [...medium.volumes()].map(([barcode, names]) => ({ barcode, sets: names.filter(n => n.startsWith('sets/')).length, scratch: names.length === 0 }))
    return { store, details: { ...details, cartridges }, close: async () => { try { medium.closeSet() } finally { done() } } }
  }
  if (c.type === 'tape') {
    const missing = [c.changer, ...c.drives].filter(p => !existsSync(p))
    if (missing.length > 0) throw new ArchiveDeviceUnavailableError(record.name, `there is no ${missing.join(', ')} on this machine (is the library connected and powered, and are the sg and st kernel modules loaded? \`lsscsi -g\` lists the nodes)`)
    return await opened(undefined, async () => {
      const library = openScsiTapeLibrary({ device: record.name, changer: openSgPort(record.name, c.changer), drives: c.drives.map(p => () => openStPort(record.name, p)), recordSize: c.recordSize })
      try {
        const { vendor, product, revision } = library.inquiry
        return await onTape(library, { type: 'tape', changer: c.changer, drives: c.drives, pool: c.pool, changerModel: `${vendor} ${product} ${revision}` }, () => { library.close() })
      } catch (err) { library.close(); throw err }
    })
  }
  return await opened({ file: join(c.path, 'lock') }, async () => await onTape(openVirtualTapeLibrary(c.path), { type: 'vtl', path: c.path, pool: c.pool }, () => {}))
}
