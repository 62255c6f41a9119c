// Archive medium on S3-compatible object storage (F20: AWS S3, Ceph RGW, MinIO and the S3 APIs
// of other clouds), through the maintained AWS SDK v3: its signing, its retries (the standard
// mode: exponential backoff with jitter) and lib-storage's multipart upload with a bounded
// number of parts in flight. The pack store above keeps objects few and large.
import { DeleteObjectCommand, GetObjectCommand, GetObjectLockConfigurationCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, ListObjectVersionsCommand, PutObjectCommand, PutObjectRetentionCommand, S3Client, S3ServiceException, type PutObjectCommandInput } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { throwIfAborted } from '../../crypto/index.ts'
import type { ArchiveMedium } from './archive-medium.ts'
import { ArchiveDamagedError, ArchiveDeviceUnavailableError } from './errors.ts'

export interface S3DeviceInit {
  /** The device's name (errors and records). */
  device: string
  /** e.g. https://s3.eu-west-1.amazonaws.com, http://127.0.0.1:9000; absent: AWS by region. */
  endpoint?: string
  region: string
  bucket: string
  /** Key prefix inside the bucket ('' or ending in '/'). */
  prefix?: string
  /** Path-style addressing (MinIO, Ceph RGW, most private clouds) rather than virtual-host. */
  forcePathStyle?: boolean
  accessKeyId: string
  secretAccessKey: string
  /** Attempts per request, backoff between them (default 4). */
  maxAttempts?: number
  /** Objects from this size up go as multipart uploads (default 8 MiB, at least 5 MiB). */
  multipartFrom?: number
  /** Parts of one multipart upload in flight at once (default 4). */
  partConcurrency?: number
  /** Where the bucket has Object Lock: days each archived object is retained (governance mode); never a lock object (written with `retain: false`). */
  retentionDays?: number
}

export interface S3Medium extends ArchiveMedium {
  /** Reaches the bucket; says whether it has Object Lock enabled. Throws as the medium does. */
  probe: () => Promise<{ objectLock: boolean }>
  close: () => void
}

/** An SDK failure as the error that names the device and says what to do. */
function deviceError (init: S3DeviceInit, err: unknown): Error {
  const name = (err as { name?: string }).name ?? ''
  const code = (err as { code?: string }).code ?? ''
  const status = err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined
  const where = `${init.endpoint ?? `AWS ${init.region}`}, bucket ${init.bucket}`
  if (name === 'NoSuchBucket' || (name === 'NotFound' && status === 404)) return new ArchiveDeviceUnavailableError(init.device, `the bucket ${init.bucket} does not exist at ${init.endpoint ?? init.region}; create it or correct the bucket name`, { cause: err })
  if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'Forbidden'].includes(name) || status === 403) return new ArchiveDeviceUnavailableError(init.device, `${where} refused the access key ${init.accessKeyId} (${name || status}); check the access key and secret`, { cause: err })
  if (['ECONNREFUSED', 'ENOTFOUND', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(code)) return new ArchiveDeviceUnavailableError(init.device, `${where} cannot be reached (${code}); check the endpoint and the network`, { cause: err })
  return err as Error
}

