import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { Option } from 'commander'
import type { Command } from 'commander'
import { InvalidOptionError, readConfig, readKeyFile } from '../../chunkstore/index.ts'
import type { OpenOptions } from '../../chunkstore/index.ts'
import {
  payloadKeys, resolvePkcs11Module, unlockWithRecoveryKey, unlockWithSecret, unlockWithToken, withTokenSession,
  WrongPassphraseError
} from '../../crypto/index.ts'
import type { KeyFile, KeyPayload, KeySlot, SpaceKeys } from '../../crypto/index.ts'

/** The user's data folder for the embedded default store ($XDG_DATA_HOME/cairn). */
export function dataHome (): string {
  return join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'cairn')
}

export function defaultStore (): string {
  return join(dataHome(), 'store')
}

export interface StoreFlags {
  store?: string
  passphraseFile?: string
  /** Open with a key slot of this hardware token (PIN from CAIRN_TOKEN_PIN or a prompt). */
  tokenLabel?: string
  pkcs11Module?: string
  /** Open with the printed recovery key held in this file (else CAIRN_RECOVERY_KEY). */
  recoveryKeyFile?: string
  json?: boolean
}

/** Where secrets come from: the environment, else a prompt that does not echo. */
export interface SecretSource {
  env: NodeJS.ProcessEnv
  /** Asks on the terminal; throws InvalidOptionError with `hint` when there is none. */
  ask: (prompt: string, hint: string) => Promise<string>
}

export const terminalSecrets: SecretSource = {
  env: process.env,
  ask: async (prompt, hint) => {
    if (process.stdin.isTTY !== true) throw new InvalidOptionError(hint)
    return await readHidden(prompt)
  }
}

/** Which of the flags that open a store a command takes (each default true). */
export interface UnlockFlags { passphrase?: boolean, recovery?: boolean, token?: boolean }

/**
 * Adds --store, the flags that choose how to open it (--passphrase-file, --recovery-key-file,
 * --token-label with --pkcs11-module; leave out those `unlock` sets false) and --json.
 */
export function storeOptions (cmd: Command, json = true, unlock: UnlockFlags = {}): Command {
  cmd.addOption(new Option('--store <dir>', 'store folder').env('CAIRN_STORE'))
  if (unlock.passphrase !== false) cmd.option('--passphrase-file <file>', 'read the passphrase from this file (else CAIRN_PASSPHRASE, else a prompt)')
  if (unlock.recovery !== false) cmd.option('--recovery-key-file <file>', 'open with the printed recovery key in this file (or set CAIRN_RECOVERY_KEY)')
  if (unlock.token !== false) tokenOptions(cmd, '--token-label <label>', 'open with a key slot of this USB key (PKCS#11 token); PIN from CAIRN_TOKEN_PIN or a prompt')
  if (json) cmd.option('--json', 'print machine-readable JSON on stdout')
  return cmd
}

/** Adds a token-label flag and --pkcs11-module. */
export function tokenOptions (cmd: Command, flag: string, description: string): Command {
  cmd.option(flag, description)
  cmd.option('--pkcs11-module <path>', 'PKCS#11 module of the token (default: CAIRN_PKCS11_MODULE, then SoftHSM2)')
  return cmd
}

export function storeDir (flags: StoreFlags): string {
  return resolve(flags.store ?? defaultStore())
}

/** The passphrase: --passphrase-file, CAIRN_PASSPHRASE, or a prompt on a terminal. */
export async function passphrase (flags: StoreFlags, prompt = 'Passphrase: ', secrets: SecretSource = terminalSecrets,
  hint = 'A passphrase is needed: set CAIRN_PASSPHRASE or use --passphrase-file.'): Promise<string> {
  if (flags.passphraseFile !== undefined) return readSecretFile(flags.passphraseFile, 'passphrase')
  const env = secrets.env.CAIRN_PASSPHRASE
  if (env !== undefined && env !== '') return env
  return await secrets.ask(prompt, hint)
}

function readSecretFile (path: string, what: string): string {
  let text: string
  try { text = readFileSync(path, 'utf8') } catch (cause) {
    throw new InvalidOptionError(`Cannot read the ${what} file ${path}: ${(cause as Error).message}`, { cause })
  }
  return text.replace(/\r?\n$/, '')
}

