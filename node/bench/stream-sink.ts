// The idle receiver of the raw libp2p baseline for the replication benchmark: a mesh host
// (same TCP/noise/yamux stack) that swallows /cairn/bench/sink/1.0.0 streams and, when the
// sender closes its end, answers with the byte count (u64 big-endian). Prints one ready line.
// Benchmark only: its gater admits any peer, so it listens on 127.0.0.1 alone.
import '../polyfill.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createMeshGater, createMeshHost } from '../../bootstrap/index.ts'

export const SINK_PROTOCOL = '/cairn/bench/sink/1.0.0'

const host = await createMeshHost({
  privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], dht: false,
  connectionGater: createMeshGater({ isAdmissible: () => true })
})
await host.handle(SINK_PROTOCOL, async (stream) => {
  let n = 0n
  stream.addEventListener('message', (evt) => { n += BigInt(evt.data.byteLength) })
  stream.addEventListener('remoteCloseWrite', () => {
    const out = new Uint8Array(8)
    new DataView(out.buffer).setBigUint64(0, n)
    stream.send(out)
    void stream.close()
  })
})
await host.start()
process.stdout.write(JSON.stringify({ ready: true, addrs: host.getMultiaddrs().map(String) }) + '\n')
const stop = async (): Promise<void> => { await host.stop(); process.exit(0) }
process.once('SIGTERM', () => { void stop() })
process.once('SIGINT', () => { void stop() })
