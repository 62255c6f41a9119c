// Issue 3: `cairn key …` and opening a store by passphrase, by a SoftHSM2 token (RSA and EC key
// pairs made by pkcs11-tool), or by a printed recovery key — real stores in temp folders.
import test, { after, before } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { initRepository, KeySlotError, openRepository, readConfig, readKeyFile, StoreExistsError } from '../../chunkstore/index.ts'
import {
  createOperatorToken, createSoftHsm, TokenSlotNotFoundError, WriteOnlyKeyError, WrongPassphraseError, WrongPinError,
  type OperatorToken, type SoftHsm
} from '../../crypto/index.ts'
import { registerKeyCommand, type KeyCommandIo, type KeySlotView } from './key-command.ts'
import { terminalSecrets, unlockOptions, type SecretSource, type StoreFlags } from './store-options.ts'
import { main } from './main.ts'

const KDF = { N: 1024, r: 8, p: 1 }
let hsm: SoftHsm
let op: OperatorToken
let tmp: string
let data: string
const other = { tokenLabel: 'someone-else', pin: '9999' }

before(() => {
  hsm = createSoftHsm()
  op = createOperatorToken(hsm)
  hsm.initToken({ label: other.tokenLabel, pin: other.pin })
  hsm.generateKeyPair({ tokenLabel: other.tokenLabel, pin: other.pin, label: 'other-ec', id: '01', type: 'ec-p256' })
  tmp = mkdtempSync(join(tmpdir(), 'cairn-key-cli-'))
  data = join(tmp, 'data')
  mkdirSync(data)
  writeFileSync(join(data, 'hello.txt'), 'hello, cairn\n'.repeat(1000))
})
after(() => {
  hsm.dispose()
  rmSync(tmp, { recursive: true, force: true })
})

let stores = 0
/** A new store holding one snapshot of `data`, passphrase "head secret". */
async function newStore (): Promise<string> {
  const dir = join(tmp, `store-${++stores}`)
  await initRepository(dir, { passphrase: 'head secret', kdf: KDF })
  const repo = await openRepository(dir, { passphrase: 'head secret' })
  try { await repo.backup({ paths: [data] }) } finally { await repo.close() }
  return dir
}

function secretFile (text: string): string {
  const p = join(tmp, `secret-${Math.random().toString(36).slice(2)}`)
  writeFileSync(p, text + '\n')
  return p
}

function env (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { CAIRN_PKCS11_MODULE: hsm.modulePath, ...extra }
}

const noPrompt: SecretSource['ask'] = async prompt => { throw new Error(`unexpected prompt: ${prompt}`) }

/** Runs `cairn key …` in-process; returns what it printed. */
async function cairn (args: string[], io: Partial<KeyCommandIo> = {}): Promise<string> {
  let out = ''
  const program = new Command('cairn').exitOverride()
  registerKeyCommand(program, { stdout: text => { out += text }, env: env(), ask: noPrompt, kdf: KDF, ...io })
  await program.parseAsync(['key', ...args], { from: 'user' })
  return out
}

/** Opens the store the way every store command does (unlockOptions), and lists its snapshot ids. */
async function snapshotsVia (flags: StoreFlags, secrets: Partial<SecretSource> = {}): Promise<string[]> {
  const repo = await openRepository(flags.store!, await unlockOptions(flags, { env: env(), ask: noPrompt, ...secrets }))
  try { return (await repo.snapshots()).map(s => s.id) } finally { await repo.close() }
}

function slots (dir: string): KeySlotView[] {
  return readKeyFile(dir).slots.map(s => ({ id: s.id, kind: s.kind, label: s.label }) as KeySlotView)
}

