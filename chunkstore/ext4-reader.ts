// A read-only ext4 reader for browsing disk image snapshots (issue 20).
import { InvalidOptionError, PathNotFoundError, StoreCorruptError } from './errors.ts'

/**
 * A read-only ext2/3/4 reader over any source of the partition's bytes (for a disk image
 * snapshot: its stored chunks, disk-image.ts), so single files can be listed and restored
 * without restoring the partition. Reads the superblock, group descriptors, inodes, extent
 * trees, and directories as linear entries (an htree directory's index blocks hide inside
 * entries of inode 0, which are skipped). Not read, with a clear error: `meta_bg` group
 * descriptors, inline data, encrypted folders, and files mapped the ext2/3 way (no extents).
 */

/** Bytes of the partition: `length` bytes from `offset` (both from the partition's start). */
export type ReadAt = (offset: number, length: number) => Promise<Buffer>

export type Ext4Kind = 'file' | 'dir' | 'symlink' | 'other'

export interface Ext4Entry {
  name: string
  inode: number
  kind: Ext4Kind
  mode: number
  uid: number
  gid: number
  size: number
  mtimeSec: number
}

const EXT4_MAGIC = 0xef53
const INCOMPAT_META_BG = 0x10
const INCOMPAT_64BIT = 0x80
const EXTENTS_FL = 0x80000
const INLINE_DATA_FL = 0x10000000
const ENCRYPT_FL = 0x800
const EXTENT_MAGIC = 0xf30a
const ROOT_INODE = 2

interface Inode {
  mode: number
  uid: number
  gid: number
  size: number
  mtimeSec: number
  flags: number
  blocks: Buffer
}

const kindOf = (mode: number): Ext4Kind => {
  switch (mode & 0o170000) {
    case 0o100000: return 'file'
    case 0o040000: return 'dir'
    case 0o120000: return 'symlink'
    default: return 'other'
  }
}

export class Ext4Reader {
  private constructor (
    private readonly readAt: ReadAt,
    readonly blockSize: number,
    private readonly inodesPerGroup: number,
    private readonly inodeSize: number,
    private readonly descSize: number,
    private readonly gdtBlock: number
  ) {}

  /** Opens the file system; InvalidOptionError if the bytes hold no ext2/3/4 it can read. */
  static async open (readAt: ReadAt): Promise<Ext4Reader> {
    const sb = await readAt(1024, 1024)
    if (sb.readUInt16LE(0x38) !== EXT4_MAGIC) throw new InvalidOptionError('the partition holds no ext2/3/4 file system')
    const incompat = sb.readUInt32LE(0x60)
    if ((incompat & INCOMPAT_META_BG) !== 0) throw new InvalidOptionError('this ext4 file system places its group descriptors with meta_bg, which the image reader does not read; restore the partition and mount it')
    const blockSize = 1024 << sb.readUInt32LE(0x18)
    const rev = sb.readUInt32LE(0x4c)
    const inodeSize = rev === 0 ? 128 : sb.readUInt16LE(0x58)
    const descSize = (incompat & INCOMPAT_64BIT) !== 0 ? sb.readUInt16LE(0xfe) : 32
    return new Ext4Reader(readAt, blockSize, sb.readUInt32LE(0x28), inodeSize, descSize, sb.readUInt32LE(0x14) + 1)
  }

  private async inode (n: number): Promise<Inode> {
    const group = Math.floor((n - 1) / this.inodesPerGroup)
    const index = (n - 1) % this.inodesPerGroup
    const desc = await this.readAt(this.gdtBlock * this.blockSize + group * this.descSize, this.descSize)
    const table = desc.readUInt32LE(0x8) + (this.descSize >= 64 ? desc.readUInt32LE(0x28) * 2 ** 32 : 0)
    const b = await this.readAt(table * this.blockSize + index * this.inodeSize, Math.min(this.inodeSize, 160))
    return {
      mode: b.readUInt16LE(0),
      uid: b.readUInt16LE(2) | (b.readUInt16LE(0x78) << 16),
      gid: b.readUInt16LE(0x18) | (b.readUInt16LE(0x7a) << 16),
      size: b.readUInt32LE(4) + b.readUInt32LE(0x6c) * 2 ** 32,
      mtimeSec: b.readUInt32LE(0x10),
      flags: b.readUInt32LE(0x20),
      blocks: b.subarray(0x28, 0x28 + 60)
    }
  }

