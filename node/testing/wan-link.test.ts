// The WAN link proxy itself (wan-link.ts): it adds at least the configured delay each way,
// paces a bulk transfer near its rate, passes every byte unchanged, and holds a bounded number
// of bytes when the far end stops reading. Timing tolerances are wide (the machine is shared);
// only the lower bounds are exact, as the proxy can add delay but never remove it.
import test from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { startWanLink } from './wan-link.ts'

async function listen (onSocket: (s: Socket) => void): Promise<{ server: Server, port: number }> {
  const server = createServer({ noDelay: true }, onSocket)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', () => resolve()))
  return { server, port: (server.address() as AddressInfo).port }
}

async function connect (port: number): Promise<Socket> {
  const s = createConnection({ host: '127.0.0.1', port, noDelay: true })
  await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject) })
  return s
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

test('a ping-pong through the link takes its round-trip time', async (t) => {
  const echo = await listen(s => { s.pipe(s) })
  t.after(() => { echo.server.close() })
  const link = await startWanLink({ target: { host: '127.0.0.1', port: echo.port }, rttMs: 60 })
  t.after(async () => { await link.close() })
  const c = await connect(link.port)
  t.after(() => { c.destroy() })
  const rtts: number[] = []
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now()
    const back = new Promise<void>(resolve => c.once('data', () => resolve()))
    c.write(Buffer.from([i]))
    await back
    rtts.push(performance.now() - t0)
  }
  assert.ok(Math.min(...rtts) >= 59, `no round trip is shorter than the link's RTT: ${rtts.map(r => r.toFixed(1)).join(', ')} ms`)
  assert.ok(median(rtts) < 60 + 40, `the median round trip is near 60 ms: ${median(rtts).toFixed(1)} ms`)
})

test('a bulk transfer is paced near the rate, every byte intact, both ways', async (t) => {
  const size = 6 * 1024 * 1024
  const rate = 80e6 // 10 MB/s each way
  const payload = randomBytes(size)
  // The target sends the same bytes back as it receives them: both directions are paced.
  const echo = await listen(s => { s.pipe(s) })
  t.after(() => { echo.server.close() })
  const link = await startWanLink({ target: { host: '127.0.0.1', port: echo.port }, rttMs: 20, bitsPerSecond: rate })
  t.after(async () => { await link.close() })
  const c = await connect(link.port)
  t.after(() => { c.destroy() })
  const hash = createHash('sha256')
  let got = 0
  const t0 = performance.now()
  const done = new Promise<void>(resolve => {
    c.on('data', (d: Buffer) => { hash.update(d); got += d.length; if (got >= size) resolve() })
  })
  c.write(payload)
  await done
  const seconds = (performance.now() - t0) / 1000
  assert.equal(hash.digest('hex'), createHash('sha256').update(payload).digest('hex'), 'the bytes came back unchanged')
  const floor = size / (rate / 8) + 0.02
  assert.ok(seconds >= floor * 0.99, `the link is no faster than its rate: ${seconds.toFixed(2)} s for ${floor.toFixed(2)} s at the rate`)
  assert.ok(seconds < floor / 0.7, `a bulk transfer gets near the rate: ${(size / seconds / 1e6).toFixed(1)} MB/s of 10`)
  const s = link.stats()
  assert.equal(s.forwardBytes, size)
  assert.equal(s.backBytes, size)
  assert.equal(s.connections, 1)
})

test('a destination that stops reading pauses the source: the link holds a bounded number of bytes', async (t) => {
  let server!: Socket
  const sink = await listen(s => { server = s; s.pause() })
  t.after(() => { sink.server.close() })
  const link = await startWanLink({ target: { host: '127.0.0.1', port: sink.port }, rttMs: 10, bitsPerSecond: 800e6 })
  t.after(async () => { await link.close() })
  const c = await connect(link.port)
  t.after(() => { c.destroy() })
  // Far more than the kernel's socket buffers and the link's limit together can hold.
  const chunk = randomBytes(1024 * 1024)
  let written = 0
  let blocked = false
  while (written < 256 * 1024 * 1024) {
    written += chunk.length
    if (!c.write(chunk)) {
      const drained = await Promise.race([new Promise(resolve => c.once('drain', () => resolve(true))), new Promise(resolve => setTimeout(() => resolve(false), 1500))])
      if (drained === false) { blocked = true; break }
    }
  }
  assert.ok(blocked, `the sender was held back (it wrote ${(written / 1048576).toFixed(0)} MiB)`)
  const s = link.stats()
  assert.ok(s.peakHeldBytes <= link.holdLimit + chunk.length, `the link held at most its limit: ${s.peakHeldBytes} of ${link.holdLimit}`)
  // Once the destination reads again, everything written arrives.
  let got = 0
  const all = new Promise<void>(resolve => server.on('data', (d: Buffer) => { got += d.length; if (got >= written) resolve() }))
  server.resume()
  c.end()
  await all
  assert.equal(got, written)
})
