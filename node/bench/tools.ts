// The backup tools under comparison and how each is driven. Every tool gets the same
// phases on the same path; only the command lines differ. Each tool keeps its repository,
// cache and logs in its own workspace folder so runs never share state.
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { type CommandSpec, runRaw } from './command.ts'

export const TOOL_NAMES = ['cairn', 'restic', 'borg'] as const
export type ToolName = typeof TOOL_NAMES[number]

export interface Workspace {
  repo: string
  cache: string
  logs: string
}

export interface Tool {
  name: ToolName
  /** Debian packages the tool needs, installed when missing. */
  packages: string[]
  version: () => Promise<string>
  init: (ws: Workspace) => CommandSpec
  backup: (ws: Workspace, path: string, label: string) => CommandSpec
  /** Restores the latest snapshot into `target`, which exists and is empty. */
  restore: (ws: Workspace, target: string, latestLabel: string) => CommandSpec
  /** Reads back and verifies every stored byte. */
  check: (ws: Workspace) => CommandSpec
}

export interface ToolsInit {
  /** Root of the Cairn checkout (for node/bin/cairn.js). */
  repoRoot: string
}

export function createTools (init: ToolsInit): Record<ToolName, Tool> {
  return { cairn: cairn(init.repoRoot), restic: restic(), borg: borg() }
}

function cairn (repoRoot: string): Tool {
  const bin = join(repoRoot, 'node', 'bin', 'cairn.js')
  const env = (ws: Workspace): Record<string, string> => ({ CAIRN_PASSPHRASE: 'bench', XDG_CACHE_HOME: ws.cache })
  const cmd = (ws: Workspace, args: string[], cwd = repoRoot): CommandSpec => ({ argv: [process.execPath, bin, ...args], cwd, env: env(ws) })
  return {
    name: 'cairn',
    packages: [],
    version: async () => {
      const v = await runRaw({ argv: [process.execPath, bin, '--version'], cwd: repoRoot })
      const commit = await runRaw({ argv: ['git', 'rev-parse', '--short', 'HEAD'], cwd: repoRoot })
      const version = v.code === 0 ? v.stdout.trim() : 'cairn (no --version)'
      return `${version} @ ${commit.stdout.trim()} (node ${process.version})`
    },
    init: ws => cmd(ws, ['init', '--store', ws.repo]),
    backup: (ws, path) => cmd(ws, ['backup', path, '--store', ws.repo, '--task', 'bench', '--json']),
    restore: (ws, target) => cmd(ws, ['restore', 'latest', '--store', ws.repo, '--target', target, '--json']),
    check: ws => cmd(ws, ['check', '--read-data', '--store', ws.repo, '--json'])
  }
}

function restic (): Tool {
  const env = { RESTIC_PASSWORD: 'bench' }
  const cmd = (ws: Workspace, args: string[]): CommandSpec => ({
    argv: ['restic', '-r', ws.repo, '--cache-dir', ws.cache, ...args],
    env
  })
  return {
    name: 'restic',
    packages: ['restic'],
    version: async () => (await runRaw({ argv: ['restic', 'version'] })).stdout.trim(),
    // repository format 2 is the one with compression (auto by default)
    init: ws => cmd(ws, ['init', '--repository-version', '2']),
    backup: (ws, path) => cmd(ws, ['backup', path]),
    restore: (ws, target) => cmd(ws, ['restore', 'latest', '--target', target]),
    check: ws => cmd(ws, ['check', '--read-data'])
  }
}

function borg (): Tool {
  const env = (ws: Workspace): Record<string, string> => ({
    BORG_PASSPHRASE: 'bench',
    BORG_BASE_DIR: join(ws.cache, 'base'),
    BORG_CACHE_DIR: join(ws.cache, 'cache'),
    BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
    BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes'
  })
  return {
    name: 'borg',
    packages: ['borgbackup'],
    version: async () => (await runRaw({ argv: ['borg', '--version'] })).stdout.trim(),
    init: ws => ({ argv: ['borg', 'init', '-e', 'repokey-blake2', ws.repo], env: env(ws) }),
    backup: (ws, path, label) => ({ argv: ['borg', 'create', '--compression', 'zstd,3', `${ws.repo}::${label}`, path], env: env(ws) }),
    // borg extracts into the current directory
    restore: (ws, target, latestLabel) => ({ argv: ['borg', 'extract', `${ws.repo}::${latestLabel}`], cwd: target, env: env(ws) }),
    check: ws => ({ argv: ['borg', 'check', '--verify-data', ws.repo], env: env(ws) })
  }
}

/**
 * Where the backed-up folder `source` ended up under a restore `target`: restic and borg
 * recreate the absolute path below the target, other tools may put only the last
 * component there, or the folder's contents directly.
 */
export function locateRestored (target: string, source: string): string {
  const full = join(target, source)
  if (existsSync(full)) return full
  const base = join(target, source.split('/').pop() ?? '')
  if (existsSync(base)) return base
  // descend through single-entry folders (a partial path prefix) until the tree fans out
  let dir = target
  for (;;) {
    const entries = readdirSync(dir, { withFileTypes: true })
    if (entries.length !== 1 || !entries[0].isDirectory()) return dir
    dir = join(dir, entries[0].name)
  }
}
