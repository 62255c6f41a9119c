import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import {
  InvalidOptionError, KeySlotError, listKeySlots, openRepository, readConfig, readKeyFile, StoreExistsError, writeKeyFile
} from '../../chunkstore/index.ts'
import type { StoreConfig } from '../../chunkstore/index.ts'
import {
  createTokenSlot, newSpaceId, passphraseSlot, payloadKeys, recoveryKeySlot, resolvePkcs11Module, unlockWithSecret,
  withTokenSession, writeOnlyKeys
} from '../../crypto/index.ts'
import type { KeyFile, KeySlot, ScryptParams, SpaceKeys, TokenKeyRef } from '../../crypto/index.ts'
import { table } from './format.ts'
import { passphrase, storeDir, storeOptions, terminalSecrets, tokenOptions, tokenPin, unlockKeyFile } from './store-options.ts'
import type { SecretSource, StoreFlags } from './store-options.ts'

/*
 * `cairn key list|add|add-recovery|remove|passwd|export-write-only`: the key slots of a store's
 * key file (doc/keys.md). Every change is authorised by opening an existing slot — passphrase,
 * recovery key, or token — and wraps the same payload again, so a write-only store's new
 * slots stay write-only. The key file is replaced atomically; the store's data is never touched.
 */
export interface KeyCommandIo extends SecretSource {
  stdout: (text: string) => void
  /** scrypt cost of new passphrase slots (tests pass a light one); default DEFAULT_SCRYPT. */
  kdf?: ScryptParams
}

const defaultIo: KeyCommandIo = { ...terminalSecrets, stdout: text => { process.stdout.write(text) } }

/** A slot as `cairn key list` shows it: no wrapped key, no KDF salt. */
export interface KeySlotView {
  id: string
  kind: KeySlot['kind']
  label: string
  created: string
  token?: { label: string, keyLabel: string, keyId: string, keyType: string, scheme: string }
}

/** `key add`'s flags: here --token-label names the token to add, --auth-token-label the one that opens. */
type AddFlags = StoreFlags & {
  newPassphraseFile?: string
  authTokenLabel?: string
  keyLabel?: string
  keyId?: string
  label?: string
}

