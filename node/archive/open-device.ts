// Opens a registered archive device as a BlockStore (the pack store on its medium).
import { join } from 'node:path'
import type { DeviceRecord } from './device-registry.ts'
import { localDirectoryMedium } from './local-directory.ts'
import { openPackBlockStore, type PackBlockStore } from './pack-block-store.ts'
import { s3Medium } from './s3-medium.ts'
import { openTapeMedium } from './tape-medium.ts'
import { openVirtualTapeLibrary } from './virtual-tape-library.ts'
import { ArchiveDeviceInvalidError } from './errors.ts'
import { lockDevice, type LockOptions, type Release } from './device-lock.ts'

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
  /** The device's lock file, where it has one: its folder, or its tape library's folder. */
  const file = c.type === 's3' ? undefined : join(c.path, 'lock')
  const key = c.type === 's3' ? `s3 ${c.endpoint ?? c.region} ${c.bucket} ${c.prefix ?? ''}` : `${c.type} ${c.path}`
  let release: Release | undefined
  const opened = async (open: () => Promise<OpenDevice>): Promise<OpenDevice> => {
    if (options.lock !== undefined) release = await lockDevice(key, file, options.lock)
    try {
      const d = await open()
      return { ...d, close: async () => { try { await d.close() } finally { await release?.() } } }
    } catch (err) { await release?.(); throw err }
  }
  if (c.type === 'dir') {
    const medium = await localDirectoryMedium({ device: record.name, dir: c.path })
    return await opened(async () => ({ store: await openPackBlockStore(medium), details: { type: 'dir', path: c.path }, close: async () => {} }))
  }
  if (c.type === 's3') {
    if (secret === undefined) throw new ArchiveDeviceInvalidError(`Device ${record.name} has no secret access key stored; add it again with CAIRN_S3_SECRET_KEY set`)
    return await opened(async () => {
      const medium = s3Medium({ device: record.name, endpoint: c.endpoint, region: c.region, bucket: c.bucket, prefix: c.prefix, forcePathStyle: c.pathStyle, accessKeyId: c.accessKeyId, secretAccessKey: secret, retentionDays: c.retentionDays })
      try {
        const { objectLock } = await medium.probe()
        return { store: await openPackBlockStore(medium), details: { type: 's3', endpoint: c.endpoint, bucket: c.bucket, prefix: c.prefix ?? '', objectLock }, close: async () => { medium.close() } }
      } catch (err) { medium.close(); throw err }
    })
  }
  return await opened(async () => {
    const medium = openTapeMedium({ device: record.name, library: openVirtualTapeLibrary(c.path), pool: c.pool })
    const store = await openPackBlockStore(medium)
    // Each cartridge of the pool: the set records on it; none at all, scratch (blank or recycled).
    const cartridges = [...medium.volumes()].map(([barcode, names]) => ({ barcode, sets: names.filter(n => n.startsWith('sets/')).length, scratch: names.length === 0 }))
    return { store, details: { type: 'vtl', path: c.path, pool: c.pool, cartridges }, close: async () => { medium.closeSet() } }
  })
}