export function s3Medium (init: S3DeviceInit): S3Medium {
  // The SDK warns on stderr, once per process, that its releases from 2027 need Node 22; the
  // versions package-lock.json pins run on Node 20, and the CLI's stderr carries only its own lines.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
  const prefix = init.prefix ?? ''
  const client = new S3Client({
    endpoint: init.endpoint,
    region: init.region,
    forcePathStyle: init.forcePathStyle ?? false,
    credentials: { accessKeyId: init.accessKeyId, secretAccessKey: init.secretAccessKey },
    maxAttempts: init.maxAttempts ?? 4,
    retryMode: 'standard'
  })
  const multipartFrom = Math.max(5 << 20, init.multipartFrom ?? 8 << 20)
  let objectLock: boolean | undefined

  const send = async <T>(what: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> => {
    throwIfAborted(signal, what)
    try {
      return await fn()
    } catch (err) {
      throwIfAborted(signal, what)
      throw deviceError(init, err)
    }
  }

  const lockEnabled = async (): Promise<boolean> => {
    if (objectLock !== undefined) return objectLock
    try {
      const r = await client.send(new GetObjectLockConfigurationCommand({ Bucket: init.bucket }))
      objectLock = r.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled'
    } catch (err) {
      // A bucket without a lock configuration (or a server without the API) answers with an error.
      const e = deviceError(init, err)
      if (e instanceof ArchiveDeviceUnavailableError) throw e
      objectLock = false
    }
    return objectLock
  }

  return {
    device: init.device,
    async probe () {
      await send(`Reaching ${init.device}`, async () => await client.send(new HeadBucketCommand({ Bucket: init.bucket })))
      return { objectLock: await lockEnabled() }
    },
    async write (name, bytes, options) {
      const what = `Writing ${name} to ${init.device}`
      await send(what, async () => {
        const input: PutObjectCommandInput = { Bucket: init.bucket, Key: prefix + name, Body: bytes }
        if (options?.retain !== false && init.retentionDays !== undefined && await lockEnabled()) {
          input.ObjectLockMode = 'GOVERNANCE'
          input.ObjectLockRetainUntilDate = new Date(Date.now() + init.retentionDays * 86_400_000)
        }
        if (bytes.length < multipartFrom) {
          await client.send(new PutObjectCommand(input), { abortSignal: options?.signal })
          return
        }
        const upload = new Upload({ client, params: input, partSize: 5 << 20, queueSize: init.partConcurrency ?? 4, leavePartsOnError: false })
        const onAbort = (): void => { void upload.abort() }
        options?.signal?.addEventListener('abort', onAbort, { once: true })
        let done
        try { done = await upload.done() } finally { options?.signal?.removeEventListener('abort', onAbort) }
        // radosgw 16.2 stores a multipart upload without the Object Lock headers its
        // CreateMultipartUpload carried (docs/bench.md, "radosgw"): the retention is set again on
        // the completed version, which on a server that kept it changes nothing.
        if (input.ObjectLockMode !== undefined) {
          await client.send(new PutObjectRetentionCommand({ Bucket: init.bucket, Key: input.Key, VersionId: done.VersionId, Retention: { Mode: input.ObjectLockMode, RetainUntilDate: input.ObjectLockRetainUntilDate } }), { abortSignal: options?.signal })
        }
      }, options?.signal)
    },
    async read (name, options = {}) {
      const what = `Reading ${name} from ${init.device}`
      const range = options.offset !== undefined || options.length !== undefined
        ? `bytes=${options.offset ?? 0}-${options.length !== undefined ? (options.offset ?? 0) + options.length - 1 : ''}`
        : undefined
      if (options.length === 0) return new Uint8Array(0)
      const bytes = await send(what, async () => {
        try {
          const r = await client.send(new GetObjectCommand({ Bucket: init.bucket, Key: prefix + name, Range: range }), { abortSignal: options.signal })
          return await r.Body!.transformToByteArray()
        } catch (err) {
          if ((err as { name?: string }).name === 'NoSuchKey') throw new ArchiveDamagedError(init.device, name, 'the object is missing', { cause: err })
          if ((err as { name?: string }).name === 'InvalidRange') throw new ArchiveDamagedError(init.device, name, `no bytes at ${options.offset ?? 0}: cut off`, { cause: err })
          throw err
        }
      }, options.signal)
      if (options.length !== undefined && bytes.length < options.length) throw new ArchiveDamagedError(init.device, name, `${bytes.length} of ${options.length} bytes at ${options.offset ?? 0} are there: cut off`)
      return bytes
    },
    /**
     * Under Object Lock each version's retain-until date is asked first: an object with a version
     * still locked (or under a legal hold) is left alone, never a refused DELETE. Such a bucket is versioned, where a
     * DELETE without a version only hides the object behind a delete marker and frees nothing
     * (radosgw and AWS alike), so every version of the name and every marker is deleted.
     */
    async remove (name, options) {
      const what = `Removing ${name} from ${init.device}`
      const Key = prefix + name
      const signal = options?.signal
      return await send(what, async () => {
        if (!await lockEnabled()) {
          await client.send(new DeleteObjectCommand({ Bucket: init.bucket, Key }), { abortSignal: signal })
          return 'removed' as const
        }
        const versions: Array<{ id: string, marker: boolean }> = []
        let keyMarker: string | undefined
        let versionMarker: string | undefined
        do {
          const r = await client.send(new ListObjectVersionsCommand({ Bucket: init.bucket, Prefix: Key, KeyMarker: keyMarker, VersionIdMarker: versionMarker }), { abortSignal: signal })
          for (const v of r.Versions ?? []) if (v.Key === Key && v.VersionId !== undefined) versions.push({ id: v.VersionId, marker: false })
          for (const m of r.DeleteMarkers ?? []) if (m.Key === Key && m.VersionId !== undefined) versions.push({ id: m.VersionId, marker: true })
          ;[keyMarker, versionMarker] = r.IsTruncated === true ? [r.NextKeyMarker, r.NextVersionIdMarker] : [undefined, undefined]
        } while (keyMarker !== undefined)
        for (const v of versions.filter(v => !v.marker)) {
          const head = await client.send(new HeadObjectCommand({ Bucket: init.bucket, Key, VersionId: v.id }), { abortSignal: signal })
          const held = head.ObjectLockLegalHoldStatus === 'ON' || (head.ObjectLockRetainUntilDate !== undefined && head.ObjectLockRetainUntilDate.getTime() > Date.now())
          if (held) return 'locked' as const
        }
        for (const v of versions) await client.send(new DeleteObjectCommand({ Bucket: init.bucket, Key, VersionId: v.id }), { abortSignal: signal })
        return 'removed' as const
      }, signal)
    },
    async * list (p, options) {
      let token: string | undefined
      do {
        const r = await send(`Listing ${init.device}`, async () => await client.send(new ListObjectsV2Command({ Bucket: init.bucket, Prefix: prefix + p, ContinuationToken: token }), { abortSignal: options?.signal }), options?.signal)
        for (const o of r.Contents ?? []) if (o.Key !== undefined) yield o.Key.slice(prefix.length)
        token = r.IsTruncated === true ? r.NextContinuationToken : undefined
      } while (token !== undefined)
    },
    close () { client.destroy() }
  }
}
