// The S3 device's write lock between processes (lock-objects.ts, restic's protocol) against a real
// S3-protocol server, s3rver, started here on 127.0.0.1: writers that race never hold it at once,
// a holder's refresh keeps it, a stale lock is taken over; and through the real bin, `cairn
// archive run` waits for a holder in another process and says who it is, and takes over the lock
// of a holder killed with SIGKILL.
// test-suite: processes
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { AddressInfo } from 'node:net'
import S3rver from 's3rver'
import { initRepository } from '../../chunkstore/index.ts'
import { CAIRN_BIN, FAST_KDF, ROOT, removeDir, runCairn, tempDir, writeRandom } from '../../chunkstore/testing/index.ts'
import type { ArchiveMedium } from './archive-medium.ts'
import { decodeLockRecord, encodeLockRecord, lockObjects, LOCKS, type LockRecord } from './lock-objects.ts'
import { s3Medium } from './s3-medium.ts'
import type { S3DeviceInit } from './s3-medium.ts'

const PASS = 'archive lock test passphrase'
const work = tempDir('cairn-s3-lock-')
const s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: join(work, 's3rver'), configureBuckets: [{ name: 'archive', configs: [] }] })
const { port } = await s3.run() as AddressInfo
after(async () => { await s3.close(); removeDir(work) })

let prefixes = 0
const init = (over: Partial<S3DeviceInit> = {}): S3DeviceInit => ({
  device: 'oss-1', endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', bucket: 'archive', forcePathStyle: true,
  accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', prefix: `lock-${++prefixes}/`, maxAttempts: 2, ...over
})
const locks = async (medium: ArchiveMedium): Promise<string[]> => { const out = []; for await (const n of medium.list(LOCKS)) out.push(n); return out.sort() }
const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))
const old = (over: Partial<LockRecord>): Uint8Array => encodeLockRecord({ version: 1, host: 'host-b', pid: 4242, purpose: 'archive job of host-b', since: '2026-01-01T00:00:00Z', time: new Date(Date.now() - 600_000).toISOString(), ...over })

test('lock objects: racing writers hold one at a time; each lock is written without retention and deleted on release', async () => {
  const inner = s3Medium(init())
  const retained: string[] = []
  // Records what a write asked for: s3rver has no Object Lock, so what the bucket would do is not seen here.
  const medium: ArchiveMedium = { ...inner, write: async (name, bytes, o) => { if (o?.retain !== false) retained.push(name); await inner.write(name, bytes, o) } }
  try {
    let inside = 0
    let most = 0
    const held: string[] = []
    await Promise.all(['a', 'b', 'c'].map(async who => {
      const release = await lockObjects(medium, { purpose: who, pollMs: 100 })
      inside++; most = Math.max(most, inside); held.push(who)
      await sleep(150)
      inside--
      await release()
    }))
    assert.equal(most, 1, 'never two holders at once')
    assert.deepEqual(held.sort(), ['a', 'b', 'c'])
    assert.deepEqual(retained, [], 'lock objects are written with retain: false')
    assert.deepEqual(await locks(medium), [])
  } finally { inner.close() }
})

test('lock objects: the holder\'s refresh keeps its lock past the stale time; once it stops, a waiter takes over; a lock of another host not refreshed for the stale time is removed', async () => {
  const medium = s3Medium(init())
  try {
    const first = await lockObjects(medium, { purpose: 'first', refreshMs: 100 })
    const [name] = await locks(medium)
    const told: Array<[string | undefined, string]> = []
    const second: { release?: () => Promise<void> } = {}
    // Stale after 2 s; written again every 100 ms, with room for a loaded machine's delays.
    const waiting = lockObjects(medium, { purpose: 'second', pollMs: 50, staleMs: 2000, onWait: (h, n) => { told.push([h?.purpose, n]) } }).then(r => { second.release = r })
    // Awaited below; a failure meanwhile is the test's, not an unhandled rejection.
    waiting.catch(() => {})
    while (told.length === 0) await sleep(50)
    await sleep(4000)
    assert.equal('release' in second, false, 'twice the stale time after the waiter found it, the refreshed lock still holds')
    assert.deepEqual(told, [['first', name]])
    assert.ok(Date.now() - Date.parse(decodeLockRecord(await medium.read(name)).time) < 2000, 'its time moves on')
    await first()
    await waiting
    assert.ok(second.release !== undefined)
    await second.release()

    // Another host's lock whose holder stopped writing it ten minutes ago does not count and goes.
    await medium.write(`${LOCKS}0123.json`, old({}), { retain: false })
    const third = await lockObjects(medium, { purpose: 'third', pollMs: 50, onWait: () => { assert.fail('a stale lock does not make a writer wait') } })
    assert.equal((await locks(medium)).length, 1)
    assert.ok(!(await locks(medium)).includes(`${LOCKS}0123.json`))
    await third()

    // One that does not decode is a holder unknown: the writer waits, and says which object it is.
    await medium.write(`${LOCKS}garbled.json`, new TextEncoder().encode('not json'), { retain: false })
    const stop = new AbortController()
    const where: string[] = []
    await assert.rejects(lockObjects(medium, { purpose: 'fourth', pollMs: 50, signal: stop.signal, onWait: (h, n) => { assert.equal(h, undefined); where.push(n); stop.abort() } }), { name: 'OperationAbortedError' })
    assert.deepEqual(where, [`${LOCKS}garbled.json`])
    assert.deepEqual(await locks(medium), [`${LOCKS}garbled.json`], 'the stopped writer left no lock behind')
  } finally { medium.close() }
})