test('a store opens by passphrase: CAIRN_PASSPHRASE, --passphrase-file, or the prompt', async () => {
  const store = await newStore()
  const expected = await snapshotsVia({ store }, { env: env({ CAIRN_PASSPHRASE: 'head secret' }) })
  assert.equal(expected.length, 1)
  assert.deepEqual(await snapshotsVia({ store, passphraseFile: secretFile('head secret') }), expected)
  const prompts: string[] = []
  assert.deepEqual(await snapshotsVia({ store }, { ask: async p => { prompts.push(p); return 'head secret' } }), expected)
  assert.deepEqual(prompts, ['Passphrase: '])
  await assert.rejects(snapshotsVia({ store, passphraseFile: secretFile('wrong') }), WrongPassphraseError)
  await assert.rejects(snapshotsVia({ store, passphraseFile: secretFile('x'), recoveryKeyFile: secretFile('y') }), /only one way to open the store/)
})

test('key add --token-label adds RSA and EC token slots; the store then opens with the token alone', async () => {
  const store = await newStore()
  const expected = await snapshotsVia({ store, passphraseFile: secretFile('head secret') })
  const pin = { CAIRN_PASSPHRASE: 'head secret', CAIRN_TOKEN_PIN: op.pin }
  const rsa = JSON.parse(await cairn(['add', '--store', store, '--token-label', op.tokenLabel, '--key-label', 'operator-rsa', '--json'], { env: env(pin) })) as KeySlotView
  assert.equal(rsa.kind, 'token')
  assert.deepEqual(rsa.token, { label: op.tokenLabel, keyLabel: 'operator-rsa', keyId: '02', keyType: 'rsa', scheme: 'rsa-oaep-sha1' })
  const ec = await cairn(['add', '--store', store, '--token-label', op.tokenLabel, '--key-id', '01', '--label', 'office key'], { env: env(pin) })
  assert.match(ec, /^added token key slot [0-9a-f]{8} \(office key\)/)

  const list = JSON.parse(await cairn(['list', '--store', store, '--json'])) as KeySlotView[]
  assert.deepEqual(list.map(s => [s.kind, s.token?.keyLabel, s.token?.scheme]), [
    ['passphrase', undefined, undefined], ['token', 'operator-rsa', 'rsa-oaep-sha1'], ['token', 'operator-ec', 'ecdh-p256-hkdf-sha256']])
  assert.ok(!JSON.stringify(list).includes('wrapped'), 'list shows no wrapped keys')
  assert.match(await cairn(['list', '--store', store]), /token cairn-operator, key operator-ec \(id 01, ecdh-p256-hkdf-sha256\)/)

  // Open by token: PIN from CAIRN_TOKEN_PIN, or asked for.
  assert.deepEqual(await snapshotsVia({ store, tokenLabel: op.tokenLabel }, { env: env({ CAIRN_TOKEN_PIN: op.pin }) }), expected)
  const prompts: string[] = []
  assert.deepEqual(await snapshotsVia({ store, tokenLabel: op.tokenLabel }, { ask: async p => { prompts.push(p); return op.pin } }), expected)
  assert.deepEqual(prompts, [`PIN for token ${op.tokenLabel}: `])

  // Each kind of token slot alone opens the store.
  for (const keep of [rsa.id, list[2].id]) {
    const only = join(tmp, `only-${keep}`)
    mkdirSync(only)
    for (const f of ['config.json', 'keys.json']) writeFileSync(join(only, f), readFileSync(join(store, f)))
    const file = JSON.parse(readFileSync(join(only, 'keys.json'), 'utf8'))
    file.slots = file.slots.filter((s: { id: string }) => s.id === keep)
    writeFileSync(join(only, 'keys.json'), JSON.stringify(file))
    const repo = await openRepository(only, await unlockOptions({ store: only, tokenLabel: op.tokenLabel }, { env: env({ CAIRN_TOKEN_PIN: op.pin }), ask: noPrompt }))
    assert.equal(repo.writeOnly, false)
    assert.equal(repo.keys.spaceId, readConfig(store).spaceId)
    await repo.close()
  }

  // A token with no slot in this store is told so.
  await assert.rejects(snapshotsVia({ store, tokenLabel: other.tokenLabel }, { env: env({ CAIRN_TOKEN_PIN: other.pin }) }), TokenSlotNotFoundError)
})

