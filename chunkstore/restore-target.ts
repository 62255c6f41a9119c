import { lstatSync, mkdirSync, readFileSync, realpathSync, statfsSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { RestoreTargetRefusedError } from './errors.ts'
import { showPath, type FsPath } from './file-name.ts'

/**
 * statfs f_type of file systems that are views of the kernel rather than storage (linux/magic.h).
 * devtmpfs reports tmpfs's magic, so the mount table's type name is read as well.
 */
const PSEUDO_MAGIC = new Map<number, string>([
  [0x9fa0, 'proc'], [0x62656572, 'sysfs'], [0x1cd1, 'devpts'], [0x64626720, 'debugfs'], [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'], [0x27e0eb, 'cgroup'], [0x63677270, 'cgroup2'], [0x6165676c, 'pstore'], [0xcafe4a11, 'bpf'],
  [0x62656570, 'configfs'], [0xde5e81e4, 'efivarfs'], [0x65735543, 'fusectl'], [0x19800202, 'mqueue'], [0x42494e4d, 'binfmt_misc'],
  [0x6e736673, 'nsfs'], [0xf97cff8c, 'selinuxfs'], [0x67596969, 'rpc_pipefs'], [0x0187, 'autofs']
])
const PSEUDO_NAMES = new Set([...PSEUDO_MAGIC.values(), 'devtmpfs', 'hugetlbfs'])
/** Where Linux mounts its kernel views; refused by name too, whatever is mounted there. */
const KERNEL_TREES = ['/proc', '/sys', '/dev']

const inside = (path: string, root: string): boolean => path === root || path.startsWith(root === '/' ? '/' : root + '/')

/** The type name of the mount that holds `real` (an absolute path without symlinks), from /proc/self/mountinfo. */
function mountType (real: string): string | undefined {
  let table: string
  try { table = readFileSync('/proc/self/mountinfo', 'utf8') } catch { return undefined }
  let best: { point: string, type: string } | undefined
  for (const line of table.split('\n')) {
    const [left, right] = line.split(' - ')
    if (right === undefined) continue
    const point = (left.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)))
    if (inside(real, point) && (best === undefined || point.length >= best.point.length)) best = { point, type: right.split(' ')[0] }
  }
  return best?.type
}

/**
 * Checks that `target` may receive a restore, without writing anything: refused are paths under
 * /proc, /sys and /dev, and any path whose nearest existing folder lies on a kernel file system
 * (by statfs type and by the mount table), also when reached through a symbolic link. Returns the
 * target's absolute path, the real path it will have, and the folders still to be made.
 */
export function checkRestoreTarget (target: string): { path: string, real: string, existing: string, missing: string[] } {
  const path = resolve(target)
  let existing = path
  const missing: string[] = []
  while (lstatSync(existing, { throwIfNoEntry: false }) === undefined) {
    missing.unshift(existing)
    existing = dirname(existing)
  }
  const existingReal = realpathSync(existing)
  const real = join(existingReal, path.slice(existing.length))
  const kernelTree = KERNEL_TREES.find(root => inside(path, root) || inside(real, root))
  if (kernelTree !== undefined) throw new RestoreTargetRefusedError(path, `${kernelTree} is the kernel's view of the system, not storage`)
  const type = PSEUDO_MAGIC.get(statfsSync(existingReal).type) ?? mountType(existingReal)
  if (type !== undefined && PSEUDO_NAMES.has(type)) throw new RestoreTargetRefusedError(path, `${existingReal} is on a ${type} file system, which is not storage`)
  return { path, real, existing: existingReal, missing }
}

/**
 * Checks the target (checkRestoreTarget) and makes its missing folders one by one: Node's
 * recursive mkdir never returns for some paths under /proc/self/fd. Returns its real path.
 */
export function prepareRestoreTarget (target: string): string {
  const t = checkRestoreTarget(target)
  for (const dir of t.missing) makeDir(dir, t.existing)
  return realpathSync(t.path)
}

/**
 * Makes one folder of a restore; an existing one is used when it is a folder inside `root`
 * (the target's real path). A file, or a symbolic link leading outside the target, is refused.
 * True when the folder was made here (so it is empty), false when an existing one is used.
 */
export function makeDir (path: FsPath, root: string): boolean {
  try {
    mkdirSync(path)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  if (!(statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false)) throw new RestoreTargetRefusedError(showPath(path), 'it exists and is not a folder')
  if (lstatSync(path).isSymbolicLink() && !inside(realpathSync(path), root)) {
    throw new RestoreTargetRefusedError(showPath(path), `it is a symbolic link to ${realpathSync(path)}, outside the restore target ${root}`)
  }
  return false
}
