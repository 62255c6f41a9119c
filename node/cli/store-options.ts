import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { Option } from 'commander'
import type { Command } from 'commander'
import { InvalidOptionError } from '../../chunkstore/index.ts'
import type { OpenOptions } from '../../chunkstore/index.ts'

/** The user's data folder for the embedded default store ($XDG_DATA_HOME/cairn). */
export function dataHome (): string {
  return join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'cairn')
}

export function defaultStore (): string {
  return join(dataHome(), 'store')
}

export interface StoreFlags { store?: string, passphraseFile?: string, json?: boolean }

/** Adds --store and --passphrase-file to a command. */
export function storeOptions (cmd: Command, json = true): Command {
  cmd.addOption(new Option('--store <dir>', 'store folder').env('CAIRN_STORE'))
  cmd.option('--passphrase-file <file>', 'read the passphrase from this file (else CAIRN_PASSPHRASE, else a prompt)')
  if (json) cmd.option('--json', 'print machine-readable JSON on stdout')
  return cmd
}

export function storeDir (flags: StoreFlags): string {
  return resolve(flags.store ?? defaultStore())
}

/** The passphrase: --passphrase-file, CAIRN_PASSPHRASE, or a prompt on a terminal. */
export async function passphrase (flags: StoreFlags, prompt = 'Passphrase: '): Promise<string> {
  if (flags.passphraseFile !== undefined) {
    let text: string
    try { text = readFileSync(flags.passphraseFile, 'utf8') } catch (cause) {
      throw new InvalidOptionError(`Cannot read the passphrase file ${flags.passphraseFile}: ${(cause as Error).message}`, { cause })
    }
    return text.replace(/\r?\n$/, '')
  }
  const env = process.env.CAIRN_PASSPHRASE
  if (env !== undefined && env !== '') return env
  if (process.stdin.isTTY !== true) throw new InvalidOptionError('A passphrase is needed: set CAIRN_PASSPHRASE or use --passphrase-file.')
  return await readHidden(prompt)
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

/** What opens the store for this command: a passphrase for now (token and recovery-key slots plug in here). */
export async function unlockOptions (flags: StoreFlags): Promise<OpenOptions> {
  return { passphrase: await passphrase(flags) }
}
