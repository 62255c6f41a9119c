// F27: `cairn token list|enroll|sign|helper` against a real SoftHSM2 token.
import test, { after, before } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Command } from 'commander'
import { registerTokenCommand, type TokenCommandIo } from './token-command.ts'
import { checkOperatorCertificate, createLoginChallenges, TokenModuleNotFoundError, WrongPinError } from '../../crypto/index.ts'
import { createOperatorToken, createSoftHsm, type OperatorToken, type SoftHsm } from '../../crypto/testing/index.ts'

let hsm: SoftHsm
let op: OperatorToken

before(() => {
  hsm = createSoftHsm()
  op = createOperatorToken(hsm)
})
after(() => hsm.dispose())

async function cairn (args: string[], io: Partial<TokenCommandIo> = {}): Promise<string> {
  let out = ''
  const program = new Command('cairn').exitOverride()
  registerTokenCommand(program, {
    stdout: text => { out += text },
    env: { CAIRN_PKCS11_MODULE: hsm.modulePath },
    readPin: async () => { throw new Error('no PIN prompt expected') },
    untilStopped: async () => {},
    ...io
  })
  await program.parseAsync(args, { from: 'user' })
  return out
}

test('token list shows the token and its public objects, through CAIRN_PKCS11_MODULE', async () => {
  const out = await cairn(['token', 'list'])
  assert.match(out, /^cairn-operator {2}\(SoftHSM project/m)
  assert.match(out, /certificate +operator-ec {2}id 01/)
  assert.match(out, /public-key +operator-rsa {2}id 02/)
  const json = JSON.parse(await cairn(['token', 'list', '--json']))
  assert.equal(json[0].label, 'cairn-operator')
})

test('token list with a missing module fails with TokenModuleNotFoundError', async () => {
  await assert.rejects(cairn(['token', 'list', '--pkcs11-module', '/nonexistent/p11.so']), TokenModuleNotFoundError)
})

test('token enroll checks the certificate and prints or saves its PEM', async () => {
  const out = await cairn(['token', 'enroll', '--token-label', op.tokenLabel, '--key-label', 'operator-ec'])
  assert.match(out, /key: +ec-p256 \(256 bits\)/)
  assert.equal(checkOperatorCertificate(out.slice(out.indexOf('-----BEGIN'))).pem, op.ec.certificatePem)
  const file = join(hsm.dir, 'enrolled.pem')
  const saved = await cairn(['token', 'enroll', '--token-label', op.tokenLabel, '--key-id', '02', '--out', file])
  assert.match(saved, /certificate written to/)
  assert.equal(readFileSync(file, 'utf8'), op.rsa.certificatePem)
})

test('token sign answers a challenge the server accepts; the PIN comes from CAIRN_TOKEN_PIN or the prompt', async () => {
  const origin = 'https://console.cairn.test'
  const login = createLoginChallenges({ origin })
  const c1 = await login.issue('alice', 'cli-1')
  const viaEnv = await cairn(['token', 'sign', '--token-label', op.tokenLabel, '--key-label', 'operator-ec', '--origin', origin, '--challenge', JSON.stringify(c1)],
    { env: { CAIRN_PKCS11_MODULE: hsm.modulePath, CAIRN_TOKEN_PIN: op.pin } })
  assert.deepEqual(await login.verify(JSON.parse(viaEnv), () => op.ec.certificatePem), { user: 'alice', attemptId: 'cli-1' })

  const c2 = await login.issue('bob', 'cli-2')
  const prompts: string[] = []
  const viaPrompt = await cairn(['token', 'sign', '--token-label', op.tokenLabel, '--key-id', '02', '--origin', origin, '--challenge', JSON.stringify(c2)],
    { readPin: async prompt => { prompts.push(prompt); return op.pin } })
  assert.deepEqual(prompts, ['PIN for token cairn-operator: '])
  assert.deepEqual(await login.verify(JSON.parse(viaPrompt), () => op.rsa.certificatePem), { user: 'bob', attemptId: 'cli-2' })

  const c3 = await login.issue('alice', 'cli-3')
  await assert.rejects(cairn(['token', 'sign', '--token-label', op.tokenLabel, '--key-label', 'operator-ec', '--origin', origin, '--challenge', JSON.stringify(c3)],
    { readPin: async () => '0000' }), WrongPinError)
})

test('token helper serves the console origin until stopped', async () => {
  let out = ''
  await cairn(['token', 'helper', '--console-origin', 'https://console.cairn.test', '--port', '0'], {
    stdout: text => { out += text },
    untilStopped: async () => {
      const port = /127\.0\.0\.1:(\d+)/.exec(out)?.[1]
      const res = await fetch(`http://127.0.0.1:${port}/v1/tokens`, { headers: { Origin: 'https://console.cairn.test' } })
      assert.equal(res.status, 200)
      const body = await res.json() as { tokens: Array<{ label: string }> }
      assert.equal(body.tokens[0].label, 'cairn-operator')
    }
  })
  assert.match(out, /signing helper listening on http:\/\/127\.0\.0\.1:\d+ for https:\/\/console\.cairn\.test/)
  assert.match(out, /GET \/v1\/tokens 200/)
})