  /** The file's data as runs: logical block → physical block (0: a hole or an unwritten extent, reads as zeros). */
  private async blockMap (ino: Inode): Promise<Array<{ logical: number, physical: number, count: number }>> {
    if ((ino.flags & INLINE_DATA_FL) !== 0) throw new InvalidOptionError('the file keeps its data inline (ext4 inline_data), which the image reader does not read')
    const out: Array<{ logical: number, physical: number, count: number }> = []
    if ((ino.flags & EXTENTS_FL) !== 0) {
      const walk = async (node: Buffer, depth: number): Promise<void> => {
        if (node.readUInt16LE(0) !== EXTENT_MAGIC) throw new StoreCorruptError('an ext4 extent block has no extent header')
        const entries = node.readUInt16LE(2)
        for (let i = 0; i < entries; i++) {
          const e = node.subarray(12 + i * 12, 24 + i * 12)
          if (node.readUInt16LE(6) === 0) {
            let len = e.readUInt16LE(4)
            const unwritten = len > 32768
            if (unwritten) len -= 32768
            out.push({ logical: e.readUInt32LE(0), physical: unwritten ? 0 : e.readUInt16LE(6) * 2 ** 32 + e.readUInt32LE(8), count: len })
          } else {
            if (depth > 5) throw new StoreCorruptError('an ext4 extent tree deeper than 5')
            const child = e.readUInt32LE(4) + e.readUInt16LE(8) * 2 ** 32
            await walk(await this.readAt(child * this.blockSize, this.blockSize), depth + 1)
          }
        }
      }
      await walk(ino.blocks, 0)
      return out
    }
    throw new InvalidOptionError('the file maps its blocks the ext2/3 way (no extents), which the image reader does not read; restore the partition and mount it')
  }

  /** The file's bytes, `size` of them, in pieces of up to `piece` bytes, holes as zeros. */
  private async * data (ino: Inode, piece = 1 << 20): AsyncGenerator<Buffer> {
    const runs = (await this.blockMap(ino)).sort((a, b) => a.logical - b.logical)
    const bs = this.blockSize
    let at = 0
    for (const r of runs) {
      const start = r.logical * bs
      if (start >= ino.size) break
      for (; at < start; at += Math.min(piece, start - at)) yield Buffer.alloc(Math.min(piece, start - at))
      const end = Math.min(ino.size, (r.logical + r.count) * bs)
      for (; at < end;) {
        const n = Math.min(piece, end - at)
        yield r.physical === 0 ? Buffer.alloc(n) : await this.readAt(r.physical * bs + (at - start), n)
        at += n
      }
    }
    for (; at < ino.size; at += Math.min(piece, ino.size - at)) yield Buffer.alloc(Math.min(piece, ino.size - at))
  }

  private async whole (ino: Inode): Promise<Buffer> {
    const parts: Buffer[] = []
    for await (const p of this.data(ino)) parts.push(p)
    return Buffer.concat(parts)
  }

  private async entriesOf (n: number, dirIno: Inode): Promise<Ext4Entry[]> {
    if ((dirIno.flags & ENCRYPT_FL) !== 0) throw new InvalidOptionError('the folder is encrypted (fscrypt)')
    const bytes = await this.whole(dirIno)
    const out: Ext4Entry[] = []
    for (let at = 0; at + 8 <= bytes.length;) {
      const inode = bytes.readUInt32LE(at)
      const recLen = bytes.readUInt16LE(at + 4)
      const nameLen = bytes[at + 6]
      if (recLen < 8) throw new StoreCorruptError(`a bad entry in the ext4 folder of inode ${n}`)
      const name = bytes.subarray(at + 8, at + 8 + nameLen).toString('utf8')
      if (inode !== 0 && name !== '.' && name !== '..') {
        const ino = await this.inode(inode)
        out.push({ name, inode, kind: kindOf(ino.mode), mode: ino.mode & 0o7777, uid: ino.uid, gid: ino.gid, size: ino.size, mtimeSec: ino.mtimeSec })
      }
      at += recLen
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }

  /** The inode at `path` (absolute, `/` the root). */
  async lookup (path: string): Promise<Ext4Entry> {
    let entry: Ext4Entry = { name: '/', inode: ROOT_INODE, kind: 'dir', mode: 0, uid: 0, gid: 0, size: 0, mtimeSec: 0 }
    const root = await this.inode(ROOT_INODE)
    Object.assign(entry, { mode: root.mode & 0o7777, uid: root.uid, gid: root.gid, size: root.size, mtimeSec: root.mtimeSec })
    for (const part of path.split('/').filter(p => p !== '' && p !== '.')) {
      if (entry.kind !== 'dir') throw new PathNotFoundError(path, 'in the partition image (a part of it is not a folder)')
      const next = (await this.entriesOf(entry.inode, await this.inode(entry.inode))).find(e => e.name === part)
      if (next === undefined) throw new PathNotFoundError(path, 'in the partition image')
      entry = next
    }
    return entry
  }

  /** The entries of the folder at `path`. */
  async list (path: string): Promise<Ext4Entry[]> {
    const e = await this.lookup(path)
    if (e.kind !== 'dir') return [e]
    return await this.entriesOf(e.inode, await this.inode(e.inode))
  }

  /** The bytes of the regular file with inode `n`, in pieces. */
  async * read (n: number): AsyncGenerator<Buffer> {
    yield * this.data(await this.inode(n))
  }

  /** The target of the symlink with inode `n` (a fast symlink keeps it in the inode). */
  async readlink (n: number): Promise<Buffer> {
    const ino = await this.inode(n)
    if (ino.size < 60 && (ino.flags & (EXTENTS_FL | INLINE_DATA_FL)) === 0) return Buffer.from(ino.blocks.subarray(0, ino.size))
    return await this.whole(ino)
  }
}
