// Opens a registered archive device as a BlockStore (the pack store on its medium).
import type { DeviceRecord } from './device-registry.ts'
import { localDirectoryMedium } from './local-directory.ts'
import { openPackBlockStore, type PackBlockStore } from './pack-block-store.ts'
import { openTapeMedium } from './tape-medium.ts'
import { openVirtualTapeLibrary } from './virtual-tape-library.ts'
import { ArchiveDeviceInvalidError } from './errors.ts'

export interface OpenDevice {
  store: PackBlockStore
  /** What `device test` shows: the device's kind and what it found. */
  details: Record<string, unknown>
  /** Ends what is open (a tape set) and lets go of connections. */
  close: () => Promise<void>
}

export async function openArchiveDevice (record: DeviceRecord, secret: string | undefined): Promise<OpenDevice> {
  const c = record.config
  if (c.type === 'dir') {
    const medium = await localDirectoryMedium({ device: record.name, dir: c.path })
    return { store: await openPackBlockStore(medium), details: { type: 'dir', path: c.path }, close: async () => {} }
  }
  if (c.type === 's3') {
    if (secret === undefined) throw new ArchiveDeviceInvalidError(`Device ${record.name} has no secret access key stored; add it again with CAIRN_S3_SECRET_KEY set`)
    // Loaded here only: a folder or tape device does not pay for the AWS SDK's start-up.
    const { s3Medium } = await import('./s3-medium.ts')
    const medium = s3Medium({ device: record.name, endpoint: c.endpoint, region: c.region, bucket: c.bucket, prefix: c.prefix, forcePathStyle: c.pathStyle, accessKeyId: c.accessKeyId, secretAccessKey: secret, retentionDays: c.retentionDays })
    try {
      const { objectLock } = await medium.probe()
      return { store: await openPackBlockStore(medium), details: { type: 's3', endpoint: c.endpoint, bucket: c.bucket, prefix: c.prefix ?? '', objectLock }, close: async () => { medium.close() } }
    } catch (err) { medium.close(); throw err }
  }
  const medium = openTapeMedium({ device: record.name, library: openVirtualTapeLibrary(c.path), pool: c.pool })
  return { store: await openPackBlockStore(medium), details: { type: 'vtl', path: c.path, pool: c.pool }, close: async () => { medium.closeSet() } }
}