test('a wrong PIN is a clear error and leaves the store untouched', async () => {
  const store = await newStore()
  await cairn(['add', '--store', store, '--token-label', op.tokenLabel, '--key-label', 'operator-ec'], { env: env({ CAIRN_PASSPHRASE: 'head secret', CAIRN_TOKEN_PIN: op.pin }) })
  const before = { keys: readFileSync(join(store, 'keys.json')), config: readFileSync(join(store, 'config.json')) }
  await assert.rejects(snapshotsVia({ store, tokenLabel: op.tokenLabel }, { env: env({ CAIRN_TOKEN_PIN: '0000' }) }),
    (err: unknown) => err instanceof WrongPinError && /The PIN for token "cairn-operator" is wrong/.test(err.message))
  await assert.rejects(cairn(['add-recovery', '--store', store, '--token-label', op.tokenLabel], { env: env({ CAIRN_TOKEN_PIN: '0000' }) }), WrongPinError)
  await assert.rejects(cairn(['remove', '--store', store, readKeyFile(store).slots[0].id, '--token-label', op.tokenLabel], { env: env({ CAIRN_TOKEN_PIN: '0000' }) }), WrongPinError)
  assert.deepEqual(readFileSync(join(store, 'keys.json')), before.keys)
  assert.deepEqual(readFileSync(join(store, 'config.json')), before.config)
  // No PIN and no terminal to ask on: told how to give one, before the token is touched.
  if (process.stdin.isTTY !== true) await assert.rejects(snapshotsVia({ store, tokenLabel: op.tokenLabel }, { ask: terminalSecrets.ask }), /A PIN is needed: set CAIRN_TOKEN_PIN/)
  // The right PIN still opens it (and resets the token's wrong-PIN count).
  assert.equal((await snapshotsVia({ store, tokenLabel: op.tokenLabel }, { env: env({ CAIRN_TOKEN_PIN: op.pin }) })).length, 1)
})

test('key add-recovery prints a recovery key once; it opens the store from a file or CAIRN_RECOVERY_KEY', async () => {
  const store = await newStore()
  const expected = await snapshotsVia({ store, passphraseFile: secretFile('head secret') })
  const text = await cairn(['add-recovery', '--store', store], { env: env({ CAIRN_PASSPHRASE: 'head secret' }) })
  const recoveryKey = /^ {4}([0-9A-Z]{5}(?:-[0-9A-Z]{5}){7})$/m.exec(text)?.[1]
  assert.ok(recoveryKey !== undefined, text)
  assert.match(text, /shown only this once/)
  assert.ok(!readFileSync(join(store, 'keys.json'), 'utf8').includes(recoveryKey), 'the key file does not hold the recovery key')
  assert.deepEqual(slots(store).map(s => s.kind), ['passphrase', 'recovery'])

  assert.deepEqual(await snapshotsVia({ store, recoveryKeyFile: secretFile(recoveryKey.toLowerCase()) }), expected)
  assert.deepEqual(await snapshotsVia({ store }, { env: env({ CAIRN_RECOVERY_KEY: recoveryKey.replaceAll('-', ' '), CAIRN_PASSPHRASE: 'not used' }) }), expected)
  const wrong = recoveryKey.startsWith('0') ? '1' + recoveryKey.slice(1) : '0' + recoveryKey.slice(1)
  await assert.rejects(snapshotsVia({ store, recoveryKeyFile: secretFile(wrong) }), /not a valid recovery key|Wrong recovery key/)
  const json = JSON.parse(await cairn(['add-recovery', '--store', store, '--json', '--recovery-key-file', secretFile(recoveryKey)]))
  assert.equal(json.kind, 'recovery')
  assert.notEqual(json.recoveryKey, recoveryKey)
  const other = await newStore()
  await assert.rejects(snapshotsVia({ store: other, recoveryKeyFile: secretFile(recoveryKey) }),
    (err: unknown) => err instanceof WrongPassphraseError && /Wrong recovery key/.test(err.message))

  // --out: into a new 0600 file (for the escrow medium), never over an existing one.
  const escrowed = join(tmp, 'escrowed-recovery-key')
  assert.match(await cairn(['add-recovery', '--store', store, '--out', escrowed], { env: env({ CAIRN_PASSPHRASE: 'head secret' }) }), /the recovery key is in .*escrowed-recovery-key/)
  assert.equal(statSync(escrowed).mode & 0o777, 0o600)
  assert.deepEqual(await snapshotsVia({ store, recoveryKeyFile: escrowed }), expected)
  const slotsBefore = slots(store).length
  await assert.rejects(cairn(['add-recovery', '--store', store, '--out', escrowed], { env: env({ CAIRN_PASSPHRASE: 'head secret' }) }), { code: 'EEXIST' })
  assert.equal(slots(store).length, slotsBefore, 'no slot is added when its key cannot be written')
})