// Through the bin: a store backed up once, and the device `oss` on prefix site-a/ of the bucket.
const devices = join(work, 'archive-devices.json')
const store = join(work, 'store')
const env = { CAIRN_PASSPHRASE: PASS, CAIRN_STORE: undefined, CAIRN_DEBUG: undefined, CAIRN_ARCHIVE_DEVICES: devices, CAIRN_S3_SECRET_KEY: undefined }
const site = init({ prefix: 'site-a/' })
let ready: Promise<void> | undefined
const prepared = async (): Promise<void> => {
  ready ??= (async () => {
    const src = join(work, 'src'); mkdirSync(src)
    writeRandom(join(src, 'a.bin'), 1 << 20)
    await initRepository(store, { passphrase: PASS, kdf: FAST_KDF })
    const b = await runCairn(['backup', src, '--store', store], { env })
    assert.equal(b.code, 0, b.stderr)
    const add = await runCairn(['archive', 'device', 'add', 'oss', '--type', 's3', '--endpoint', `http://127.0.0.1:${port}`, '--bucket', 'archive', '--prefix', 'site-a/', '--path-style', '--access-key', 'S3RVER'], { env: { ...env, CAIRN_S3_SECRET_KEY: 'any' } })
    assert.equal(add.code, 0, add.stderr)
  })()
  await ready
}

/** `cairn archive run --device oss` started, its stderr watched as it comes. */
function archiveRun (): { child: ChildProcess, stderr: () => string, said: (re: RegExp) => Promise<void>, done: Promise<{ code: number | null, stdout: string, stderr: string }> } {
  const e: Record<string, string | undefined> = { ...process.env, ...env }
  for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k]
  const child = spawn(process.execPath, [CAIRN_BIN, 'archive', 'run', '--device', 'oss', '--store', store, '--json'], { cwd: ROOT, env: e as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const waiters: Array<() => void> = []
  child.stdout!.setEncoding('utf8').on('data', (s: string) => { stdout += s })
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { stderr += s; for (const w of waiters.splice(0)) w() })
  const done = new Promise<{ code: number | null, stdout: string, stderr: string }>(resolve => child.on('close', code => { resolve({ code, stdout, stderr }) }))
  const said = async (re: RegExp): Promise<void> => {
    const gone = done.then(() => { throw new Error(`the run ended before it said ${String(re)}: ${stderr}`) })
    while (!re.test(stderr)) await Promise.race([new Promise<void>(resolve => waiters.push(resolve)), gone])
  }
  return { child, stderr: () => stderr, said, done }
}

test('cairn archive run through the bin waits while another process holds the bucket\'s lock and says who; it runs once released', async () => {
  await prepared()
  const medium = s3Medium(site)
  try {
    const release = await lockObjects(medium, { purpose: 'the test\'s holder' })
    const run = archiveRun()
    await run.said(new RegExp(`waiting for device oss: the test's holder on ${hostname()} \\(process ${process.pid}\\).*remove s3://archive/site-a/locks/[0-9a-f]{32}\\.json`))
    await sleep(1500)
    assert.equal(run.child.exitCode, null, 'still waiting while the lock is held')
    await release()
    const r = await run.done
    assert.equal(r.code, 0, r.stderr)
    assert.ok(JSON.parse(r.stdout).blocksWritten > 0)
    assert.deepEqual(await locks(medium), [], 'the run deleted its lock')
  } finally { medium.close() }
})

test('cairn archive run takes over a stale lock of another host, and the lock of a holder killed with SIGKILL', async () => {
  await prepared()
  const medium = s3Medium(site)
  try {
    await medium.write(`${LOCKS}${'ab'.repeat(16)}.json`, old({}), { retain: false })
    const r = await archiveRun().done
    assert.equal(r.code, 0, r.stderr)
    assert.doesNotMatch(r.stderr, /waiting/)
    assert.deepEqual(await locks(medium), [])

    // A holder in a process of its own, killed: its object stays, but its process is gone.
    const script = join(work, 'hold-lock.mts')
    writeFileSync(script, [
      `import { lockObjects } from ${JSON.stringify(pathToFileURL(join(ROOT, 'node', 'archive', 'lock-objects.ts')).href)}`,
      `import { s3Medium } from ${JSON.stringify(pathToFileURL(join(ROOT, 'node', 'archive', 's3-medium.ts')).href)}`,
      `await lockObjects(s3Medium(${JSON.stringify(site)}), { purpose: 'a holder about to be killed' })`,
      'process.stdout.write(\'held\\n\')',
      'setInterval(() => {}, 60_000)'
    ].join('\n'))
    const holder = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
    await new Promise<void>((resolve, reject) => { holder.stdout.setEncoding('utf8').on('data', (s: string) => { if (s.includes('held')) resolve() }); holder.on('exit', () => { reject(new Error('the holder ended early')) }) })
    const run = archiveRun()
    await run.said(new RegExp(`a holder about to be killed on ${hostname()} \\(process ${holder.pid!}\\)`))
    holder.kill('SIGKILL')
    const done = await run.done
    assert.equal(done.code, 0, done.stderr)
    assert.deepEqual(await locks(medium), [], 'the killed holder\'s lock was removed and the run\'s released')
  } finally { medium.close() }
})
