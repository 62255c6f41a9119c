// The S3 baseline of archive-figures.sh: one file of the archive's size uploaded with the same
// SDK's multipart upload (5 MiB parts, 4 in flight), as the archive device uploads packs.
import { createReadStream, statSync } from 'node:fs'
import { S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
const [file, port] = process.argv.slice(2)
const client = new S3Client({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } })
const t = performance.now()
await new Upload({ client, params: { Bucket: 'archive', Key: 'baseline/one-file', Body: createReadStream(file) }, partSize: 5 << 20, queueSize: 4 }).done()
const s = (performance.now() - t) / 1000
process.stdout.write(`${(statSync(file).size / s / 2 ** 20).toFixed(1)}\n`)
client.destroy()
