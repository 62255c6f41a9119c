// The archive devices a node knows (F20, manual 2.6.1): name, type and settings, kept in one
// JSON file. A device's secret (an S3 secret access key) is stored only encrypted (AES-256-GCM
// under a key kept in a separate file, mode 0600, created on first use), is never returned by
// `list`/`get` and never goes into a log line: only `secretOf` gives it, to open the device.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { writeFileAtomic } from '../../chunkstore/index.ts'
import { ArchiveDeviceInvalidError, ArchiveDeviceNotFoundError } from './errors.ts'

export type DeviceConfig =
  | { type: 'dir', path: string }
  | { type: 's3', endpoint?: string, region: string, bucket: string, prefix?: string, pathStyle: boolean, accessKeyId: string, retentionDays?: number }
  | { type: 'vtl', path: string, pool: string[] }
  /** A real tape library: its SCSI medium changer (/dev/sgN) and its `st` drives (/dev/nstN) in the changer's drive order; `recordSize` in bytes (default 256 KiB). */
  | { type: 'tape', changer: string, drives: string[], pool: string[], recordSize?: number }

/** The media pool of a tape library device (virtual or SCSI); undefined for any other device. */
export const poolOf = (c: DeviceConfig): string[] | undefined => c.type === 'vtl' || c.type === 'tape' ? c.pool : undefined

export interface DeviceRecord {
  name: string
  created: string
  config: DeviceConfig
  /** Whether a secret is stored (never the secret). */
  hasSecret: boolean
}

interface Sealed { iv: string, tag: string, data: string }
interface RegistryFile { version: 1, devices: Array<DeviceRecord & { secret?: Sealed }> }

export interface DeviceRegistry {
  list: () => DeviceRecord[]
  /** Throws ArchiveDeviceNotFoundError. */
  get: (name: string) => DeviceRecord
  /** Throws ArchiveDeviceInvalidError for a bad or taken name. */
  add: (name: string, config: DeviceConfig, secret?: string) => DeviceRecord
  remove: (name: string) => void
  /** The device's secret, decrypted, to open it; undefined when it has none. */
  secretOf: (name: string) => string | undefined
}

const NAME = /^[^\u0000-\u001f\u007f/\\]{1,64}$/u

export function openDeviceRegistry (file: string): DeviceRegistry {
  const keyFile = `${file}.key`
  const read = (): RegistryFile => existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) as RegistryFile : { version: 1, devices: [] }
  const write = (r: RegistryFile): void => { mkdirSync(dirname(file), { recursive: true }); writeFileAtomic(file, JSON.stringify(r, null, 2)) }
  const key = (): Buffer => {
    if (!existsSync(keyFile)) { mkdirSync(dirname(keyFile), { recursive: true }); writeFileAtomic(keyFile, randomBytes(32).toString('base64'), 0o600) }
    return Buffer.from(readFileSync(keyFile, 'utf8'), 'base64')
  }
  const view = ({ secret: _secret, ...d }: DeviceRecord & { secret?: Sealed }): DeviceRecord => ({ ...d, hasSecret: _secret !== undefined })
  const find = (r: RegistryFile, name: string): DeviceRecord & { secret?: Sealed } => {
    const d = r.devices.find(x => x.name === name)
    if (d === undefined) throw new ArchiveDeviceNotFoundError(name)
    return d
  }
  return {
    list: () => read().devices.map(view),
    get: name => view(find(read(), name)),
    add (name, config, secret) {
      if (!NAME.test(name) || name.trim() !== name) throw new ArchiveDeviceInvalidError(`A device name is 1–64 characters, without control characters, slashes or spaces at either end; "${name}" is not`)
      const r = read()
      if (r.devices.some(d => d.name === name)) throw new ArchiveDeviceInvalidError(`There is a device named ${name} already; remove it first or choose another name`)
      let sealed: Sealed | undefined
      if (secret !== undefined) {
        const iv = randomBytes(12)
        const c = createCipheriv('aes-256-gcm', key(), iv)
        c.setAAD(Buffer.from(name))
        const data = Buffer.concat([c.update(secret, 'utf8'), c.final()])
        sealed = { iv: iv.toString('base64'), tag: c.getAuthTag().toString('base64'), data: data.toString('base64') }
      }
      const record = { name, created: new Date().toISOString(), config, hasSecret: sealed !== undefined }
      r.devices.push({ ...record, ...(sealed !== undefined ? { secret: sealed } : {}) })
      write(r)
      return record
    },
    remove (name) {
      const r = read()
      find(r, name)
      write({ ...r, devices: r.devices.filter(d => d.name !== name) })
    },
    secretOf (name) {
      const s = find(read(), name).secret
      if (s === undefined) return undefined
      const d = createDecipheriv('aes-256-gcm', key(), Buffer.from(s.iv, 'base64'))
      d.setAAD(Buffer.from(name))
      d.setAuthTag(Buffer.from(s.tag, 'base64'))
      return Buffer.concat([d.update(Buffer.from(s.data, 'base64')), d.final()]).toString('utf8')
    }
  }
}
