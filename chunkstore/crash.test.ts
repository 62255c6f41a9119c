// An interrupted backup (issue 2, "Crash safety"): `cairn backup` is killed with SIGKILL
// halfway through ~300 MiB; the store must then check clean, and the rerun must reuse the
// blocks the killed run had written and restore the folder byte for byte.
// test-suite: processes
import test, { after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { initRepository, LocalBlockStore } from './index.ts'
import { cairn, CAIRN_BIN, dirSize, FAST_KDF, PASSPHRASE, removeDir, ROOT, tempDir, treePrint, writeRandom } from './testing/index.ts'

const MiB = 1 << 20
const FILES = 100
const FILE_SIZE = 3 * MiB
const KILL_AT = 60 * MiB

const work = tempDir('cairn-crash-')
after(() => removeDir(work))

/** Starts `cairn backup` and SIGKILLs it once the store's segments hold more than `bytes`. */
async function backupKilledAt (store: string, src: string, bytes: number): Promise<{ signal: NodeJS.Signals | null, code: number | null, segmentBytes: number, stderr: string }> {
  const child = spawn(process.execPath, [CAIRN_BIN, 'backup', src, '--store', store, '--json'], {
    cwd: ROOT, env: { ...process.env, CAIRN_PASSPHRASE: PASSPHRASE }, stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  child.stdout.resume()
  let segmentBytes = 0
  const timer = setInterval(() => {
    try { segmentBytes = dirSize(join(store, 'segments')) } catch { return }
    if (segmentBytes > bytes) { clearInterval(timer); child.kill('SIGKILL') }
  }, 20)
  const { code, signal } = await new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.on('close', (code, signal) => resolve({ code, signal })))
  clearInterval(timer)
  return { code, signal, segmentBytes, stderr }
}

test('kill -9 during a backup: check passes, the rerun reuses the written blocks, and the restore is byte-identical', async () => {
  const src = join(work, 'src')
  const store = join(work, 'store')
  for (let d = 0; d < 4; d++) mkdirSync(join(src, `d${d}`), { recursive: true })
  for (let i = 0; i < FILES; i++) writeRandom(join(src, `d${i % 4}`, `f${String(i).padStart(3, '0')}`), FILE_SIZE)
  const total = FILES * FILE_SIZE
  await initRepository(store, { passphrase: PASSPHRASE, kdf: FAST_KDF })

  const killed = await backupKilledAt(store, src, KILL_AT)
  assert.equal(killed.signal, 'SIGKILL', `the backup was to be killed mid-run, but it exited with ${killed.code}: ${killed.stderr}`)
  assert.ok(killed.segmentBytes > KILL_AT && killed.segmentBytes < total, `killed at ${killed.segmentBytes} bytes written`)

  const check = await cairn(['check', '--store', store])
  assert.equal(check.code, 0, check.stdout + check.stderr)
  const snaps = await cairn(['snapshots', '--store', store, '--json'])
  assert.equal(snaps.code, 0, snaps.stderr)
  assert.deepEqual(JSON.parse(snaps.stdout), [], 'the killed run left no snapshot record')

  const rerun = await cairn(['backup', src, '--store', store, '--json'])
  assert.equal(rerun.code, 0, rerun.stderr)
  const stats = JSON.parse(rerun.stdout).stats
  assert.equal(stats.bytesTotal, total)
  assert.equal(stats.files, FILES)
  // The killed run had more than KILL_AT bytes in segments; nearly all of it is reused.
  assert.ok(stats.bytesNew <= total - (KILL_AT - 8 * MiB), `rerun stored ${stats.bytesNew} new bytes of ${total}`)
  // Nothing was stored twice: random data does not compress, so the segments hold about the data once.
  const stored = dirSize(join(store, 'segments'))
  assert.ok(stored < total + 8 * MiB, `segments hold ${stored} bytes for ${total} bytes of data`)

  const full = await cairn(['check', '--read-data', '--store', store])
  assert.equal(full.code, 0, full.stdout + full.stderr)
  assert.match(full.stdout, /no errors/)

  const out = join(work, 'out')
  const restore = await cairn(['restore', 'latest', '--target', out, '--store', store])
  assert.equal(restore.code, 0, restore.stderr)
  assert.deepEqual(treePrint(join(out, src)), treePrint(src))
})

test('kill -9 while blocks are put with writes on the pool: every flushed block is intact, nothing indexed is corrupt', async () => {
  const dir = join(work, 'blocks')
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'chunkstore', 'testing', 'put-until-killed.ts'), dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  const flushed: string[] = []
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    out += s
    const lines = out.split('\n')
    out = lines.pop() ?? ''
    for (const l of lines) flushed.push(...JSON.parse(l))
  })
  const timer = setInterval(() => {
    let bytes = 0
    try { bytes = dirSize(join(dir, 'segments')) } catch { return }
    if (bytes > 48 * MiB) { clearInterval(timer); child.kill('SIGKILL') }
  }, 5)
  const { signal } = await new Promise<{ signal: NodeJS.Signals | null }>(resolve => child.on('close', (_code, signal) => resolve({ signal })))
  clearInterval(timer)
  assert.equal(signal, 'SIGKILL', `the writer was to be killed mid-run: ${stderr}`)
  assert.ok(flushed.length > 0, 'some groups were flushed before the kill')

  const store = await LocalBlockStore.open(join(dir, 'index'), join(dir, 'segments'))
  try {
    for (const c of flushed) assert.equal((await store.get(CID.parse(c), { verify: true })).length > 0, true)
    let indexed = 0
    for await (const e of store.entries()) {
      await store.get(CID.decode(e.cid), { verify: true })
      indexed++
    }
    assert.ok(indexed >= flushed.length, `${indexed} indexed, ${flushed.length} flushed`)
  } finally {
    await store.close()
  }
})
