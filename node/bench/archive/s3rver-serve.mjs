// Starts s3rver on 127.0.0.1:PORT with bucket "archive", data under DIR (for archive-figures.sh).
import S3rver from 's3rver'
const [dir, port] = process.argv.slice(2)
const server = new S3rver({ address: '127.0.0.1', port: Number(port), silent: true, directory: dir, configureBuckets: [{ name: 'archive', configs: [] }] })
await server.run()
process.stdout.write('ready\n')
process.on('SIGTERM', () => { server.close().then(() => process.exit(0)) })