export function registerKeyCommand (program: Command, io: KeyCommandIo = defaultIo): Command {
  const out = (text: string): void => io.stdout(text.endsWith('\n') ? text : text + '\n')
  const json = (v: unknown): void => out(JSON.stringify(v, null, 2))
  const key = program.command('key').description('manage the key slots (passphrases, USB keys, recovery keys) that open the store')

  storeOptions(key.command('list').description('list key slots; needs no secret and checks none (a wrong passphrase still lists them: see doc/keys.md)'), true, { passphrase: false, recovery: false, token: false })
    .action((o: StoreFlags) => {
      const dir = storeDir(o)
      readConfig(dir)
      const access = readKeyFile(dir).access
      const slots = listKeySlots(dir).map(viewOf)
      if (o.json === true) { json(slots); return }
      if (access === 'write-only') out('access: write-only (this store can back up but not read or list snapshots)')
      out(table(['id', 'kind', 'label', 'created', 'opens with'], slots.map(s => [s.id, s.kind, s.label, s.created,
        s.token !== undefined ? `token ${s.token.label}, key ${s.token.keyLabel} (id ${s.token.keyId}, ${s.token.scheme})` : s.kind === 'recovery' ? 'printed recovery key' : 'passphrase'])))
    })

  const add = storeOptions(key.command('add').description('add a passphrase slot, or with --token-label a USB key slot (authorised by an existing slot)'), true, { token: false })
  tokenOptions(add, '--token-label <label>', 'add a slot for a key pair (RSA or EC P-256) on this USB key; the private key never leaves it')
    .option('--auth-token-label <label>', 'authorise with a key slot of this USB key instead of a passphrase or recovery key')
    .option('--new-passphrase-file <file>', 'file holding the new passphrase')
    .option('--key-label <label>', 'with --token-label: the key pair on the token (by label)')
    .option('--key-id <hex>', 'with --token-label: the key pair on the token (by CKA_ID, hex)')
    .option('--label <label>', 'a name for the slot')
    .action(async (o: AddFlags) => {
      const adding = o.tokenLabel
      if ((adding === undefined) === (o.newPassphraseFile === undefined)) throw new InvalidOptionError('Say what to add: --new-passphrase-file FILE, or --token-label LABEL with --key-label or --key-id.')
      const { dir, file, payload } = await unlockKeyFile({ ...o, tokenLabel: o.authTokenLabel }, io)
      let slot: KeySlot
      if (adding !== undefined) {
        if (o.keyLabel === undefined && o.keyId === undefined) throw new InvalidOptionError('Choose the key pair on the token with --key-label or --key-id ("cairn token list" shows them).')
        const ref: TokenKeyRef = { label: o.keyLabel, id: o.keyId }
        const pin = await tokenPin(adding, io)
        slot = withTokenSession({ modulePath: resolvePkcs11Module(o.pkcs11Module, io.env), tokenLabel: adding, pin },
          session => createTokenSlot(session, ref, payload, o.label))
      } else {
        const added = await passphrase({ passphraseFile: o.newPassphraseFile }, 'New passphrase: ', io)
        slot = await passphraseSlot(added, payload, o.label ?? 'passphrase', io.kdf)
      }
      addSlot(dir, file, slot)
      if (o.json === true) json(viewOf(slot)); else out(`added ${slot.kind} key slot ${slot.id} (${slot.label})`)
    })

  storeOptions(key.command('add-recovery').description('add a recovery key slot and print the recovery key, once (authorised by an existing slot)'))
    .option('--label <label>', 'a name for the slot', 'recovery key')
    .option('--out <file>', 'write the recovery key into this new file (mode 0600; e.g. on the escrow medium) instead of printing it')
    .action(async (o: StoreFlags & { label: string, out?: string }) => {
      const { dir, file, payload } = await unlockKeyFile(o, io)
      const { slot, recoveryKey } = await recoveryKeySlot(payload, o.label)
      // The file is made before the slot exists: a slot whose key went nowhere would be no use.
      if (o.out !== undefined) writeFileSync(o.out, recoveryKey + '\n', { mode: 0o600, flag: 'wx' })
      addSlot(dir, file, slot)
      if (o.out !== undefined) {
        if (o.json === true) json({ ...viewOf(slot), recoveryKeyFile: resolve(o.out) })
        else out(`added recovery key slot ${slot.id}; the recovery key is in ${resolve(o.out)} (keep it apart from the store; open the store with --recovery-key-file ${o.out})`)
        return
      }
      if (o.json === true) { json({ ...viewOf(slot), recoveryKey }); return }
      out([
        `added recovery key slot ${slot.id}. The recovery key is shown only this once; print or write it down and keep it apart from the store:`,
        '',
        `    ${recoveryKey}`,
        '',
        'Open the store with it: --recovery-key-file FILE or CAIRN_RECOVERY_KEY.'
      ].join('\n'))
    })

  storeOptions(key.command('remove').description('remove a key slot (never the last; authorised by an existing slot)'))
    .argument('<id>', 'slot id from "cairn key list"')
    .action(async (id: string, o: StoreFlags) => {
      const { dir } = await unlockKeyFile(o, io)
      const current = readKeyFile(dir)
      if (!current.slots.some(s => s.id === id)) throw new KeySlotError(`No key slot with id ${id}; list them with "cairn key list".`)
      if (current.slots.length === 1) throw new KeySlotError('Refusing to remove the last key slot: the store could never be opened again. Add another slot first.')
      writeKeyFile(dir, { ...current, slots: current.slots.filter(s => s.id !== id) })
      if (o.json === true) json({ removed: id }); else out(`removed key slot ${id}`)
    })

  storeOptions(key.command('passwd').description('change the passphrase of the passphrase slot that opens with the current one'), true, { recovery: false, token: false })
    .requiredOption('--new-passphrase-file <file>', 'file holding the new passphrase')
    .action(async (o: StoreFlags & { newPassphraseFile: string }) => {
      const dir = storeDir(o)
      readConfig(dir)
      const file = readKeyFile(dir)
      const { payload, slot: old } = await unlockWithSecret(file, await passphrase(o, 'Current passphrase: ', io), ['passphrase'])
      const slot = await passphraseSlot(await passphrase({ passphraseFile: o.newPassphraseFile }, 'New passphrase: ', io), payload, old.label, io.kdf)
      const current = readKeyFile(dir)
      if (!current.slots.some(s => s.id === old.id)) throw new KeySlotError(`Key slot ${old.id} was removed meanwhile; nothing was changed.`)
      writeKeyFile(dir, { ...current, slots: current.slots.map(s => s.id === old.id ? slot : s) })
      if (o.json === true) json({ id: slot.id, replaced: old.id }); else out(`changed passphrase; slot ${old.id} is now ${slot.id}`)
    })

  storeOptions(key.command('export-write-only').description('create a store folder for a branch node holding a write-only key: it backs up, and reads nothing'))
    .requiredOption('--to <dir>', 'the new store folder (empty or missing)')
    .requiredOption('--new-passphrase-file <file>', 'file holding the passphrase of the new store\'s key file')
    .option('--label <label>', 'a name for its slot', 'passphrase')
    .action(async (o: StoreFlags & { to: string, newPassphraseFile: string, label: string }) => {
      const { dir, file, payload } = await unlockKeyFile(o, io)
      const added = await passphrase({ passphraseFile: o.newPassphraseFile }, 'Passphrase for the write-only store: ', io)
      const branch = await exportWriteOnlyStore(dir, resolve(o.to), writeOnlyKeys(payloadKeys(payload, file.spaceId)), added, o.label, io.kdf)
      if (o.json === true) json({ store: resolve(o.to), ...branch }); else out(`created write-only store ${branch.id} at ${resolve(o.to)} (space ${branch.spaceId}, cipher ${branch.cipher})`)
    })

  return key
}