test('key remove is authorised by any slot and never removes the last; passwd replaces a passphrase slot', async () => {
  const store = await newStore()
  const [first] = slots(store)
  await assert.rejects(cairn(['remove', '--store', store, first.id], { env: env({ CAIRN_PASSPHRASE: 'head secret' }) }),
    (err: unknown) => err instanceof KeySlotError && /last key slot/.test(err.message))
  await assert.rejects(cairn(['remove', '--store', store, 'ffffffff'], { env: env({ CAIRN_PASSPHRASE: 'head secret' }) }), KeySlotError)

  // A token slot, then a passphrase slot authorised by the token; then the token removes the first passphrase.
  await cairn(['add', '--store', store, '--token-label', op.tokenLabel, '--key-label', 'operator-rsa'], { env: env({ CAIRN_PASSPHRASE: 'head secret', CAIRN_TOKEN_PIN: op.pin }) })
  await cairn(['add', '--store', store, '--auth-token-label', op.tokenLabel, '--new-passphrase-file', secretFile('second secret'), '--label', 'laptop'], { env: env({ CAIRN_TOKEN_PIN: op.pin }) })
  assert.deepEqual(slots(store).map(s => [s.kind, s.label]), [['passphrase', 'passphrase'], ['token', 'token cairn-operator'], ['passphrase', 'laptop']])
  assert.match(await cairn(['remove', '--store', store, first.id, '--token-label', op.tokenLabel], { env: env({ CAIRN_TOKEN_PIN: op.pin }) }), new RegExp(`removed key slot ${first.id}`))
  await assert.rejects(snapshotsVia({ store, passphraseFile: secretFile('head secret') }), WrongPassphraseError)

  const changed = JSON.parse(await cairn(['passwd', '--store', store, '--new-passphrase-file', secretFile('third secret'), '--json'], { env: env({ CAIRN_PASSPHRASE: 'second secret' }) }))
  assert.deepEqual(slots(store).map(s => [s.id === changed.id, s.kind, s.label]), [[false, 'token', 'token cairn-operator'], [true, 'passphrase', 'laptop']])
  assert.equal((await snapshotsVia({ store, passphraseFile: secretFile('third secret') })).length, 1)
  await assert.rejects(snapshotsVia({ store, passphraseFile: secretFile('second secret') }), WrongPassphraseError)
  await assert.rejects(cairn(['add', '--store', store], { env: env({ CAIRN_PASSPHRASE: 'third secret' }) }), /Say what to add/)
})

