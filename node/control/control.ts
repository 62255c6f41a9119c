// The control socket of a running mesh daemon: `cairn mesh status|invite|remove|replicate`
// talk to the daemon that holds the libp2p host and the store. One JSON request per
// connection, one JSON answer: { ok: true, result } or { ok: false, error: { name, code, message, params? } }.
// It is a Unix socket in the mesh folder (mode 0600), so only the node's own user reaches it.
import { createConnection, createServer, type Server } from 'node:net'
import { chmodSync, existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { errorRecord } from '../../crypto/index.ts'
import { ControlRequestError, DaemonNotRunningError } from './errors.ts'

export const CONTROL_SOCKET = 'control.sock'
const MAX_REQUEST = 64 * 1024

export type ControlHandler = (op: string, args: Record<string, unknown>) => Promise<unknown>

export function socketPath (meshDir: string): string {
  return join(meshDir, CONTROL_SOCKET)
}

export async function serveControl (meshDir: string, handler: ControlHandler): Promise<Server> {
  const path = socketPath(meshDir)
  if (existsSync(path)) rmSync(path)
  const server = createServer((sock) => {
    let buf = ''
    sock.setEncoding('utf8')
    sock.on('data', (d: string) => {
      buf += d
      if (buf.length > MAX_REQUEST) { sock.destroy(); return }
      const nl = buf.indexOf('\n')
      if (nl < 0) return
      const line = buf.slice(0, nl)
      buf = ''
      void (async () => {
        let answer: unknown
        try {
          const req = JSON.parse(line)
          answer = { ok: true, result: await handler(String(req.op), req.args ?? {}) }
        } catch (err) {
          answer = { ok: false, error: errorRecord(err) }
        }
        sock.end(JSON.stringify(answer) + '\n')
      })()
    })
    sock.on('error', () => {})
  })
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(path, resolve) })
  chmodSync(path, 0o600)
  return server
}

export async function callControl (meshDir: string, op: string, args: Record<string, unknown> = {}): Promise<unknown> {
  const path = socketPath(meshDir)
  if (!existsSync(path)) throw new DaemonNotRunningError(meshDir)
  return await new Promise((resolve, reject) => {
    const sock = createConnection(path)
    let buf = ''
    sock.setEncoding('utf8')
    sock.on('connect', () => { sock.write(JSON.stringify({ op, args }) + '\n') })
    sock.on('data', (d: string) => { buf += d })
    sock.on('error', (err) => { reject(new DaemonNotRunningError(meshDir, { cause: err })) })
    sock.on('end', () => {
      try {
        const a = JSON.parse(buf)
        if (a.ok === true) resolve(a.result)
        else reject(new ControlRequestError({ name: String(a.error?.name ?? 'Error'), code: typeof a.error?.code === 'string' ? a.error.code : undefined, message: String(a.error?.message ?? 'the daemon refused') }))
      } catch (err) {
        reject(new DaemonNotRunningError(meshDir, { cause: err }))
      }
    })
  })
}