async function readHidden (prompt: string): Promise<string> {
  process.stderr.write(prompt)
  const stdin = process.stdin
  stdin.setRawMode(true)
  stdin.resume()
  let text = ''
  try {
    return await new Promise<string>((resolve, reject) => {
      const onData = (buf: Buffer): void => {
        for (const ch of buf.toString('utf8')) {
          if (ch === '\r' || ch === '\n') { stdin.off('data', onData); resolve(text); return }
          if (ch === '\u0003') { stdin.off('data', onData); reject(new InvalidOptionError('Cancelled.')); return }
          if (ch === '\u007f') text = text.slice(0, -1); else text += ch
        }
      }
      stdin.on('data', onData)
    })
  } finally {
    stdin.setRawMode(false)
    stdin.pause()
    process.stderr.write('\n')
  }
}

/** A key file opened with one of its slots. */
export interface UnlockedKeyFile {
  dir: string
  file: KeyFile
  payload: KeyPayload
  /** The slot that opened. */
  slot: KeySlot
}

/**
 * Opens the store's key file with what the flags and the environment name, first match wins:
 * --token-label, --recovery-key-file, --passphrase-file, CAIRN_RECOVERY_KEY, CAIRN_PASSPHRASE,
 * a prompt. More than one of the three flags is refused. Writes nothing.
 */
export async function unlockKeyFile (flags: StoreFlags, secrets: SecretSource = terminalSecrets): Promise<UnlockedKeyFile> {
  const given = ([['--token-label', flags.tokenLabel], ['--recovery-key-file', flags.recoveryKeyFile], ['--passphrase-file', flags.passphraseFile]] as const)
    .filter(([, v]) => v !== undefined).map(([flag]) => flag)
  if (given.length > 1) throw new InvalidOptionError(`Give only one way to open the store, not ${given.join(' and ')}.`)
  const dir = storeDir(flags)
  readConfig(dir)
  const file = readKeyFile(dir)
  if (flags.tokenLabel !== undefined) {
    const tokenLabel = flags.tokenLabel
    const pin = await tokenPin(tokenLabel, secrets)
    const opened = withTokenSession({ modulePath: resolvePkcs11Module(flags.pkcs11Module, secrets.env), tokenLabel, pin }, session => unlockWithToken(file, session))
    return { dir, file, ...opened }
  }
  const recoveryKey = flags.recoveryKeyFile !== undefined
    ? readSecretFile(flags.recoveryKeyFile, 'recovery key')
    : flags.passphraseFile === undefined && secrets.env.CAIRN_RECOVERY_KEY !== '' ? secrets.env.CAIRN_RECOVERY_KEY : undefined
  if (recoveryKey !== undefined) {
    try {
      return { dir, file, ...await unlockWithRecoveryKey(file, recoveryKey) }
    } catch (err) {
      if (!(err instanceof WrongPassphraseError)) throw err
      throw new WrongPassphraseError('Wrong recovery key: no recovery slot of this store opens with it. Check it against the printed sheet, and that it is this store\'s.', { cause: err })
    }
  }
  const secret = await passphrase(flags, 'Passphrase: ', secrets,
    'A passphrase is needed: set CAIRN_PASSPHRASE or use --passphrase-file (or open the store with --token-label or --recovery-key-file).')
  return { dir, file, ...await unlockWithSecret(file, secret) }
}

/** The token's PIN: CAIRN_TOKEN_PIN, else a prompt on the terminal. */
export async function tokenPin (tokenLabel: string, secrets: SecretSource = terminalSecrets): Promise<string> {
  const env = secrets.env.CAIRN_TOKEN_PIN
  if (env !== undefined && env !== '') return env
  return await secrets.ask(`PIN for token ${tokenLabel}: `, 'A PIN is needed: set CAIRN_TOKEN_PIN, or run in a terminal to be asked for it.')
}

/** What opens the store for this command: the keys of whichever slot the flags name (see unlockKeyFile). */
export async function unlockOptions (flags: StoreFlags, secrets: SecretSource = terminalSecrets): Promise<OpenOptions & { keys: SpaceKeys }> {
  const { file, payload } = await unlockKeyFile(flags, secrets)
  return { keys: payloadKeys(payload, file.spaceId) }
}