test('key export-write-only makes a branch store that backs up but cannot list; the head restores its backup', async () => {
  const store = await newStore()
  const branch = join(tmp, 'branch')
  const made = JSON.parse(await cairn(['export-write-only', '--store', store, '--to', branch, '--new-passphrase-file', secretFile('branch secret'), '--json'],
    { env: env({ CAIRN_PASSPHRASE: 'head secret' }) }))
  const head = readConfig(store)
  const config = readConfig(branch)
  assert.deepEqual({ ...config, id: head.id, created: head.created }, head)
  assert.equal(made.spaceId, head.spaceId)
  assert.notEqual(config.id, head.id)
  assert.equal(readKeyFile(branch).access, 'write-only')
  assert.match(await cairn(['list', '--store', branch]), /^access: write-only/)
  await assert.rejects(cairn(['export-write-only', '--store', store, '--to', branch, '--new-passphrase-file', secretFile('x')], { env: env({ CAIRN_PASSPHRASE: 'head secret' }) }), StoreExistsError)

  // Slots added to the branch wrap the write-only set too, token slots included.
  await cairn(['add', '--store', branch, '--token-label', op.tokenLabel, '--key-label', 'operator-ec'], { env: env({ CAIRN_PASSPHRASE: 'branch secret', CAIRN_TOKEN_PIN: op.pin }) })
  const repo = await openRepository(branch, await unlockOptions({ store: branch, tokenLabel: op.tokenLabel }, { env: env({ CAIRN_TOKEN_PIN: op.pin }), ask: noPrompt }))
  let snapId: string
  try {
    assert.ok(repo.writeOnly)
    snapId = (await repo.backup({ paths: [data], task: 'branch' })).id
    await assert.rejects(repo.snapshots(), WriteOnlyKeyError)
  } finally {
    await repo.close()
  }
  // Through the CLI's own entry point: `cairn snapshots` on the branch is refused.
  const code = await withStdio({ CAIRN_PASSPHRASE: 'branch secret' }, async () => await main(['snapshots', '--store', branch]))
  assert.equal(code.exit, 1)
  assert.match(code.stderr, /needs the full key; this is a write-only key/)

  // The head takes the branch's blocks and record, and restores the branch's snapshot.
  const b = await openRepository(branch, { passphrase: 'branch secret' })
  const h = await openRepository(store, { passphrase: 'head secret' })
  try {
    for await (const cid of b.blocks.cids()) await h.blocks.put(cid, await b.blocks.get(cid))
    for (const cid of await b.blocks.snapshotRoots()) await h.blocks.addSnapshotRoot(cid)
    const target = join(tmp, 'restored-from-branch')
    await h.restore({ snapshot: snapId, target })
    assert.deepEqual(readFileSync(join(target, data, 'hello.txt')), readFileSync(join(data, 'hello.txt')))
  } finally {
    await b.close(); await h.close()
  }
})

test('every store command opens by token: cairn snapshots --token-label through main()', async () => {
  const store = await newStore()
  await cairn(['add', '--store', store, '--token-label', op.tokenLabel, '--key-id', '02'], { env: env({ CAIRN_PASSPHRASE: 'head secret', CAIRN_TOKEN_PIN: op.pin }) })
  const ok = await withStdio({ CAIRN_TOKEN_PIN: op.pin, CAIRN_PKCS11_MODULE: hsm.modulePath }, async () => await main(['snapshots', '--store', store, '--token-label', op.tokenLabel, '--json']))
  assert.equal(ok.exit, 0, ok.stderr)
  assert.equal(JSON.parse(ok.stdout).length, 1)
  const bad = await withStdio({ CAIRN_TOKEN_PIN: '0000', CAIRN_PKCS11_MODULE: hsm.modulePath }, async () => await main(['ls', '--store', store, 'latest', '--token-label', op.tokenLabel]))
  assert.equal(bad.exit, 1)
  assert.match(bad.stderr, /^cairn: The PIN for token "cairn-operator" is wrong/)
})

/** Runs `fn` with extra environment variables and captured stdout/stderr. */
async function withStdio (vars: Record<string, string>, fn: () => Promise<number>): Promise<{ exit: number, stdout: string, stderr: string }> {
  const saved = Object.fromEntries(['CAIRN_PASSPHRASE', 'CAIRN_TOKEN_PIN', 'CAIRN_PKCS11_MODULE', 'CAIRN_RECOVERY_KEY', ...Object.keys(vars)].map(k => [k, process.env[k]]))
  for (const k of Object.keys(saved)) delete process.env[k]
  Object.assign(process.env, vars)
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write }
  let stdout = ''
  let stderr = ''
  process.stdout.write = ((s: string) => { stdout += s; return true }) as typeof process.stdout.write
  process.stderr.write = ((s: string) => { stderr += s; return true }) as typeof process.stderr.write
  try {
    return { exit: await fn(), stdout, stderr }
  } finally {
    process.stdout.write = writes.stdout
    process.stderr.write = writes.stderr
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v }
  }
}