/**
 * Makes a store folder for a branch node: the head's config (space, cipher, chunker, compression)
 * under a new store id, a key file of access 'write-only' whose one passphrase slot wraps the
 * write-only key set, and an empty index. The head store is only read.
 */
async function exportWriteOnlyStore (headDir: string, to: string, keys: SpaceKeys, passphraseText: string, label: string, kdf?: ScryptParams): Promise<StoreConfig> {
  if (existsSync(to) && readdirSync(to).length > 0) throw new StoreExistsError(to)
  const head = readConfig(headDir)
  const slot = await passphraseSlot(passphraseText, { access: 'write-only', keys }, label, kdf)
  const config: StoreConfig = { ...head, id: newSpaceId(), created: new Date().toISOString() }
  const keyFile: KeyFile = { format: 'cairn-keyfile', version: 1, spaceId: head.spaceId, access: 'write-only', slots: [slot] }
  mkdirSync(to, { recursive: true, mode: 0o700 })
  writeKeyFile(to, keyFile)
  writeFileSync(join(to, 'config.json'), JSON.stringify(config, null, 2) + '\n', { mode: 0o600 })
  const repo = await openRepository(to, { keys })
  await repo.close()
  return config
}

function addSlot (dir: string, opened: KeyFile, slot: KeySlot): void {
  // Re-read: a PIN prompt may have taken a while, and another `cairn key` may have run meanwhile.
  const current = readKeyFile(dir)
  if (current.spaceId !== opened.spaceId) throw new KeySlotError('The key file was replaced by another store\'s meanwhile; nothing was added.')
  writeKeyFile(dir, { ...current, slots: [...current.slots, slot] })
}

function viewOf (s: Omit<KeySlot, 'wrapped' | 'kdf'>): KeySlotView {
  const e = s.extra
  return {
    id: s.id,
    kind: s.kind,
    label: s.label,
    created: s.created,
    ...(s.kind === 'token' && e !== undefined
      ? { token: { label: e.tokenLabel ?? '', keyLabel: e.keyLabel ?? '', keyId: e.keyId ?? '', keyType: e.keyType ?? '', scheme: e.scheme ?? '' } }
      : {})
  }
}
